"""A registered version's description in the MLflow registry: its model card (what it is, on which data, how good, with
which gates). Written when the version is registered (``common.register``) and its promotion section rewritten when
``brats-mlops promote`` checks the gates (``promotion.promote``)."""

from __future__ import annotations

import math
from typing import Any

from brats_mlops.names import (TAG_ABLATION_GROUP, TAG_DATA_HASH, TAG_DATA_VALIDATION, TAG_GIT_COMMIT, TAG_METRIC_PROFILE,
                               TAG_PREFIX, TAG_TRAIN_RUN)

PROMOTION = "## Promotion gates"
WHAT = {  # models that are not a segmentation family (those describe themselves: families/)
    "brats-autoencoder": "AutoencoderKL (MONAI generative) on the preprocessed volumes; its latents feed the survival model",
    "brats-survival": "survival classifier (short vs long survivors, 370 days) on imaging features and age (Appendix A)",
    "brats-survival-2d": "2-D survival-bin classifier of seed 004 on slices",
}


def _what(name: str) -> str:
    from brats_mlops.families import family_by_model

    fam = family_by_model(name)
    return f"{fam.title} ({fam.key}): {fam.description}" if fam is not None else WHAT.get(name, "a model of the BraTS pipeline")


def _interval(key: str, value: float, run_metrics: dict[str, float]) -> str:
    lo, hi = run_metrics.get(f"{key}_lo"), run_metrics.get(f"{key}_hi")
    if lo is not None and hi is not None:
        return f"[{lo:.4g}, {hi:.4g}]"
    sd, n = run_metrics.get(f"{key}_std"), run_metrics.get("n_cases")
    if sd is not None and n and n > 1 and math.isfinite(sd):
        half = 1.96 * sd / math.sqrt(n)
        return f"[{value - half:.4g}, {value + half:.4g}] (normal approx.)"
    return "—"


def version_card(name: str, version: str, metrics: dict[str, float], tags: dict[str, Any],
                 run_metrics: dict[str, float] | None = None, run_tags: dict[str, str] | None = None) -> str:
    """Markdown: the version's family, data (validation verdict and DVC hash), metrics with intervals and the cases and
    scoring rule they were computed on (from the run that registered it), lineage, and the promotion gates (not yet run)."""
    run_metrics, run_tags = run_metrics or {}, run_tags or {}
    dv = str(tags.get(TAG_DATA_VALIDATION, "not recorded"))
    lines = []
    if "source synthetic" in dv:
        lines += ["> Trained on the platform's **synthetic** data (the embedded default): not a model of real tumours.", ""]
    lines += [f"**{name} v{version}** — {_what(name)}.", "",
              f"- **Data**: {dv}; DVC hash of the data `{tags.get(TAG_DATA_HASH, 'not recorded')}`",
              f"- **Code**: git commit `{str(tags.get(TAG_GIT_COMMIT, 'unknown'))[:12]}`; training run "
              f"`{tags.get(TAG_TRAIN_RUN, '?')}`; ablation group `{tags.get(TAG_ABLATION_GROUP, 'default')}`"]
    parent = tags.get(f"{TAG_PREFIX}parent_model")
    if parent:
        lines += [f"- **Parent model**: `models:/{parent}/{tags.get(f'{TAG_PREFIX}parent_version')}` (fine-tuned from it)"]
    elif tags.get(f"{TAG_PREFIX}parent_checkpoint"):
        lines += [f"- **Parent model**: checkpoint `{tags[f'{TAG_PREFIX}parent_checkpoint']}`"]
    else:
        lines += ["- **Parent model**: none (trained from scratch)"]
    lines += ["", "## Metrics", ""]
    n = run_metrics.get("n_cases")
    profile = run_tags.get(TAG_METRIC_PROFILE)
    if n or profile:
        lines += [f"On {int(n) if n else 'the'} held-out cases" + (f", official BraTS rule **{profile}**" if profile else "")
                  + " (per-case values: the registering run's artifacts).", ""]
    if metrics:
        lines += ["| metric | value | 95% interval |", "|---|---|---|"]
        lines += [f"| `{k}` | {v:.4g} | {_interval(k, v, run_metrics)} |" for k, v in metrics.items()]
    else:
        lines += ["No metrics recorded."]
    lines += ["", PROMOTION, "", "Not checked yet: `brats-mlops promote " + name + f" {version}` runs them (metrics "
              "recorded, better than the champion, data validated, loads and predicts a sample case)."]
    return "\n".join(lines)


def with_promotion(card: str, action: str, passed: list[str], failed: list[str], when: str) -> str:
    """``card`` with its promotion section replaced by the outcome of a ``promote`` (passed and failed gates)."""
    head = card.split(PROMOTION)[0].rstrip()
    lines = [head, "", PROMOTION, "", f"**{action}** ({when})", ""]
    lines += [f"- passed — {g}" for g in passed] + [f"- **failed** — {g}" for g in failed]
    return "\n".join(lines)
