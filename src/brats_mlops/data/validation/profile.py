"""Measuring one case (Python measures; Great Expectations decides, in :mod:`.expectations`)."""

from __future__ import annotations

from typing import Any

import nibabel as nib
import numpy as np

from brats_mlops.data.case import LABEL_NAMES, Case
from brats_mlops.data.io import ImageReadError, load_image
from brats_mlops.data.validation.expectations import IMAGING_CHECKS


def profile_case(case: Case, modalities: tuple[str, ...], atol: float) -> dict[str, Any]:
    """Measure one case. Never raises: problems land in ``detail_<check>`` messages."""
    row: dict[str, Any] = {
        "case_id": case.case_id,
        "role": case.role,
        "folder": str(case.folder),
        "modalities_present": ",".join(m for m in modalities if m in case.images),
        "n_missing": sum(1 for p in case.problems if p.startswith("missing")),
        "n_unreadable": 0,
        "shapes_agree": None,
        "affines_agree": None,
        "n_nonfinite": None,
        "min_nonzero_fraction": None,
        "n_unexpected_labels": None,
        "seg_empty": None,
        "shape": None,
        "spacing": None,
        "dtype": None,
        "label_values": None,
        "notes": "; ".join(case.notes),
    }
    detail: dict[str, list[str]] = {k: [] for k in IMAGING_CHECKS}
    detail["modalities_present"] += [p for p in case.problems if p.startswith("missing")]
    shapes, affines, nonfinite, nz, files = {}, {}, 0, {}, {}
    dtypes = set()
    for mod in modalities:
        ref = case.images.get(mod)
        if ref is None:
            continue
        try:
            arr, aff, zooms = load_image(ref, dtype=None)
        except ImageReadError as err:
            row["n_unreadable"] += 1
            detail["files_readable"].append(f"{mod}: {err}")
            continue
        shapes[mod], affines[mod], files[mod] = arr.shape, aff, ref.path.name
        row["spacing"] = row["spacing"] or "x".join(f"{z:g}" for z in zooms)
        dtypes.add(str(nib.load(str(ref.path)).get_data_dtype()))  # as stored on disk (header only)
        bad, fg = _foreground(arr)
        if bad:
            detail["finite_voxels"].append(f"{mod}: {ref.path.name} has {bad} NaN/Inf voxels")
        nonfinite += bad
        frac = float(fg.size) / arr.size
        nz[mod] = frac
        detail["images_not_empty"].append((frac, f"{mod}: {ref.path.name} has non-zero fraction {frac:.4f}"))
        for q in (1, 50, 99):  # one call per q: a scalar q keeps the float32 arithmetic (a list would promote)
            row[f"p{q:02d}_{mod}"] = float(np.percentile(fg, q)) if fg.size else 0.0
        row[f"nonzero_fraction_{mod}"] = frac
    if case.seg is not None:
        try:
            seg, saff, _ = load_image(case.seg, dtype=None)
            shapes["seg"], affines["seg"], files["seg"] = seg.shape, saff, case.seg.path.name
            if np.issubdtype(seg.dtype, np.integer):  # the usual case: no NaN possible, no float copy, no sort
                all_finite, empty = True, not seg.any()
                values = np.flatnonzero(np.bincount(seg.ravel())) if seg.dtype.kind == "u" else np.unique(seg)
            else:
                seg = seg.astype(np.float32, copy=False)
                finite_seg = np.isfinite(seg)
                all_finite, empty = bool(finite_seg.all()), not np.any(seg[finite_seg] != 0)
                values = np.unique(seg[finite_seg])
            row["label_values"] = ",".join(f"{v:g}" for v in values)
            allowed = LABEL_NAMES.get(case.source, case.label_map)  # the edition's label values (data/editions.py)
            unexpected = [v for v in values if v not in allowed or v != int(v)]
            if not all_finite:
                unexpected.append(float("nan"))
            row["n_unexpected_labels"] = len(unexpected)
            if unexpected:
                detail["labels_in_scheme"].append(
                    f"seg {case.seg.path.name} has values {[float(v) for v in unexpected]} outside the "
                    f"{case.source} scheme {sorted(allowed)}"
                )
            row["seg_empty"] = bool(empty)
            if row["seg_empty"]:
                detail["seg_not_empty"].append(f"seg {case.seg.path.name} is empty (no tumour voxel)")
        except ImageReadError as err:
            row["n_unreadable"] += 1
            detail["files_readable"].append(f"seg: {err}")
    if shapes:
        first = next(iter(shapes))
        row["shape"] = "x".join(str(s) for s in shapes[first])
        bad_shapes = {k: v for k, v in shapes.items() if v != shapes[first]}
        row["shapes_agree"] = not bad_shapes
        if bad_shapes:
            detail["shapes_agree"].append(
                "shapes differ: " + ", ".join(f"{k} ({files[k]}) {'x'.join(map(str, v))}" for k, v in shapes.items())
            )
        bad_aff = [k for k, a in affines.items() if not np.allclose(a, affines[first], atol=atol)]
        row["affines_agree"] = not bad_aff
        if bad_aff:
            detail["affines_agree"].append(
                "affine of " + ", ".join(f"{k} ({files[k]})" for k in bad_aff) + f" differs from {first}'s ({files[first]}) by more than {atol}"
            )
    if nz:
        row["n_nonfinite"] = nonfinite
        row["min_nonzero_fraction"] = min(nz.values())
        row["_nonzero"] = nz
    row["dtype"] = ",".join(sorted(dtypes)) or None
    row["_detail"] = detail
    return row


def _foreground(arr: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of NaN/Inf voxels, the finite non-zero voxels as float32). An integer image (BraTS stores int16) has
    no NaN to look for and is compared in its own type: ~4x less work than through a float copy of the volume."""
    if np.issubdtype(arr.dtype, np.integer):
        return 0, arr[arr != 0].astype(np.float32)
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr)
    bad = int(arr.size - np.count_nonzero(finite))
    return bad, arr[finite & (arr != 0)]


def profile_job(args: tuple) -> dict[str, Any]:
    return profile_case(*args)
