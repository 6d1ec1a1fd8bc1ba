"""``MODEL_CARD.md`` of an export: what the model is, what it was trained and scored on, how well, and its limits."""

from __future__ import annotations

from typing import Any


def model_card(ref: str, family: Any, lineage: dict[str, Any], facts: dict[str, Any]) -> str:
    validation = str(lineage.get("data_validation") or "not recorded")
    synthetic = "source synthetic" in validation
    m = lineage.get("metrics") or {}
    regions = [r for r in ("wt", "tc", "et", "rc", "gtv") if f"dice_{r}" in m]
    lines = []
    if synthetic:
        lines += ["**Trained on the platform's synthetic data (the embedded default): it is not a model of real brain "
                  "tumours and must not be used on patients or reported as a result.**", ""]
    lines += [f"# Model card: {ref}", "",
              f"- **Family**: {family.title} ({family.key}) — {family.description}",
              f"- **Registered as**: `{lineage.get('model_uri')}` (aliases: {', '.join(lineage.get('aliases') or []) or 'none'})",
              f"- **Export**: {facts.get('format')}" + (f" (`{facts['file']}`)" if facts.get("file") else ""),
              f"- **Training data**: {validation}; data hash `{lineage.get('data_hash')}`",
              f"- **Code**: git commit `{lineage.get('git_commit')}`; training run `{lineage.get('train_run')}`", "",
              "## Held-out metrics", "",
              f"Scored with the official BraTS rule **{lineage.get('metric_profile') or 'not recorded'}** on the held-out cases "
              "of the platform's split (per-case values and intervals: the evaluation run's `evaluation/cases.csv`; "
              "`brats-mlops compare` adds bootstrap intervals).", ""]
    if regions:
        lines += ["| region | Dice | HD95 (mm) |", "|---|---|---|"]
        lines += [f"| {r.upper()} | {m[f'dice_{r}']:.3f} | {m.get(f'hd95_{r}', float('nan')):.1f} |" for r in regions]
        lines += [f"| mean (D_BraTS) | {m.get('dice_brats', float('nan')):.3f} | |", ""]
    else:
        lines += ["No metrics recorded on the version.", ""]
    if "max_abs_logit_diff" in facts:
        lines += ["## Export check", "",
                  f"On case {facts.get('checked_on')}: largest absolute logit difference to PyTorch "
                  f"{facts['max_abs_logit_diff']:.2g}; labels identical: {facts['labels_identical']} "
                  f"({facts['voxels_differing']} of {facts['voxels']} voxels differ).", ""]
    lines += ["## Intended use and limits", "",
              "Research on brain-tumour segmentation of multimodal MRI in the BraTS format (skull-stripped, co-registered, "
              "1 mm isotropic); not a medical device. Inputs outside that format, other scanners or protocols than the "
              "training data, and other tumour types than the training edition's are out of scope. The metrics above hold "
              "for the held-out cases of the training cohort only.", ""]
    return "\n".join(lines)
