"""Score prediction / ground-truth NIfTI pairs like the official BraTS evaluation of 2023 or 2025 (``brats-mlops evaluate``).

``evaluate(pred, gt, labels)`` takes two files or two folders. Folder files are matched by the BraTS case id in
their names (``BraTS-GLI-00000-000``, ``BraTS20_Training_001``, ``BraTS2021_00000``, MSD ``BRATS_001``), else by
identical file names; a BraTS 2023+ ground truth also matches a prediction whose name ends with its case number
(``00132-000.nii.gz`` for ``BraTS-MET-00132-000-seg.nii.gz``, the 2025 scorer's rule). In a ground-truth folder that also holds images (a dataset's case folders), only the
segmentation files (``*seg*``; MSD ``labelsTr/``) are read. Every ground-truth case needs a prediction; a missing
one is an error that lists them (never a silently smaller mean).

Labels are read in the named convention (``brats2020``: 1 NCR, 2 ED, 4 ET; ``brats2023``: 1, 2, 3;
``brats2024``: 1, 2, 3 and 4 = resection cavity; ``msd``: 1 edema, 2 non-enhancing, 3 enhancing; ``ped2024``: 1 ET,
2 NETC, 3 CC, 4 ED; ``menrt``: 1 GTV); a value outside the convention is an error naming the file. A 2023 profile
scores the internal labels (WT/TC/ET); a 2024 or 2025 profile scores the labels of its task (``metrics/profiles.py``),
converting only where that loses nothing. The spacing is the prediction's header zooms, as in the official code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from brats_mlops.data.case import CONVENTIONS, LABEL_MAPS, LABEL_NAMES, RESECTION_CAVITY, invert_label_map
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.errors import UserError
from brats_mlops.metrics.brats import case_metrics, label_dice
from brats_mlops.metrics.brats2024 import case_metrics_2024
from brats_mlops.metrics.brats2025 import case_metrics_2025
from brats_mlops.metrics.profiles import PROFILES, get_profile

NIFTI = (".nii.gz", ".nii")
_NUMBER = re.compile(r"(\d{5}-\d{3})$")  # BraTS 2023+ case number at the end of a key (00132-000)
_CASE_ID = re.compile(r"(BraTS-[A-Z]+-\d{5}-\d{3}|BraTS20_(?:Training|Validation)_\d{3}|BraTS2021_\d{5}|BRATS_\d{3})")


class EvaluationError(UserError, ValueError):
    """A pair cannot be scored (missing file, mismatched shapes, labels outside the convention)."""


def case_key(path: Path) -> str:
    """The BraTS case id in a file name, else the file name without its NIfTI suffix."""
    m = _CASE_ID.search(path.name)
    if m:
        return m.group(1)
    name = path.name
    for suf in NIFTI:
        if name.endswith(suf):
            return name[: -len(suf)]
    return name


def _nifti_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(NIFTI) and not p.name.startswith("._"))


def _index(folder: Path, role: str, ground_truth: bool) -> dict[str, Path]:
    files = _nifti_files(folder)
    if ground_truth:
        segs = [p for p in files if re.search(r"seg", p.name, re.I) or p.parent.name == "labelsTr"]
        files = segs or files
    out: dict[str, Path] = {}
    for f in files:
        k = case_key(f)
        if k in out:
            raise EvaluationError(f"{role} folder {folder}: two files for case {k}: {out[k]} and {f}")
        out[k] = f
    if not out:
        raise EvaluationError(f"{role} folder {folder}: no NIfTI files (.nii/.nii.gz) found")
    return out


def match_pairs(pred: Path, gt: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """(case id, prediction file, ground-truth file) for two files or two folders, and the prediction ids that have
    no ground truth (not scored; reported, never silently dropped)."""
    pred, gt = Path(pred), Path(gt)
    for role, p in (("prediction", pred), ("ground truth", gt)):
        if not p.exists():
            raise EvaluationError(f"{role} path {p} does not exist")
    if pred.is_file() and gt.is_file():
        return [(case_key(gt), pred, gt)], []
    if pred.is_file() != gt.is_file():
        raise EvaluationError(f"--pred and --gt must both be files or both be folders (got {pred} and {gt})")
    P, G = _index(pred, "prediction", False), _index(gt, "ground truth", True)
    by_number = {m.group(1): k for k in P if (m := _NUMBER.search(k))}
    for k in set(G) - set(P):  # the 2025 scorer's rule: a prediction file ends with the case's NNNNN-NNN
        m = _NUMBER.search(k)
        if m and m.group(1) in by_number:
            P[k] = P.pop(by_number[m.group(1)])
    missing = sorted(set(G) - set(P))
    if missing:
        raise EvaluationError(
            f"{len(missing)} ground-truth case(s) have no prediction in {pred}: {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else "") + " (matched by BraTS case id in the file name, else identical names)")
    return [(k, P[k], G[k]) for k in sorted(G)], sorted(set(P) - set(G))


def read_labels(path: Path, convention: str) -> tuple[np.ndarray, tuple[float, ...]]:
    """Raw integer labels and spacing of a segmentation file; labels outside ``convention`` are an error."""
    try:
        img = nib.load(str(path))
        arr = np.asarray(img.dataobj)
    except Exception as err:  # nibabel raises many types for unreadable files
        raise EvaluationError(f"{path}: cannot read as NIfTI ({type(err).__name__}: {err})") from None
    if arr.ndim != 3:
        raise EvaluationError(f"{path}: a segmentation must be 3-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
        raise EvaluationError(f"{path}: labels must be integers (found non-integer or non-finite values)")
    arr = arr.astype(np.int16)
    values = set(np.unique(arr).tolist())
    allowed = set(LABEL_NAMES[convention])
    bad = sorted(values - allowed)
    if bad:
        hint = ""
        if convention in ("brats2023", "msd") and bad == [4]:
            hint = " (label 4 is enhancing tumour in BraTS 2020 and resection cavity in BraTS 2024: --labels brats2020 or brats2024)"
        elif convention == "brats2020" and 3 in bad:
            hint = " (label 3 is enhancing tumour from BraTS 2021 on: --labels brats2023)"
        names = ", ".join(f"{k} {v}" for k, v in LABEL_NAMES[convention].items())
        raise EvaluationError(f"{path}: label value(s) {bad} are not in the {convention} convention ({names}){hint}")
    return arr, tuple(float(z) for z in img.header.get_zooms()[:3])


def to_convention(raw: np.ndarray, src: str, dst: str, path: Path) -> np.ndarray:
    """Raw labels of convention ``src`` as labels of ``dst`` (through the internal labels). Only a lossless
    conversion is made: a convention whose labels share an internal label (BraTS 2024's cavity and background,
    paediatric CC and NETC) or have none (MEN-RT) must be scored in its own convention."""
    if src == dst:
        return raw
    lm = LABEL_MAPS.get(src)
    lossless = (lm is not None and dst in LABEL_MAPS and len(set(lm.values())) == len(lm)
                and set(lm.values()) <= set(LABEL_MAPS[dst].values()))  # e.g. 2024's cavity has no 2023 label
    if not lossless:
        raise EvaluationError(f"{path}: the profile scores {dst} labels and the files are in {src} labels, which do not "
                              f"convert without loss; pass --labels {dst} if the files use it, or choose a profile for {src}")
    return remap_labels(remap_labels(raw, lm), invert_label_map(LABEL_MAPS[dst]))


def score_pair(pred_path: Path, gt_path: Path, convention: str, profile: str | None = None) -> dict[str, float]:
    """Official metrics of one pair under ``profile`` (default 2023-GLI; flat keys as ``metrics/segmentation.json``;
    a 2024 or 2025 profile: ``metrics/brats2024.py``'s or ``metrics/brats2025.py``'s keys)."""
    prof = get_profile(profile)
    p_raw, spacing = read_labels(pred_path, convention)
    g_raw, _ = read_labels(gt_path, convention)
    if p_raw.shape != g_raw.shape:
        raise EvaluationError(f"shape mismatch: prediction {pred_path} is {p_raw.shape}, ground truth {gt_path} is {g_raw.shape}")
    if prof.rule == "2025":
        p_task, g_task = (to_convention(a, convention, prof.labels, f) for a, f in ((p_raw, pred_path), (g_raw, gt_path)))
        return case_metrics_2025(p_task.astype(np.uint8), g_task.astype(np.uint8), spacing, prof.task)
    if prof.rule == "2024":
        p_task, g_task = (to_convention(a, convention, prof.labels, f) for a, f in ((p_raw, pred_path), (g_raw, gt_path)))
        return case_metrics_2024(p_task.astype(np.uint8), g_task.astype(np.uint8), spacing)
    if convention not in LABEL_MAPS:
        raise EvaluationError(f"profile {prof.name} scores the glioma regions WT/TC/ET; {convention} labels have none "
                              f"(choose a profile for them: {', '.join(n for n, p in PROFILES.items() if p.labels == convention)})")
    lm = LABEL_MAPS[convention]
    out = case_metrics(remap_labels(p_raw, lm), remap_labels(g_raw, lm), spacing, profile=profile)
    if convention in RESECTION_CAVITY:
        rc = RESECTION_CAVITY[convention]
        out["dice_rc"] = label_dice(p_raw == rc, g_raw == rc)
    return out


def evaluate(pred: str | Path, gt: str | Path, convention: str | None = None, progress=None,
             profile: str | None = None) -> dict[str, Any]:
    """``{"labels": convention, "profile": name, "cases": {id: metrics}, "mean": {key: mean over cases},
    "unmatched_predictions": [...]}``; ``profile``: the official metric profile (``metrics/profiles.py``);
    ``convention``: the files' labels (default: the ones the profile reads). Means skip NaN (the 2025 scorer's NaN for
    a group absent from both), as the official aggregation does."""
    prof = get_profile(profile)
    convention = convention or prof.labels
    if convention not in CONVENTIONS:
        raise EvaluationError(f"unknown label convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    pairs, unmatched = match_pairs(Path(pred), Path(gt))
    it = progress(pairs, desc="evaluate") if progress else pairs
    cases = {cid: score_pair(p, g, convention, prof.name) for cid, p, g in it}
    keys = list(next(iter(cases.values())))
    mean = {k: _nanmean([c[k] for c in cases.values()]) for k in keys}
    return {"labels": convention, "profile": prof.name, "n_cases": len(cases), "cases": cases, "mean": mean,
            "unmatched_predictions": unmatched}


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")
