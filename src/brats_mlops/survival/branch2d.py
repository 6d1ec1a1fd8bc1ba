"""The ``survival_2d`` stage's work: seed 001's ResNet50 survival bins, trained on ground-truth masks and scored on
ground-truth masks and on the 2-D segmentation model's predicted masks (the combined pipeline), plus the
slice-level-split ablation that measures seed 001's leak. See :mod:`brats_mlops.survival.slices2d`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brats_mlops.config.schema import Params
from brats_mlops.data.preprocessing import Plans, load_labels, load_preprocessed
from brats_mlops.data.slices import normalise_volume
from brats_mlops.data.splits import read_split
from brats_mlops.families import family_of
from brats_mlops.inference.slices import predict_slices
from brats_mlops.models.checkpoint import load_segmentation
from brats_mlops.training.survival2d import Survival2DTrainer
from brats_mlops.survival.slices2d import (Cohort, build_cohort, predict_rows, slice_level_split,
                                           slice_table)
from brats_mlops.survival.slices2d_eval import roc_and_confusion_figure, score
from brats_mlops.training.loop import Tracker
from brats_mlops.utils.progress import progress

log = logging.getLogger(__name__)


def ground_truth_masks(preprocessed_dir: Path, ids: list[str]) -> dict[str, np.ndarray]:
    return {cid: load_labels(preprocessed_dir, cid) for cid in ids}


def predicted_masks(seg_checkpoint: Path, preprocessed_dir: Path, ids: list[str]) -> dict[str, np.ndarray]:
    """The 2-D segmentation model's label volumes (preprocessed crop geometry) of ``ids``."""
    model, ck = load_segmentation(seg_checkpoint)
    mc = ck["model_config"]
    family = family_of(mc)
    if family.spatial_dims != 2:
        raise ValueError(f"{seg_checkpoint} is not a 2-D slice model (family {family.key!r})")
    out = {}
    for cid in progress(ids, desc="segment (2-D)"):
        img, _ = load_preprocessed(preprocessed_dir, cid)
        pred = predict_slices(model, normalise_volume(img, mc.get("normalisation", "zscore")), mc)
        out[cid] = np.stack([pred[z] for z in range(img.shape[-1])], -1)
    return out


@dataclass
class Survival2DResult:
    metrics: dict[str, Any]
    figures: list[Path] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    cohort: Cohort | None = None
    trainer: Survival2DTrainer | None = None


def _with_masks(rows: pd.DataFrame, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """``rows`` with ``nonempty`` judged on ``masks`` (the masks the model is given)."""
    ne = [bool(np.asarray(masks[c][..., z]).any()) for c, z in zip(rows.case_id, rows.z)]
    return rows.assign(nonempty=ne)


def run_survival_2d(params: Params, trackers: dict[str, Tracker | None], reports_dir: Path) -> Survival2DResult:
    """Train and score the patient-split model (and the slice-split ablation when enabled); ``trackers`` by
    ``"patient"``/``"slice"``. Returns ``metrics`` with ``status: skipped`` and the reason when the data cannot support it."""
    cfg, p = params.survival2d, params.paths
    plans = Plans.load(p.preprocessed_dir)
    split = read_split(p.segmentation_split)
    cohort, reason = build_cohort(Path(p.validation_dir) / "clinical.csv", plans.labelled_ids(), split, cfg, params.seed)
    if cohort is None:
        return Survival2DResult({"status": "skipped", "reason": reason})
    ids = cohort.table.case_id.tolist()
    gt = ground_truth_masks(Path(p.preprocessed_dir), ids)
    rows = slice_table(gt, cohort.table, cfg.slice_stride)
    test_ids = cohort.table.case_id[cohort.table.subset == "test"].tolist()
    pred = predicted_masks(p.slices2d_checkpoints / "best.pt", Path(p.preprocessed_dir), test_ids)
    n = cohort.table.subset.value_counts().to_dict()
    metrics: dict[str, Any] = {"status": "ok", "n_bins": cfg.n_bins, "edges_days": cohort.edges,
                               "patients": {k: int(n.get(k, 0)) for k in ("train", "val", "test")},
                               "excluded": len(cohort.excluded)}
    figures, preds = [], []
    trainer = Survival2DTrainer(cfg, rows, gt, cohort, p.survival2d_checkpoints / "patient_split", params.seed)
    trainer.fit(trackers.get("patient"))
    model = _best(trainer)
    test = rows[rows.subset == "test"]
    for masks_name, masks in (("predicted_masks", pred), ("gt_masks", gt)):
        r = _with_masks(test, masks)
        probs = predict_rows(model, r, masks, cfg.size, cohort.age_range)
        metrics[masks_name] = score(r, probs, cfg.n_bins, cfg.n_boot, params.seed)
        figures.append(roc_and_confusion_figure(r, probs, cfg.n_bins, cohort.edges, reports_dir / f"survival_2d_{masks_name}.png",
                                                f"ResNet50 survival bins, patient split, {masks_name.replace('_', ' ')}"))
        preds.append(r.assign(masks=masks_name, split="patient", pred_bin=probs.argmax(1), **{f"p{b}": probs[:, b] for b in range(cfg.n_bins)}))
    metrics.update({k: metrics["predicted_masks"][k] for k in metrics["predicted_masks"] if not k.startswith("n_")})
    if cfg.leakage_ablation:
        leaky = slice_level_split(rows, params.seed)
        t2 = Survival2DTrainer(cfg, leaky, gt, cohort, p.survival2d_checkpoints / "slice_split", params.seed, "slice")
        t2.fit(trackers.get("slice"))
        r = leaky[leaky.subset == "test"]
        probs = predict_rows(_best(t2), r, gt, cfg.size, cohort.age_range)
        metrics["slice_split_gt_masks"] = score(r, probs, cfg.n_bins, cfg.n_boot, params.seed)
        metrics["slice_split_patients_shared"] = int(len(set(r.case_id) & set(leaky.case_id[leaky.subset == "train"])))
        figures.append(roc_and_confusion_figure(r, probs, cfg.n_bins, cohort.edges, reports_dir / "survival_2d_slice_split.png",
                                                "ResNet50 survival bins, seed 001's slice-level split (leaky), GT masks"))
        preds.append(r.assign(masks="gt_masks", split="slice", pred_bin=probs.argmax(1), **{f"p{b}": probs[:, b] for b in range(cfg.n_bins)}))
    return Survival2DResult(metrics, figures, pd.concat(preds, ignore_index=True), cohort, trainer)


def _best(trainer: Survival2DTrainer):
    """The trainer's network with its best checkpoint's weights, in eval mode."""
    from brats_mlops.models.checkpoint import load_checkpoint

    trainer.model.load_state_dict(load_checkpoint(trainer.ckdir / "best.pt")["model"])
    return trainer.model.eval()
