"""What the MLflow UI shows beside the numbers: which DVC-versioned data a stage read (MLflow dataset inputs), what an
experiment and a run are (their descriptions, ``mlflow.note.content``), and links between the runs of one pipeline.

Only ``tracking`` calls this module (it is part of the tracking spine: mlflow is imported here and nowhere below).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

NOTE = "mlflow.note.content"   # MLflow's description of an experiment or a run (Markdown, shown on its page)

EXPERIMENT_NOTES = {
    "data": (
        "**Data stages of the BraTS pipeline** (`dvc.yaml`): `synthesize` (the embedded synthetic cohort), `validate` "
        "(Great Expectations: every case checked, bad ones quarantined with their reason), `preprocess` (crop, z-score, "
        "the autoencoder's inputs) and `split` (patient-level train/val/test). One run per stage per `dvc repro`; the "
        "**Dataset** column names the DVC-versioned input each run read, with its DVC hash as the digest. Compare runs by "
        "`validate`'s `quarantined` and `cases_seen`, or by dataset digest (e.g. `dataset.name = 'data/raw/synthetic'`)."),
    "segmentation": (
        "**Tumour segmentation** (whole tumour, tumour core, enhancing tumour): the 3-D networks of the reference method, "
        "the 2-D slice models of seeds 001/004 and nnU-Net v2, trained and scored on the same patient split. "
        "`train_*` runs hold the learning curves; `evaluate_*` runs hold the held-out scores with the edition's official "
        "BraTS rule (`dice_wt`, `dice_tc`, `dice_et`, `hd95_*`, the composite `dice_brats`) and register the model. "
        "The **family** tag says which system a run belongs to (3d, 2d, nnunet); `brats.ablation_group` groups an "
        "ablation. Compare families or ablations with `brats-mlops compare --group <group>`, or here: filter "
        "`tags.brats.family = '3d'` and chart `dice_brats`."),
    "autoencoder": (
        "**AutoencoderKL** (MONAI generative) trained on the preprocessed FLAIR/T1ce volumes; `extract_latents` writes "
        "the per-case latents the survival classifiers read. Compare runs by `val_l1` (reconstruction) and the "
        "reconstructions figure."),
    "survival": (
        "**Survival classification** (short vs long survivors, 370 days; Appendix A grids) on tumour volumes, bottleneck "
        "PCA features, autoencoder latents and age, with repeated cross-validation, bootstrap intervals and a permutation "
        "test; time-to-event models (c-index) beside them. Nested runs hold one feature set each. Compare by "
        "`selected_macro_f1` and the Table 7 artifact."),
}

# the metrics a run description lists first (substring match, in this order); others follow alphabetically
KEY_FIGURES = ("dice_brats", "dice_wt", "dice_tc", "dice_et", "hd95_wt", "hd95_tc", "hd95_et", "macro_f1", "c_index",
               "val_l1", "val_dice_composite", "best_", "quarantined", "cases", "pc1_share")


def stage_context(stage: str) -> str:
    """The dataset context MLflow shows beside a dataset (``mlflow.data.context``): how the stage used its inputs."""
    if stage.startswith(("train", "tune")):
        return "training"
    if stage.startswith("evaluate"):
        return "evaluation"
    return stage


def log_datasets(stage: str, hashes: dict[str, str], root: Path, edition: str) -> None:
    """One MLflow dataset input per hashed dependency of the stage: name = its path in the project, digest = its DVC
    hash (``md5`` or ``md5.dir``, what dvc.lock records), source = the local path; tagged with the edition."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    if not hashes:
        return
    datasets, contexts, tags = [], [], []
    for path, digest in hashes.items():
        full = (root / path).resolve()
        name = full.relative_to(root.resolve()).as_posix() if full.is_relative_to(root.resolve()) else path
        with warnings.catch_warnings():   # "can be interpreted in multiple ways": two local sources are registered
            warnings.simplefilter("ignore")
            source = resolve_dataset_source(str(full))
        datasets.append(MetaDataset(source, name=name, digest=digest[:36]))
        contexts.append(stage_context(stage))
        tags.append({"brats.edition": edition, "dvc.path": path})
    mlflow.log_inputs(datasets=datasets, contexts=contexts, tags_list=tags)


def set_experiment_note(client: Any, exp_id: str, branch: str, current: str | None) -> None:
    note = EXPERIMENT_NOTES.get(branch)
    if note and current != note:
        client.set_experiment_tag(exp_id, NOTE, note)


def stage_summary() -> str:
    """The running stage's own one-paragraph description: its pipeline module's docstring (``python -m pipelines.x``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    doc = (getattr(main, "__doc__", None) or "") if spec is not None and str(spec.name).startswith("pipelines.") else ""
    return " ".join(doc.strip().split("\n\n")[0].split()) if doc.strip() else ""


def producers(root: Path) -> dict[str, str]:
    """``{output path: stage}`` from the dvc.lock files (resolved paths, relative to the project root).

    Read once per version of the lock files in a process (a stage asks when it starts and when it ends)."""
    locks = []
    for lock in ("dvc.lock", "slices/dvc.lock", "nnunet/dvc.lock", "tune/dvc.lock"):
        p = root / lock
        try:
            st = p.stat()
        except OSError:
            continue
        locks.append((str(p), st.st_mtime_ns, st.st_size))
    return dict(_producers(tuple(locks)))


@functools.lru_cache(maxsize=8)
def _producers(locks: tuple[tuple[str, int, int], ...]) -> tuple[tuple[str, str], ...]:
    import yaml

    from brats_mlops.utils.yamlio import read_yaml

    out: dict[str, str] = {}
    for path, _, _ in locks:
        try:
            stages = (read_yaml(path) or {}).get("stages", {})
        except (OSError, yaml.YAMLError):
            continue
        for stage, spec in stages.items():
            for o in spec.get("outs", []) or []:
                out[str(o.get("path", "")).rstrip("/")] = stage
    return tuple(out.items())


def upstream(deps: list[str], root: Path, stage: str) -> list[str]:
    """The stages whose DVC outputs this stage read (in the order of its deps)."""
    prod = producers(root)
    found: list[str] = []
    for d in deps:
        d = d.rstrip("/")
        for out, st in prod.items():
            if st != stage and st not in found and (d == out or d.startswith(out + "/") or out.startswith(d + "/")):
                found.append(st)
    return found


def _rank(key: str) -> tuple[int, int, str]:
    """Key figures first (exact names, then names containing them), the rest alphabetically."""
    for exact in (True, False):
        for i, p in enumerate(KEY_FIGURES):
            if key == p if exact else p in key:
                return (0 if exact else 1), i, key
    return 2, 0, key


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run_note(stage: str, metrics: dict[str, float], hashes: dict[str, str], sha: str, dirty: bool,
             links: dict[str, tuple[str, str]], extra: str = "") -> str:
    """The Markdown description of a finished stage run: what it did, its key figures, its data, code and neighbours."""
    summary = stage_summary().removeprefix(f"DVC stage `{stage}`:").strip()
    lines = [f"**DVC stage `{stage}`** — {summary or 'a stage of the BraTS pipeline.'}", ""]
    if extra:
        lines += [extra, ""]
    top = [k for k in metrics if "/" not in k and not k.startswith("fold") and not k.endswith(("_std", "_post", "_lo", "_hi"))]
    ranked = sorted(top, key=_rank)
    if ranked:
        lines += ["| key figure | value |", "|---|---|"] + [f"| `{k}` | {_fmt(metrics[k])} |" for k in ranked[:12]]
        if len(ranked) > 12:
            lines += ["", f"({len(ranked) - 12} more in the Metrics table.)"]
        lines += [""]
    if hashes:
        lines += ["Data (DVC-versioned; the **Datasets** section lists them): "
                  + ", ".join(f"`{p}` (`{h[:12]}`)" for p, h in hashes.items()), ""]
    lines += [f"Code: git commit `{sha[:12]}`{' with uncommitted changes to tracked files' if dirty else ''}; rebuild with "
              f"`dvc repro {stage}`."]
    if links:
        lines += ["", "Upstream runs: " + ", ".join(f"[{st}](#/experiments/{exp}/runs/{rid})" for st, (exp, rid) in links.items())]
    return "\n".join(lines)


def child_note(name: str, parent: Any) -> str:
    """A nested run's description: what it is part of."""
    pname = parent.info.run_name if parent is not None else "?"
    link = f"(#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id})" if parent is not None else ""
    return f"`{name}`: one part of the [`{pname}`]{link} stage run (see its description for what the stage does)."
