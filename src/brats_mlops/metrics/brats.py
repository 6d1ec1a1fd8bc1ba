"""BraTS metrics as the official BraTS 2023 evaluation computes them.

Reference: ``get_LesionWiseResults`` / ``get_lesion_wise_results`` in rachitsaluja/BraTS-2023-Metrics (the code
the challenge ran; challenge ``BraTS-GLI``). Every rule below is that code's; the known-value tests in
``tests/metrics/test_official_cases.py`` check them against numbers the official code produced.

Whole-volume ("legacy") metrics per region WT/TC/ET:
    Dice = 2|P∩G| / (|P| + |G|); both empty: Dice 1 and HD95 0; exactly one empty: Dice 0 and HD95 374.
    HD95 is the surface-distance HD95 of DeepMind's ``surface-distance`` (which the official code calls):
    surfaces are made of surface elements weighted by their area (the spacing's), the 95th percentile of each
    directed distance list is taken by cumulative area, and the larger of the two is reported. We compute the
    surfels and distances with MONAI (``get_edge_surface_distance(use_subvoxels=True)``, a port of the same
    lookup tables) and take the area-weighted percentile here.
    Sensitivity TP/(TP+FN), 1 when both are empty; specificity TN/(TN+FP) over the whole volume.

Lesion-wise metrics (BraTS 2023; the numbers below are challenge BraTS-GLI's, ``metrics/profiles.py`` holds the
other challenges' dilations and volume thresholds):
    GT lesions are 26-connected components (cc3d) of the region; components whose 3× dilations with the
    18-neighbourhood (``generate_binary_structure(3, 2)``) touch are merged into one lesion. Predicted lesions
    are 26-connected components. Each GT lesion is scored (Dice, HD95) against the union of the predicted
    components that touch its own 3× dilation; a GT lesion with no such component scores Dice 0 and HD95 374.
    GT lesions of ≤ 50 mm³ (physical volume: voxels × spacing) are left out of the score; predicted components
    that touch one are neither matched nor false positives. Every other predicted component is a false positive
    with Dice 0 and HD95 374; there is no size threshold on false positives. The score is the sum over the kept
    GT lesions (plus 374 per false positive for HD95) divided by (kept GT lesions + false positives); when that
    count is 0 (nothing to score): Dice 1, HD95 0.
"""

from __future__ import annotations

import warnings

import cc3d
import numpy as np
import torch
from scipy import ndimage

from brats_mlops.data.case import REGIONS
from brats_mlops.metrics.boxes import window
from brats_mlops.metrics.profiles import MetricProfile, get_profile

HD95_EMPTY = 374.0  # official value when exactly one of prediction / ground truth is empty
LESION_HD95_MISS = 374.0  # official value of a missed GT lesion and of a false-positive lesion
DILATION_ITERATIONS = 3  # BraTS-GLI / SSA / PED (MEN and MET use 1)
MIN_LESION_MM3 = 50.0  # BraTS-GLI: GT lesions of <= 50 mm^3 are left out
_DILATION = ndimage.generate_binary_structure(3, 2)  # the 18-neighbourhood, as the official code
PER_LABEL = {"ncr": 1, "ed": 2}  # per-label Dice beyond the regions (ET label == ET region); seed 000 §3.3.2


def region_masks(labels: np.ndarray, regions: dict[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """Boolean masks of ``regions`` (internal labels per region; default the glioma WT, TC, ET)."""
    return {r: np.isin(labels, v) for r, v in (regions or REGIONS).items()}


def _percentile_by_area(distances: np.ndarray, areas: np.ndarray, percent: float) -> float:
    order = np.argsort(distances, kind="stable")
    d, a = distances[order], areas[order]
    cum = np.cumsum(a) / np.sum(a)
    return float(d[min(int(np.searchsorted(cum, percent / 100.0)), len(d) - 1)])


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> float:
    """Surface-distance HD95 (mm) of two boolean masks, with the official empty conventions."""
    from monai.metrics.utils import get_edge_surface_distance

    p, g = np.asarray(pred, bool), np.asarray(gt, bool)
    if not p.any() and not g.any():
        return 0.0
    if not p.any() or not g.any():
        return HD95_EMPTY
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (e_p, e_g), (d_pg, d_gp), (a_p, a_g) = get_edge_surface_distance(
            torch.from_numpy(p), torch.from_numpy(g), spacing=[float(s) for s in spacing], use_subvoxels=True,
            symmetric=True, warn_empty=False)
    gp = _percentile_by_area(d_gp.numpy().astype(np.float64), a_g[e_g].numpy().astype(np.float64), 95)
    pg = _percentile_by_area(d_pg.numpy().astype(np.float64), a_p[e_p].numpy().astype(np.float64), 95)
    return max(gp, pg)


def region_metrics(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> dict[str, float]:
    """Whole-volume Dice, IoU, HD95, sensitivity, specificity of two boolean masks (official conventions)."""
    p, g = pred.astype(bool), gt.astype(bool)
    tp = float(np.count_nonzero(p & g))
    fp = float(np.count_nonzero(p & ~g))
    fn = float(np.count_nonzero(~p & g))
    tn = float(p.size) - tp - fp - fn
    ps, gs = tp + fp, tp + fn
    spec = tn / (tn + fp) if tn + fp else 1.0
    if ps == 0 and gs == 0:
        return {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "sensitivity": 1.0, "specificity": spec}
    return {
        "dice": 2 * tp / (ps + gs),
        "iou": tp / (tp + fp + fn),
        "hd95": hd95(p, g, spacing),
        "sensitivity": tp / gs if gs else 0.0,
        "specificity": spec,
    }


def lesion_wise(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
                dilation: int = DILATION_ITERATIONS, min_lesion_mm3: float = MIN_LESION_MM3) -> dict[str, float]:
    """Lesion-wise Dice and HD95 of two boolean masks (BraTS 2023; see the module docstring), with the lesion
    counts the official code reports: ``num_tp`` (kept GT lesions hit), ``num_fn`` (kept GT lesions missed),
    ``num_fp`` (predicted lesions touching no GT lesion)."""
    p, g = np.asarray(pred, bool), np.asarray(gt, bool)
    voxel_mm3 = float(np.prod(spacing))
    pred_cc = cc3d.connected_components(p.astype(np.uint8), connectivity=26)
    merged = cc3d.connected_components(ndimage.binary_dilation(g, structure=_DILATION, iterations=dilation).astype(np.uint8),
                                       connectivity=26)
    lesions = np.where(g, merged, 0)  # GT voxels labelled by the dilated component they fall in
    matched: set[int] = set()
    dices: list[float] = []
    hds: list[float] = []
    n_tp = n_fn = 0
    for i in range(1, int(lesions.max()) + 1):
        les = lesions == i
        if not les.any():
            continue
        win = window(les, dilation)
        les_dil = ndimage.binary_dilation(les[win], structure=_DILATION, iterations=dilation)
        hit = np.unique(pred_cc[win][les_dil])
        hit = hit[hit != 0]
        matched.update(int(h) for h in hit)
        if np.count_nonzero(les) * voxel_mm3 <= min_lesion_mm3:
            continue  # small GT lesion: out of the score (its hits are not false positives)
        pr = np.isin(pred_cc, hit) if len(hit) else np.zeros_like(p)
        dices.append(2.0 * np.count_nonzero(pr & les) / (np.count_nonzero(pr) + np.count_nonzero(les)))
        hds.append(hd95(pr, les, spacing) if len(hit) else LESION_HD95_MISS)
        n_tp += bool(len(hit))
        n_fn += not len(hit)
    n_fp = len([j for j in np.unique(pred_cc) if j != 0 and int(j) not in matched])
    n = len(dices) + n_fp
    if n == 0:
        return {"lesion_dice": 1.0, "lesion_hd95": 0.0, "num_tp": 0, "num_fn": 0, "num_fp": 0}
    return {
        "lesion_dice": float(sum(dices)) / n,
        "lesion_hd95": float(sum(hds) + LESION_HD95_MISS * n_fp) / n,
        "num_tp": n_tp,
        "num_fn": n_fn,
        "num_fp": n_fp,
    }


def label_dice(pred: np.ndarray, gt: np.ndarray) -> float:
    p, g = np.asarray(pred, bool), np.asarray(gt, bool)
    s = np.count_nonzero(p) + np.count_nonzero(g)
    return 1.0 if s == 0 else 2.0 * np.count_nonzero(p & g) / s


def region_dice(pred: np.ndarray, gt: np.ndarray, regions: dict[str, tuple[int, ...]] | None = None) -> dict[str, float]:
    """Whole-volume Dice per region (default ``wt``, ``tc``, ``et``) of two internal label volumes (1 when both are
    empty)."""
    pm, gm = region_masks(pred, regions), region_masks(gt, regions)
    return {r: label_dice(pm[r], gm[r]) for r in pm}


def case_metrics(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0), lesion: bool = True,
                 profile: str | MetricProfile | None = None) -> dict[str, float]:
    """Flat per-case metrics of two internal label volumes: ``dice_wt``, ``hd95_tc``, ``lesion_dice_et``,
    ``lesion_num_fp_wt``, per-label ``dice_ncr`` / ``dice_ed``, and ``dice_brats`` (mean region Dice). The lesion-wise
    ones follow ``profile``'s settings (``metrics/profiles.py``; default 2023-GLI); a 2025 profile scores with the
    2025 rule instead (``metrics/brats2025.py``: its keys, its label groups)."""
    prof = get_profile(profile)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground-truth shape {gt.shape}")
    if prof.rule != "2023":
        return _case_metrics_task(pred, gt, spacing, prof)
    out: dict[str, float] = {}
    pm, gm = region_masks(pred), region_masks(gt)
    for r in ("wt", "tc", "et"):
        for k, v in region_metrics(pm[r], gm[r], spacing).items():
            out[f"{k}_{r}"] = v
        if lesion:
            lw = lesion_wise(pm[r], gm[r], spacing, prof.dilation, prof.min_lesion_mm3)
            out[f"lesion_dice_{r}"] = lw["lesion_dice"]
            out[f"lesion_hd95_{r}"] = lw["lesion_hd95"]
            for k in ("num_tp", "num_fn", "num_fp"):
                out[f"lesion_{k}_{r}"] = lw[k]
    for name, lab in PER_LABEL.items():
        out[f"dice_{name}"] = label_dice(pred == lab, gt == lab)
    out["dice_brats"] = (out["dice_wt"] + out["dice_tc"] + out["dice_et"]) / 3.0
    return out


def _case_metrics_task(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], prof: MetricProfile) -> dict[str, float]:
    """Internal labels -> the profile's task labels (data/case.py), then the 2024 or 2025 rule (metrics/brats2024.py,
    metrics/brats2025.py): its keys, its regions or label groups."""
    from brats_mlops.data.case import LABEL_MAPS, internal_to_raw
    from brats_mlops.errors import UserError

    if prof.labels not in LABEL_MAPS:
        raise UserError(f"metric profile {prof.name} scores {prof.labels} labels, which have no internal counterpart; "
                        f"score such files with `brats-mlops evaluate --profile {prof.name}`")
    p, g = internal_to_raw(pred, prof.labels), internal_to_raw(gt, prof.labels)
    if prof.rule == "2024":
        from brats_mlops.metrics.brats2024 import case_metrics_2024
        return case_metrics_2024(p, g, spacing)
    from brats_mlops.metrics.brats2025 import case_metrics_2025
    return case_metrics_2025(p, g, spacing, prof.task)


def _remove_small(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    if min_voxels <= 0 or not mask.any():
        return mask
    return cc3d.dust(mask.astype(np.uint8), threshold=min_voxels + 1, connectivity=26).astype(bool)


def postprocess(labels: np.ndarray, min_voxels: int = 50, fill_holes: bool = True, scheme: str | None = None) -> np.ndarray:
    """Seed 003's post-processing on internal labels, in its order: remove dust (26-connected components of
    ≤ ``min_voxels`` voxels) from ET, then TC, then WT. With ``fill_holes``, a hole that removing ET dust opens inside
    the tumour core becomes necrosis (NCR), and a hole that removing TC dust opens inside the whole tumour becomes
    edema (ED) — a hole counts when it is made of removed voxels; dust that leaves no enclosed hole becomes background.
    A label scheme's other regions (``data/labels.py``: the resection cavity, MEN-RT's GTV) only lose their dust."""
    from brats_mlops.data.labels import get_scheme

    regions = get_scheme(scheme).regions
    glioma = all(r in regions for r in ("wt", "tc", "et"))
    out = _postprocess_glioma(np.where(np.isin(labels, (1, 2, 3)), labels, 0), min_voxels, fill_holes) if glioma \
        else np.zeros_like(labels)
    for r, labs in regions.items():
        if glioma and r in ("wt", "tc", "et"):
            continue
        keep = _remove_small(np.isin(labels, labs) & (out == 0), min_voxels)
        out[keep] = labels[keep]
    return out


def _postprocess_glioma(labels: np.ndarray, min_voxels: int, fill_holes: bool) -> np.ndarray:
    out, removed = labels.copy(), np.zeros(labels.shape, bool)
    for region, fill in (((3,), 1), ((1, 3), 2)):  # ET dust -> TC holes are NCR; TC dust -> WT holes are ED
        mask = np.isin(out, region)
        drop = mask & ~_remove_small(mask, min_voxels)
        out[drop] = 0
        removed |= drop
        if fill_holes and removed.any():
            outer = np.isin(out, (1, 3)) if fill == 1 else out > 0
            out[ndimage.binary_fill_holes(outer) & ~outer & removed] = fill
    wt = out > 0
    out[wt & ~_remove_small(wt, min_voxels)] = 0
    return out
