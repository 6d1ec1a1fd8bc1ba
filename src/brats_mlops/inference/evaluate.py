"""Scoring a trained segmentation network on held-out cases in their original geometry (the
``evaluate_segmentation`` stage): full-volume inference, official BraTS 2023 metrics before and after
post-processing, and the summary written to ``metrics/segmentation.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch

from brats_mlops.data.case import Case, scheme_of
from brats_mlops.data.io import load_case_images, load_image
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.families import family_of
from brats_mlops.metrics import case_metrics, postprocess
from brats_mlops.metrics.profiles import get_profile
from brats_mlops.utils.progress import progress

SUMMARY_KEYS = ["dice_wt", "dice_tc", "dice_et", "dice_brats", "iou_wt", "iou_tc", "iou_et", "hd95_wt", "hd95_tc", "hd95_et",
                "sensitivity_wt", "sensitivity_tc", "sensitivity_et", "specificity_wt", "specificity_tc", "specificity_et",
                "lesion_dice_wt", "lesion_dice_tc", "lesion_dice_et", "lesion_hd95_wt", "lesion_hd95_tc", "lesion_hd95_et",
                "dice_ncr", "dice_ed",
                "lesion_num_tp_wt", "lesion_num_fn_wt", "lesion_num_fp_wt", "lesion_num_tp_tc", "lesion_num_fn_tc", "lesion_num_fp_tc",
                "lesion_num_tp_et", "lesion_num_fn_et", "lesion_num_fp_et"]
CLASS_KEYS = [f"{m}_c{k}" for m in ("dice", "iou") for k in range(5)] + ["pixel_accuracy"]  # seed 004's figures (c4: RC)
# what a registered segmentation version carries and what ablations compare (glioma; key_metrics: any edition)
KEY_METRICS = ("dice_wt", "dice_tc", "dice_et", "dice_brats", "hd95_wt", "hd95_tc", "hd95_et")
REGION_ORDER = ("wt", "tc", "et", "rc", "gtv")


def scored_regions(metrics: dict[str, Any]) -> list[str]:
    """The regions a metrics row or summary holds a Dice for (WT/TC/ET; + RC for 2024/2025 GLI; GTV for MEN-RT)."""
    return [r for r in REGION_ORDER if f"dice_{r}" in metrics]


def key_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """What a registered version carries and ablations compare: Dice of each scored region, ``dice_brats``, and
    HD95 of each region (:data:`KEY_METRICS` for the glioma regions)."""
    regions = scored_regions(summary)
    keys = [f"dice_{r}" for r in regions] + ["dice_brats"] + [f"hd95_{r}" for r in regions if f"hd95_{r}" in summary]
    return {k: summary[k] for k in keys}


def headline(metrics: dict[str, Any]) -> str:
    """``Dice WT 0.812 TC 0.701 ET 0.655`` over the scored regions (a figure title, a log line)."""
    return "Dice " + " ".join(f"{r.upper()} {metrics[f'dice_{r}']:.3f}" for r in scored_regions(metrics))


def load_evaluated(checkpoint_dir: Path, ensemble: str = "none") -> tuple[list[torch.nn.Module], dict[str, Any], list[Path]]:
    """The networks to evaluate — ``best.pt``, or with ``ensemble="folds"`` every fold's ``best.pt`` of a k-fold
    training (``segmentation.folds``) — with the first one's checkpoint and the checkpoint files."""
    from brats_mlops.errors import StageError
    from brats_mlops.models.checkpoint import fold_dirs, load_segmentation

    paths = [Path(checkpoint_dir) / "best.pt"]
    if ensemble == "folds":
        paths = [d / "best.pt" for d in fold_dirs(checkpoint_dir)]
        if len(paths) < 2:
            raise StageError(f"evaluate.ensemble: folds needs the folds of a k-fold training in {checkpoint_dir}/fold_<i>/ "
                             f"(found {len(paths)}): set segmentation.folds to k > 1 and run train_segmentation")
    loaded = [load_segmentation(p) for p in paths]
    return [m for m, _ in loaded], loaded[0][1], paths


def held_out(split: dict[str, list[str]], max_cases: int | None = None) -> tuple[list[str], str]:
    """The cases to score and what they are: the test cases (never seen by training or checkpoint selection),
    or the validation cases when the split has no test part (``split.test_fraction: 0``)."""
    key = "test" if split.get("test") else "val"
    return split[key][:max_cases], ("test" if key == "test" else "validation")


@dataclass
class CaseResult:
    case_id: str
    images: np.ndarray  # (C, H, W, D) in the model's modality order
    pred: np.ndarray  # internal labels
    gt: np.ndarray
    row: dict[str, Any]  # case_id, metrics, and the same metrics after post-processing (``<key>_post``)


def class_scores(pred: np.ndarray, gt: np.ndarray, num_classes: int = 4) -> dict[str, float]:
    """Seed 004's figures over the whole volume: Dice and IoU per label *including background* (``dice_c0`` … ``iou_c3``;
    1 when a label is absent from both) and the share of voxels labelled right (``pixel_accuracy``)."""
    out: dict[str, float] = {}
    for k in range(num_classes):
        p, g = pred == k, gt == k
        inter, ps, gs = np.count_nonzero(p & g), np.count_nonzero(p), np.count_nonzero(g)
        out[f"dice_c{k}"] = 1.0 if ps + gs == 0 else 2 * inter / (ps + gs)
        out[f"iou_c{k}"] = 1.0 if ps + gs == 0 else inter / (ps + gs - inter)
    out["pixel_accuracy"] = float(np.mean(pred == gt))
    return out


def score_cases(predict: Callable[[np.ndarray, tuple[float, ...]], np.ndarray], modalities: list[str] | tuple[str, ...],
                cases: dict[str, Case], ids: list[str], postprocess_min_voxels: int, with_class_scores: bool = False,
                profile: str | None = None) -> Iterator[CaseResult]:
    """Predict (``predict(images, spacing)`` → internal labels) and score each case of ``ids`` in its own geometry:
    official metrics (``profile``: metrics/profiles.py, default 2023-GLI) before and after post-processing, and seed
    004's per-class figures when ``with_class_scores``. Any segmentation model is scored by this one function (the
    platform's 3-D and 2-D networks, nnU-Net)."""
    for cid in progress(ids, desc="evaluate"):
        case = cases[cid]
        images, _, spacing = load_case_images(case, modalities)
        gt = remap_labels(load_image(case.seg, dtype=None)[0], case.label_map)
        pred = predict(images, spacing)
        scheme = scheme_of(case.source)
        row = {"case_id": cid, **case_metrics(pred, gt, spacing, profile=profile)}
        if with_class_scores:
            row.update(class_scores(pred, gt, scheme.num_labels))
        post = postprocess(pred, postprocess_min_voxels, scheme=scheme.name)
        row.update({f"{k}_post": v for k, v in case_metrics(post, gt, spacing, profile=profile).items()})
        yield CaseResult(cid, images, pred, gt, row)


def evaluate_cases(model: torch.nn.Module | list[torch.nn.Module], mc: dict[str, Any], cases: dict[str, Case], ids: list[str],
                   postprocess_min_voxels: int, tta: str = "none", profile: str | None = None) -> Iterator[CaseResult]:
    """:func:`score_cases` for a platform network, or an ensemble of them (a list: the folds of a k-fold training),
    as its family predicts (``tta`` where the family supports it; seed 004's per-class Dice/IoU with background and
    pixel accuracy, :func:`class_scores`, where the family reports them: the 2-D slice models)."""
    fam = family_of(mc)
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    tta = tta if fam.supports_tta else "none"
    return score_cases(lambda images, _spacing: fam.predict_labels(models, images, mc, tta=tta),
                       mc["modalities"], cases, ids, postprocess_min_voxels, with_class_scores=fam.class_scores, profile=profile)


def summarise(df: pd.DataFrame, evaluated_on: str, best_epoch: int, profile: str | None = None,
              edition: str | None = None) -> dict[str, Any]:
    """Mean of every metric (and after post-processing), the spread of the Dice scores, and provenance (which cases,
    which checkpoint, which official metric profile, which dataset edition)."""
    prof = get_profile(profile)
    keys = SUMMARY_KEYS if prof.rule == "2023" else [  # other rules: their own keys (NaN-skipping means, as official)
        k for k in df.columns if k != "case_id" and not k.endswith("_post") and k not in CLASS_KEYS]
    summary: dict[str, Any] = {k: float(df[k].mean()) for k in keys}
    summary.update({f"{k}_post": float(df[f"{k}_post"].mean()) for k in keys})
    summary.update({k: float(df[k].mean()) for k in CLASS_KEYS if k in df})  # the scheme's labels only
    spread = [f"dice_{r}" for r in scored_regions(summary)] + ["dice_brats"]
    summary.update({f"{k}_std": float(df[k].std(ddof=1)) if len(df) > 1 else 0.0 for k in spread if k in df})
    summary["n_cases"] = len(df)
    summary["evaluated_on"] = evaluated_on
    summary["best_epoch"] = int(best_epoch)
    summary["profile"] = prof.name
    if edition:
        summary["edition"] = edition
    return summary
