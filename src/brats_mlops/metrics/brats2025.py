"""BraTS 2025 metrics: the official scorer's rule, computed with ``panoptica`` (Apache-2.0, pinned 2.1.7).

The 2025 challenges are scored by BraTS/BraTS_evaluation (PyPI ``brats-evaluation`` 0.0.10, AGPL-3.0; not a
dependency of this platform): for every task it builds a ``panoptica.Panoptica_Evaluator`` from one of its bundled
configs and turns panoptica's result into one row per case with its ``metrics_parser``. This module configures
panoptica the way those configs do and reports what that parser reports:

* semantic input; each label group's 26-connected components (cc3d) are its lesions; predicted and reference lesions
  are matched one-to-one by maximum bipartite matching on Dice (any overlap, threshold 1e-6); no dilation and no
  volume threshold;
* per group: lesion-wise Dice / NSD / HD95 of the matched lesions (panoptica's ``sq_*``; a lesion-free group is NaN),
  detection counts TP / FP / FN with precision, recall and F1 (``rq``), and whole-volume Dice / NSD / HD95
  (``global_bin_*``; an infinite global HD95 becomes 373 as the parser does);
* the metastasis task (``mets``) splits reference lesions at 20 voxels×spacing (``volume``): lesions of at least that
  volume are scored lesion-wise (an unmatched one and every false positive count Dice 0, NSD 0, HD95 373), smaller
  ones are only detected (a match with Dice ≥ 0.1 is a hit): ``parse_mets_results(vol_threshold=20,
  overlap_threshold=0.1)``.

Two things the official scorer does that a reader would not guess, reproduced here so the numbers agree:

* it passes file paths to panoptica, which reads them with SimpleITK: the voxel array arrives in (z, y, x) order with
  the spacing in (x, y, z) order, so on an anisotropic image each axis is measured with another axis's spacing. We
  read (x, y, z) arrays with nibabel and pass the spacing reversed, which gives the same numbers (checked on the
  anisotropic known-value pairs: with the spacing in its own order HD95 and NSD differ);
* panoptica's whole-volume HD95 (``global_bin_hd95``) is in voxels (it does not use the spacing); lesion-wise HD95 is
  in the (reversed) spacing's units.

Flat keys per group ``g`` (the official parser's names in brackets): ``dice_g`` [global_dsc], ``nsd_g``
[global_nsd], ``hd95_g`` [global_hd95], ``lesion_dice_g`` / ``lesion_nsd_g`` / ``lesion_hd95_g`` [lesionwise_*_mean],
``lesion_dice_std_g`` … [lesionwise_*_std], ``lesion_num_tp_g`` / ``_fp_g`` / ``_fn_g`` [all_instance_tp/fp/fn],
``lesion_precision_g`` / ``lesion_recall_g`` / ``lesion_f1_g`` [all_instance_prec/rec/f1]; for ``mets`` also
``large_*`` and ``small_*`` [large_instance_*, small_instance_*]. NaN is NaN (the official means skip it).
Known values: ``tests/metrics/test_brats2025.py`` (the official scorer's numbers for every bundled config).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

GLOBAL_HD95_INF = 373.0  # the parser's value for an infinite HD95 ("diameter of the cube in SRI space")
METS_VOLUME = 20.0       # parse_mets_results defaults: reference lesions below this volume are "small"
METS_OVERLAP = 0.1       # ... and count as detected when their matched Dice reaches this

# task -> label groups as the official configs define them: name -> (labels, merged). Labels are the task's own.
TASK_GROUPS: dict[str, dict[str, tuple[tuple[int, ...], bool]]] = {
    "gli": {"snfh": ((2,), False), "et": ((3,), False), "netc": ((1,), False), "rc": ((4,), False),
            "tc": ((1, 3), True), "wt": ((1, 2, 3), True)},
    "mets": {"et": ((3,), False), "rc": ((4,), False), "tc": ((1, 3), True), "wt": ((1, 2, 3), True)},
    "ped": {"et": ((1,), False), "netc": ((2,), False), "cc": ((3,), False), "ed": ((4,), False),
            "tc": ((1, 2, 3), True), "wt": ((1, 2, 3, 4), True)},
    "MenRT": {"gtv": ((1,), False)},
    "MenPre": {"et": ((3,), False), "tc": ((1, 3), True), "wt": ((1, 2, 3), True)},
    "GoAT": {"et": ((3,), False), "tc": ((1, 3), True), "wt": ((1, 2, 3), True)},
}


@lru_cache(maxsize=None)
def evaluator(task: str):
    """The panoptica evaluator of ``task``, configured as the official ``config_<task>.yaml``."""
    from panoptica import ConnectedComponentsInstanceApproximator, InputType, MaxBipartiteMatching, Metric, Panoptica_Evaluator
    from panoptica.utils.edge_case_handling import EdgeCaseHandler, EdgeCaseResult, MetricZeroTPEdgeCaseHandling
    from panoptica.utils.label_group import LabelGroup, LabelMergeGroup
    from panoptica.utils.segmentation_class import SegmentationClassGroups

    def zero_tp(value):
        return MetricZeroTPEdgeCaseHandling(empty_prediction_result=value, empty_reference_result=value,
                                            no_instances_result=EdgeCaseResult.NAN, normal=value)

    groups = {name: (LabelMergeGroup if merged else LabelGroup)(list(labels), single_instance=False)
              for name, (labels, merged) in TASK_GROUPS[task].items()}
    with contextlib.redirect_stdout(io.StringIO()):  # panoptica prints a banner
        return Panoptica_Evaluator(
            expected_input=InputType.SEMANTIC,
            instance_approximator=ConnectedComponentsInstanceApproximator(cca_backend=None),
            instance_matcher=MaxBipartiteMatching(matching_metric=Metric.DSC, matching_threshold=0.000001),
            edge_case_handler=EdgeCaseHandler(
                listmetric_zeroTP_handling={Metric.DSC: zero_tp(EdgeCaseResult.ZERO), Metric.NSD: zero_tp(EdgeCaseResult.ZERO),
                                            Metric.HD95: zero_tp(EdgeCaseResult.INF)},
                empty_list_std=EdgeCaseResult.NAN),
            segmentation_class_groups=SegmentationClassGroups(groups),
            instance_metrics=[Metric.DSC, Metric.NSD, Metric.HD95],
            global_metrics=[Metric.DSC, Metric.NSD, Metric.HD95],
            decision_metric=None, decision_threshold=None, log_times=False, save_group_times=False, verbose=False)


def panoptica_results(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], task: str) -> dict[str, dict[str, Any]]:
    """panoptica's raw result per label group (``to_dict(True)``), as the official scorer gets it for these files."""
    from panoptica import disable_citation_reminder

    disable_citation_reminder()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "NSD threshold 0.5 is the default": it is the official setting
        res = evaluator(task).evaluate(np.ascontiguousarray(pred, dtype=np.uint8), np.ascontiguousarray(gt, dtype=np.uint8),
                                       voxelspacing=tuple(float(s) for s in reversed(spacing)))
    return {g: r.to_dict(True) for g, r in res.items()}


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _global(r: dict[str, Any], g: str) -> dict[str, float]:
    hd = _num(r.get("global_bin_hd95"))
    return {f"dice_{g}": _num(r.get("global_bin_dsc")), f"nsd_{g}": _num(r.get("global_bin_nsd")),
            f"hd95_{g}": GLOBAL_HD95_INF if math.isinf(hd) else hd}


def _counts(prefix: str, g: str, tp, fp, fn, prec, rec, f1) -> dict[str, float]:
    return {f"{prefix}_num_tp_{g}": _num(tp), f"{prefix}_num_fp_{g}": _num(fp), f"{prefix}_num_fn_{g}": _num(fn),
            f"{prefix}_precision_{g}": _num(prec), f"{prefix}_recall_{g}": _num(rec), f"{prefix}_f1_{g}": _num(f1)}


def parse_seg(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The official ``parse_seg_results`` row, in flat keys (module docstring)."""
    out: dict[str, float] = {}
    for g, r in results.items():
        out.update(_counts("lesion", g, r.get("tp"), r.get("fp"), r.get("fn"), r.get("prec"), r.get("rec"), r.get("rq")))
        out.update(_global(r, g))
        for m in ("dsc", "nsd", "hd95"):
            key = "dice" if m == "dsc" else m
            out[f"lesion_{key}_{g}"] = _num(r.get(f"sq_{m}"))
            out[f"lesion_{key}_std_{g}"] = _num(r.get(f"sq_{m}_std"))
    return out


def parse_mets(results: dict[str, dict[str, Any]], vol_threshold: float = METS_VOLUME,
               overlap_threshold: float = METS_OVERLAP) -> dict[str, float]:
    """The official ``parse_mets_results`` row (large lesions scored, small ones detected), in flat keys."""
    nan = float("nan")
    out: dict[str, float] = {}
    for g, r in results.items():
        out.update(_counts("lesion", g, r.get("tp"), r.get("fp"), r.get("fn"), r.get("prec"), r.get("rec"), r.get("rq")))
        dsc: list[float] = []
        nsd: list[float] = []
        hd: list[float] = []
        small_tp = small_fn = large_tp = large_fn = 0
        small = large = False
        for les in r.get("reference_instances", []):
            vol = les.get("volume")
            if vol is None:
                continue
            is_large = vol >= vol_threshold
            large |= is_large
            small |= not is_large
            if les.get("is_matched") == 1:
                d = les.get("sq_dsc")
                hit = d is not None and d >= overlap_threshold
                if is_large:
                    dsc.append(d)
                    hd.append(les.get("sq_hd95"))
                    nsd.append(les.get("sq_nsd"))
                    large_tp += hit
                    large_fn += not hit
                elif d is not None:
                    small_tp += hit
                    small_fn += not hit
            elif is_large:
                large_fn += 1
                dsc.append(0)
                nsd.append(0)
                hd.append(GLOBAL_HD95_INF)
            else:
                small_fn += 1
        fp = r.get("fp", 0)
        dsc += [0] * fp
        nsd += [0] * fp
        hd += [GLOBAL_HD95_INF] * fp

        def ratio(a, b):
            return a / b if b > 0 else 0

        if large:
            out.update(_counts("large", g, large_tp, fp, large_fn, ratio(large_tp, large_tp + fp),
                               ratio(large_tp, large_tp + large_fn), ratio(2 * large_tp, 2 * large_tp + fp + large_fn)))
        else:
            out.update(_counts("large", g, *[nan] * 6))
        if r.get("n_ref_instances", 0) == 0 or not large:
            out.update({f"lesion_{k}_{g}": nan for k in ("dice", "dice_std", "hd95", "hd95_std", "nsd", "nsd_std")})
        else:
            valid_hd = [v for v in hd if v is not None and not np.isinf(v)]
            out[f"lesion_dice_{g}"] = float(np.mean(dsc)) if dsc else 0.0
            out[f"lesion_dice_std_{g}"] = float(np.std(dsc)) if dsc else 0.0
            out[f"lesion_hd95_{g}"] = float(np.mean(valid_hd)) if valid_hd else GLOBAL_HD95_INF
            out[f"lesion_hd95_std_{g}"] = float(np.std(valid_hd)) if valid_hd else 0.0
            out[f"lesion_nsd_{g}"] = float(np.mean(nsd)) if nsd else 0.0
            out[f"lesion_nsd_std_{g}"] = float(np.std(nsd)) if nsd else 0.0
        if small:
            out.update(_counts("small", g, small_tp, fp, small_fn, ratio(small_tp, small_tp + fp),
                               ratio(small_tp, small_tp + small_fn), ratio(2 * small_tp, 2 * small_tp + fp + small_fn)))
        else:
            out.update(_counts("small", g, *[nan] * 6))
        out.update(_global(r, g))
    return out


def case_metrics_2025(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], task: str) -> dict[str, float]:
    """Official 2025 metrics of one pair of label volumes in ``task``'s own labels; ``dice_brats`` is the mean global
    Dice of the task's WT/TC/ET groups (NaN-skipping; the single group for MEN-RT)."""
    res = panoptica_results(pred, gt, spacing, task)
    out = parse_mets(res) if task == "mets" else parse_seg(res)
    main = [g for g in ("wt", "tc", "et") if g in TASK_GROUPS[task]] or list(TASK_GROUPS[task])
    vals = [out[f"dice_{g}"] for g in main if not math.isnan(out[f"dice_{g}"])]
    out["dice_brats"] = float(np.mean(vals)) if vals else float("nan")
    return out
