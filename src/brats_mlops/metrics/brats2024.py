"""BraTS 2024 GLI (post-treatment glioma) metrics, as the official 2024 code computes them.

Reference: ``get_LesionWiseResults(pred, gt, "BraTS-GLI")`` in rachitsaluja/BraTS-2024-Metrics ``metrics_GLI.py``
(commit f1131e3), read line by line. Labels: 1 NETC, 2 SNFH, 3 ET, 4 RC (resection cavity). Six regions: WT = 1–3,
TC = 1+3, NETC, SNFH, ET, RC. Per region:

1. **Lesions.** 26-connected components (cc3d) merged when their dilations with the 18-neighbourhood touch: 5
   dilations for NETC and RC, 3 for the others — the code tests the name ``"SFNH"``, which never matches ``"SNFH"``,
   so SNFH gets 3, not the 5 its authors meant (reproduced). Predicted lesions of ≤ 20 voxels (ET: ≤ 10) are deleted
   from the prediction before anything is scored — whole-volume metrics included.
2. **Tissues merged across labels.** For NETC, SNFH, ET and RC (not WT/TC), lesions that touch (one 18-neighbourhood
   dilation) the same lesion of another tissue are given one label: NETC by ET then RC, ET by NETC then RC, RC by ET
   then NETC, SNFH by ET, RC then NETC; each lesion takes the smallest touching label of the other tissue, and only
   when more than one pair touches. Labels are then renumbered 1..K. The lesion numbers matter beyond the grouping:
3. **Whole-volume ("legacy") metrics are computed on those lesion-number images**, not on binary masks. Dice and NSD
   binarise them; HD95 does not: DeepMind's ``compute_surface_distances`` receives the lesion numbers, so its 2×2×2
   neighbour codes are computed from numbers > 1 (wrapped to 8 bits) — a lesion numbered 2 has other "surfaces" than
   one numbered 1. Sensitivity and specificity compare the numbers too (a voxel is a true positive only where both
   images hold lesion number 1). All reproduced, so ``Legacy_HD95`` and ``Sensitivity`` agree with the official code.
4. **Lesion-wise.** Each GT lesion is dilated 3 times (5 for NETC and RC); predicted lesions touching the dilation are
   its match: Dice, HD95 (surface distance, 95th percentile; no match: infinite → 337) and NSD at 0.5 and 1.0 mm
   (nnU-Net's normalised surface dice over medpy's border voxels, 6-neighbourhood) of the GT lesion against their
   union. GT lesions of ≤ 20 mm³ (ET: ≤ 10 mm³) are left out of the score but their matches are not false positives.
   Score = Σ over kept GT lesions / (kept + false positives); HD95 adds 337 per false positive; nothing to score:
   Dice 1, NSD 1, HD95 0.
5. Empty cases: both empty → Dice 1, NSD 1, HD95 0; one empty → NSD 0, HD95 337 (the code's infinity).

Flat keys per region ``r`` (lower case): ``dice_r``, ``hd95_r``, ``nsd05_r``, ``nsd10_r``, ``sensitivity_r``,
``specificity_r``, ``gt_volume_mm3_r``, ``lesion_dice_r``, ``lesion_hd95_r``, ``lesion_nsd05_r``, ``lesion_nsd10_r``,
``lesion_num_tp_r``, ``lesion_num_fp_r``, ``lesion_num_fn_r``. Known values: ``tests/metrics/test_brats2024.py``.
"""

from __future__ import annotations

import sys

import cc3d
import numpy as np
from scipy import ndimage

from brats_mlops.metrics.boxes import window

REGIONS_2024 = ("WT", "TC", "NETC", "SNFH", "ET", "RC")
HD95_INF = 337.0  # the 2024 code's replacement for an infinite HD95
_STRUCT18 = ndimage.generate_binary_structure(3, 2)
_KERNEL = np.array([[[128, 64], [32, 16]], [[8, 4], [2, 1]]])


def _dilations(region: str) -> int:
    return 5 if region in ("NETC", "RC") else 3  # "SFNH" in the official code: SNFH keeps 3


def _threshold(region: str) -> int:
    return 10 if region == "ET" else 20


def _as_file(a: np.ndarray) -> np.ndarray:
    """What a NIfTI written and read back by nibabel (``get_fdata``) holds: float64 in Fortran order (cc3d numbers
    components in memory order, so the layout decides the lesion numbers)."""
    return np.asfortranarray(np.asarray(a, dtype=np.float64))


def _tissue(labels: np.ndarray, region: str) -> np.ndarray:
    vals = {"WT": (1, 2, 3), "TC": (1, 3), "NETC": (1,), "SNFH": (2,), "ET": (3,), "RC": (4,)}[region]
    return _as_file(np.isin(labels, vals))


def _combined_by_dilation(mask: np.ndarray, iterations: int) -> np.ndarray:
    cc = cc3d.connected_components(mask, connectivity=26)
    dil_cc = cc3d.connected_components(ndimage.binary_dilation(mask, structure=_STRUCT18, iterations=iterations), connectivity=26)
    return np.where(cc > 0, dil_cc, 0).astype(dil_cc.dtype)


def _lesions(labels: np.ndarray, region: str, prediction: bool) -> np.ndarray:
    out = _combined_by_dilation(_tissue(labels, region), _dilations(region))
    if prediction:
        ids, counts = np.unique(out, return_counts=True)
        out = np.where(np.isin(out, ids[counts <= _threshold(region)], invert=True), out, 0)
    return _as_file(out)


def _touching(a: np.ndarray, b: np.ndarray) -> set[tuple[float, float]]:
    """(label of a, label of b) pairs whose one 18-neighbourhood dilation touches (``get_touching_labels``): a voxel
    of one within the 18-neighbourhood (or on) a voxel of the other. Computed by shifting instead of one dilation per
    pair; the same pairs."""
    pairs: set[tuple[float, float]] = set()
    if not np.any(a != 0) or not np.any(b != 0):
        return pairs
    win = window(a != 0, 1)  # a voxel of b within one voxel of a lies in a's box grown by one
    a, b = a[win], b[win]
    n = a.shape
    for off in zip(*np.nonzero(_STRUCT18)):
        d = [o - 1 for o in off]
        sa = tuple(slice(max(0, -k), n[i] - max(0, k)) for i, k in enumerate(d))
        sb = tuple(slice(max(0, k), n[i] - max(0, -k)) for i, k in enumerate(d))
        x, y = a[sa], b[sb]
        both = (x != 0) & (y != 0)
        if both.any():
            pairs.update(zip(x[both].tolist(), y[both].tolist()))
    return pairs


def _relabel(pairs: set[tuple[float, float]], img: np.ndarray) -> np.ndarray:
    """``relabel_nifti_image``: every lesion takes a new label for the smallest label of the other tissue it touches."""
    current = int(np.max(img)) + 1
    common: dict[float, int] = {}
    for _, c in sorted(pairs):
        if c not in common:
            common[c] = current
            current += 1
    mapping: dict[float, int] = {}
    for o, c in sorted(pairs):
        mapping.setdefault(o, common[c])
    out = img.copy()
    for o, new in mapping.items():
        out[img == o] = new
    return _as_file(out.astype(np.int32))


def _merge_with(img: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    for other in others:
        pairs = _touching(img, other)
        if len(pairs) > 1:
            img = _relabel(pairs, img)
    return img


def _reorder(img: np.ndarray) -> np.ndarray:
    """``reorder_labels_nifti``: labels renumbered 1..K in their sorted order."""
    ids = np.unique(img)
    ids = ids[ids != 0]
    out = np.zeros(img.shape, np.int32)
    for i, v in enumerate(ids, 1):
        out[img == v] = i
    return _as_file(out)


def lesion_images(labels: np.ndarray, prediction: bool) -> dict[str, np.ndarray]:
    """The six lesion-number images the official code scores (steps 1 and 2 of the module docstring)."""
    cc = {r: _lesions(labels, r, prediction) for r in REGIONS_2024}
    order = {"NETC": ("ET", "RC"), "ET": ("NETC", "RC"), "RC": ("ET", "NETC"), "SNFH": ("ET", "RC", "NETC")}
    out = {r: cc[r] for r in ("WT", "TC")}
    for r, others in order.items():
        out[r] = _reorder(_merge_with(cc[r], [cc[o] for o in others]))
    return out


def _surface_distances(gt: np.ndarray, pred: np.ndarray, spacing: tuple[float, ...]):
    """DeepMind's ``compute_surface_distances`` as vendored in the official code, on whatever integer values it gets."""
    from monai.metrics.utils import _get_neighbour_code_to_normals_table

    both = (gt != 0) | (pred != 0)
    if not both.any():
        return np.array([]), np.array([]), np.array([]), np.array([])
    win = window(both, 0)
    shape = tuple(w.stop - w.start + 1 for w in win)
    crop_g, crop_p = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    crop_g[:-1, :-1, :-1] = gt[win].astype(int)  # lesion numbers > 255 wrap, as in the official code's uint8 crop
    crop_p[:-1, :-1, :-1] = pred[win].astype(int)
    s = np.array([[[spacing[1] * spacing[2], spacing[0] * spacing[2], spacing[0] * spacing[1]]]])
    area = np.linalg.norm(_get_neighbour_code_to_normals_table().double().numpy() * s, axis=-1).sum(-1)
    code_g = ndimage.correlate(crop_g.astype(np.uint8), _KERNEL, mode="constant", cval=0)
    code_p = ndimage.correlate(crop_p.astype(np.uint8), _KERNEL, mode="constant", cval=0)
    border_g, border_p = (code_g != 0) & (code_g != 255), (code_p != 0) & (code_p != 255)
    dist_g = ndimage.distance_transform_edt(~border_g, sampling=spacing) if border_g.any() else np.full(shape, np.inf)
    dist_p = ndimage.distance_transform_edt(~border_p, sampling=spacing) if border_p.any() else np.full(shape, np.inf)
    return dist_p[border_g], area[code_g][border_g], dist_g[border_p], area[code_p][border_p]


def _robust_hd95(gt: np.ndarray, pred: np.ndarray, spacing: tuple[float, ...]) -> float:
    d_gp, a_g, d_pg, a_p = _surface_distances(gt, pred, spacing)

    def perc(d, a):
        if len(d) == 0:
            return np.inf
        o = np.lexsort((a, d))
        d, a = d[o], a[o]
        cum = np.cumsum(a) / np.sum(a)
        return float(d[min(int(np.searchsorted(cum, 0.95)), len(d) - 1)])

    return max(perc(d_gp, a_g), perc(d_pg, a_p))


def _medpy_distances(a: np.ndarray, b: np.ndarray, spacing) -> np.ndarray:
    """medpy's ``__surface_distances(a, b)``: distances of a's border voxels (6-neighbourhood erosion) to b's border.
    Computed in the box around both grown by one voxel (clipped at the volume's edge, where medpy's erosion also
    sees background): every border voxel and its nearest partner lie inside it, so the distances are the same."""
    win = window(a | b, 1)
    a, b = a[win], b[win]
    fp = ndimage.generate_binary_structure(3, 1)
    a_border = a ^ ndimage.binary_erosion(a, structure=fp, iterations=1)
    b_border = b ^ ndimage.binary_erosion(b, structure=fp, iterations=1)
    return ndimage.distance_transform_edt(~b_border, sampling=np.asarray(spacing, np.float64))[a_border]


def _nsd(pred: np.ndarray, gt: np.ndarray, spacing, thresholds=(0.5, 1.0)) -> tuple[float, ...]:
    """nnU-Net's normalised surface dice (the official code's copy) at each threshold, with its empty-mask conventions."""
    p, g = pred > 0, gt > 0
    if not p.any() and not g.any():
        return tuple(1.0 for _ in thresholds)
    if not p.any() or not g.any():
        return tuple(0.0 for _ in thresholds)
    a_to_b, b_to_a = _medpy_distances(p, g, spacing), _medpy_distances(g, p, spacing)
    out = []
    for t in thresholds:
        tp_a, tp_b = np.sum(a_to_b <= t) / len(a_to_b), np.sum(b_to_a <= t) / len(b_to_a)
        fp, fn = np.sum(a_to_b > t) / len(a_to_b), np.sum(b_to_a > t) / len(b_to_a)
        out.append(float((tp_a + tp_b) / (tp_a + tp_b + fp + fn + 1e-8)))
    return tuple(out)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def _sens_spec(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """GaNDLF's sensitivity / specificity as the official code calls it, on the lesion-number images."""
    ic, rc = np.sum(pred), np.sum(gt)
    overlap = np.where(pred == gt, 1, 0)
    tp = overlap[pred == 1].sum()
    fp, fn = ic - tp, rc - tp
    tn = np.count_nonzero((pred != 1) & (gt != 1))
    sens = 1.0 * tp / (tp + fn + sys.float_info.min)
    spec = 1.0 * tn / (tn + fp + sys.float_info.min)
    return (1.0 if ic == 0 and rc == 0 else float(sens)), float(spec)


def region_scores(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], region: str) -> dict[str, float]:
    """One region's official numbers from its two lesion-number images (step 3–5 of the module docstring)."""
    voxel = float(np.prod(spacing))
    both_empty = not np.any(gt != 0) and not np.any(pred != 0)
    nsd05, nsd10 = _nsd(pred, gt, spacing)
    out = {"dice": 1.0 if both_empty else _dice(pred, gt), "nsd05": nsd05, "nsd10": nsd10,
           "hd95": 0.0 if both_empty else _robust_hd95(gt, pred, spacing)}
    out["sensitivity"], out["specificity"] = _sens_spec(pred, gt)
    out["gt_volume_mm3"] = float(np.sum(gt > 0) * voxel)
    g_lab, p_lab = gt.astype(np.int32), pred.astype(np.int32)
    dil, thr = _dilations(region), _threshold(region)
    matched: list[int] = []
    kept: list[tuple[float, float, float, float]] = []
    n_tp = n_fn = 0
    for comp in range(1, int(np.max(g_lab)) + 1):
        les = (g_lab == comp).astype(np.int32)
        win = window(les, dil)  # the dilation inside the lesion's box grown by the dilation count equals the full one
        hits = np.unique(p_lab[win] * ndimage.binary_dilation(les[win], structure=_STRUCT18, iterations=dil))
        hits = hits[hits != 0]
        matched += hits.tolist()
        pr = np.isin(p_lab, hits).astype(np.int32) if len(hits) else np.zeros_like(les)
        hd = _robust_hd95(les, pr, spacing)
        row = (_dice(pr, les), HD95_INF if np.isinf(hd) else hd, *_nsd(pr, les, spacing))
        small = np.sum(les > 0) * voxel <= thr
        if not small:
            kept.append(row)
            n_tp += bool(len(hits))
            n_fn += not len(hits)
    fp = [v for v in np.unique(p_lab) if v != 0 and v not in set(matched)]
    n = len(kept) + len(fp)
    col = list(zip(*kept)) if kept else [(), (), (), ()]
    out["lesion_dice"] = float(np.sum(col[0])) / n if n else 1.0
    out["lesion_hd95"] = (float(np.sum(col[1])) + len(fp) * HD95_INF) / n if n else 0.0
    out["lesion_nsd05"] = float(np.sum(col[2])) / n if n else 1.0
    out["lesion_nsd10"] = float(np.sum(col[3])) / n if n else 1.0
    out["lesion_num_tp"], out["lesion_num_fn"], out["lesion_num_fp"] = n_tp, n_fn, len(fp)
    if np.isinf(out["hd95"]):
        out["hd95"] = HD95_INF
    return out


def case_metrics_2024(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...]) -> dict[str, float]:
    """Official 2024 GLI metrics of two label volumes in the 2024 GLI labels (1 NETC, 2 SNFH, 3 ET, 4 RC): flat keys
    per region (module docstring) and ``dice_brats``, the mean whole-volume Dice of WT, TC and ET."""
    sp = tuple(float(s) for s in spacing)
    p_imgs, g_imgs = lesion_images(pred, True), lesion_images(gt, False)
    out: dict[str, float] = {}
    for r in REGIONS_2024:
        for k, v in region_scores(p_imgs[r], g_imgs[r], sp, r).items():
            out[f"{k}_{r.lower()}"] = v
    out["dice_brats"] = (out["dice_wt"] + out["dice_tc"] + out["dice_et"]) / 3.0
    return out
