"""BraTS metrics on label volumes in the internal convention (0 bg, 1 NCR, 2 ED, 3 ET).

Legacy conventions (BraTS ≤ 2021 evaluation): for each region WT/TC/ET, if prediction and ground truth are
both empty, Dice = IoU = 1 and HD95 = 0; if exactly one is empty, Dice = IoU = 0 and HD95 = 373.13 (the
diagonal of the 240×240×155 volume). Sensitivity is 1 when the ground truth is empty and nothing is
predicted (0 when something is); specificity is computed over the whole volume.

Lesion-wise conventions (BraTS 2023): lesions are 26-connected components (cc3d); components whose 3-voxel
dilations touch form one lesion; ground-truth lesions of ≤ 50 voxels are ignored; each ground-truth lesion
is scored against the predicted components that touch its dilation; predicted components that touch no
lesion are false positives with Dice 0 and HD95 374; the score is the sum over lesions divided by the
number of lesions plus false positives (no lesion and no prediction: Dice 1, HD95 0).
"""

from __future__ import annotations

import cc3d
import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance
from scipy import ndimage

from brats_mlops.data.case import REGIONS

HD95_ONE_EMPTY = 373.13
LESION_HD95_MISS = 374.0
_STRUCT = ndimage.generate_binary_structure(3, 3)  # 26-connectivity


def region_masks(labels: np.ndarray) -> dict[str, np.ndarray]:
    return {r: np.isin(labels, v) for r, v in REGIONS.items()}


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> float:
    """Symmetric 95th-percentile Hausdorff distance (mm) between two non-empty masks (MONAI)."""
    p = torch.from_numpy(pred[None, None].astype(np.uint8))
    g = torch.from_numpy(gt[None, None].astype(np.uint8))
    return float(compute_hausdorff_distance(p, g, include_background=True, percentile=95, spacing=list(spacing))[0, 0])


def region_metrics(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> dict[str, float]:
    """Dice, IoU, HD95, sensitivity, specificity of two boolean masks with the legacy conventions."""
    p, g = pred.astype(bool), gt.astype(bool)
    tp = float(np.count_nonzero(p & g))
    fp = float(np.count_nonzero(p & ~g))
    fn = float(np.count_nonzero(~p & g))
    tn = float(p.size) - tp - fp - fn
    ps, gs = tp + fp, tp + fn
    if ps == 0 and gs == 0:
        return {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "sensitivity": 1.0, "specificity": 1.0}
    spec = tn / (tn + fp) if tn + fp else 1.0
    if ps == 0 or gs == 0:
        return {"dice": 0.0, "iou": 0.0, "hd95": HD95_ONE_EMPTY, "sensitivity": 0.0, "specificity": spec}
    return {
        "dice": 2 * tp / (ps + gs),
        "iou": tp / (tp + fp + fn),
        "hd95": hd95(p, g, spacing),
        "sensitivity": tp / gs,
        "specificity": spec,
    }


def lesion_wise(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
                dilation: int = 3, min_lesion_voxels: int = 50) -> dict[str, float]:
    """Lesion-wise Dice and HD95 of two boolean masks (BraTS 2023 conventions; see module docstring)."""
    p, g = pred.astype(bool), gt.astype(bool)
    pred_cc = cc3d.connected_components(p.astype(np.uint8), connectivity=26)
    gt_dil = ndimage.binary_dilation(g, structure=_STRUCT, iterations=dilation)
    gt_dil_cc = cc3d.connected_components(gt_dil.astype(np.uint8), connectivity=26)
    lesions = gt_dil_cc * g  # lesions merged through their dilations
    ids = [i for i in np.unique(lesions) if i != 0]
    small = [i for i in ids if np.count_nonzero(lesions == i) <= min_lesion_voxels]
    ids = [i for i in ids if i not in small]
    matched: set[int] = set()
    dices, hds = [], []
    for i in ids:
        les = lesions == i
        les_dil = ndimage.binary_dilation(les, structure=_STRUCT, iterations=dilation)
        hit = [j for j in np.unique(pred_cc[les_dil]) if j != 0]
        matched.update(hit)
        pr = np.isin(pred_cc, hit) if hit else np.zeros_like(p)
        tp = np.count_nonzero(pr & les)
        dices.append(2.0 * tp / (np.count_nonzero(pr) + np.count_nonzero(les)))
        hds.append(hd95(pr, les, spacing) if hit else LESION_HD95_MISS)
    # predicted components touching an ignored small lesion are neither matched nor false positives
    ignored = set()
    for i in small:
        les_dil = ndimage.binary_dilation(lesions == i, structure=_STRUCT, iterations=dilation)
        ignored.update(j for j in np.unique(pred_cc[les_dil]) if j != 0)
    fps = [j for j in np.unique(pred_cc) if j != 0 and j not in matched and j not in ignored]
    n = len(ids) + len(fps)
    if n == 0:
        return {"lesion_dice": 1.0, "lesion_hd95": 0.0, "n_lesions": 0, "n_fp": 0}
    return {
        "lesion_dice": float(sum(dices)) / n,
        "lesion_hd95": float(sum(hds) + LESION_HD95_MISS * len(fps)) / n,
        "n_lesions": len(ids),
        "n_fp": len(fps),
    }


def case_metrics(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0), lesion: bool = True) -> dict[str, float]:
    """Flat per-case metrics: ``dice_wt``, ``iou_tc``, ``hd95_et``, ``lesion_dice_wt``, ..., ``dice_brats``."""
    out: dict[str, float] = {}
    pm, gm = region_masks(pred), region_masks(gt)
    for r in ("wt", "tc", "et"):
        for k, v in region_metrics(pm[r], gm[r], spacing).items():
            out[f"{k}_{r}"] = v
        if lesion:
            lw = lesion_wise(pm[r], gm[r], spacing)
            out[f"lesion_dice_{r}"] = lw["lesion_dice"]
            out[f"lesion_hd95_{r}"] = lw["lesion_hd95"]
    out["dice_brats"] = (out["dice_wt"] + out["dice_tc"] + out["dice_et"]) / 3.0
    return out


def _remove_small(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    if min_voxels <= 0 or not mask.any():
        return mask
    return cc3d.dust(mask.astype(np.uint8), threshold=min_voxels + 1, connectivity=26).astype(bool)


def postprocess(labels: np.ndarray, min_voxels: int = 50, fill_holes: bool = True) -> np.ndarray:
    """Seed 003's post-processing on internal labels: remove ET components of ≤ ``min_voxels`` voxels,
    turn holes they leave inside the tumour core into NCR, then remove small TC and WT components."""
    out = labels.copy()
    et = out == 3
    et_kept = _remove_small(et, min_voxels)
    out[et & ~et_kept] = 0
    if fill_holes:
        tc = np.isin(out, (1, 3))
        holes = ndimage.binary_fill_holes(tc) & ~tc
        out[holes & (labels == 3)] = 1
    tc = np.isin(out, (1, 3))
    out[tc & ~_remove_small(tc, min_voxels)] = 0
    wt = out > 0
    out[wt & ~_remove_small(wt, min_voxels)] = 0
    return out
