"""What the viewer (``brats-mlops viewer``) does, without Streamlit: read a case (from the dataset or uploaded files),
run registered segmentation models on it, and draw overlays, error maps and the case's figures.

Uploaded files are written to a temporary folder only while they are read (and, with an age, while the survival
model reads them), then deleted: nothing a user uploads outlives the request unless they download it.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import nibabel as nib
import numpy as np

from brats_mlops.data.case import REGIONS, Case
from brats_mlops.data.io import load_case_images, load_image
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.data.readers import read_case_folder
from brats_mlops.errors import UserError
from brats_mlops.names import MODALITIES

VIEWS = ("axial", "coronal", "sagittal")
LABEL_RGB = {1: (0, 204, 0), 2: (230, 0, 0), 3: (255, 230, 0)}  # NCR green, ED red, ET yellow (the report's colours)
_SUFFIX = re.compile(r"[_-](t1ce|t1|t2|flair|seg|t1n|t1c|t2w|t2f)\.nii(\.gz)?$")


@dataclass
class ViewerCase:
    case_id: str
    source: str  # label convention of the input (brats2020 | brats2023 | msd)
    images: np.ndarray  # (4, X, Y, Z) float32 in MODALITIES order
    gt: np.ndarray | None  # internal labels, when the case has a segmentation
    spacing: tuple[float, ...]
    affine: np.ndarray
    header: Any


def read_case(folder: Path) -> ViewerCase:
    """A case folder in any supported naming → arrays (shapes checked: every modality and the seg alike)."""
    case: Case = read_case_folder(folder, MODALITIES)
    images, affine, spacing = load_case_images(case, MODALITIES)
    gt = None
    if case.seg is not None:
        seg, _, _ = load_image(case.seg, dtype=None)
        if seg.shape != images.shape[1:]:
            raise UserError(f"{case.case_id}: the segmentation has shape {seg.shape}, the images {images.shape[1:]}")
        gt = remap_labels(seg, case.label_map)
    ref = nib.load(str(case.images["t1ce"].path))
    return ViewerCase(case.case_id, case.source, images, gt, tuple(spacing), np.asarray(affine), ref.header.copy())


def case_id_of(names: list[str]) -> str:
    """The one case id of uploaded files named like ``<id>_t1ce.nii.gz`` or ``<id>-t1c.nii.gz``."""
    bad = [n for n in names if not re.search(r"\.nii(\.gz)?$", n)]
    if bad:
        raise UserError(f"not NIfTI files (.nii or .nii.gz): {', '.join(bad)}")
    ids = {_SUFFIX.sub("", n) for n in names if _SUFFIX.search(n)}
    unknown = [n for n in names if not _SUFFIX.search(n)]
    if unknown:
        raise UserError(f"cannot tell the modality of {', '.join(unknown)}: name files <id>_t1.nii.gz, _t1ce, _t2, _flair "
                        "(BraTS 2020) or <id>-t1n.nii.gz, -t1c, -t2w, -t2f (BraTS 2023), plus an optional _seg/-seg")
    if len(ids) != 1:
        raise UserError(f"the uploaded files belong to {len(ids)} cases ({', '.join(sorted(ids))}): upload one case at a time")
    return ids.pop()


def read_uploaded(files: dict[str, bytes], while_open: Callable[[Path], Any] | None = None) -> tuple[ViewerCase, Any]:
    """Uploaded ``{file name: bytes}`` → the case; ``while_open(folder)`` runs before the temporary copy is deleted."""
    cid = case_id_of(list(files))
    with tempfile.TemporaryDirectory(prefix="brats-viewer-") as tmp:
        folder = Path(tmp) / cid
        folder.mkdir()
        for name, data in files.items():
            (folder / Path(name).name).write_bytes(data)
        shapes = {}
        for f in sorted(folder.iterdir()):
            try:
                shapes[f.name] = nib.load(str(f)).shape
            except Exception as err:  # nibabel raises several types for a file that is not NIfTI inside
                raise UserError(f"{f.name} is not a readable NIfTI image ({type(err).__name__})") from None
        if len({s[:3] for s in shapes.values()}) > 1:
            raise UserError(f"{cid}: the files have different shapes: " + ", ".join(f"{n} {s}" for n, s in shapes.items()))
        case = read_case(folder)
        extra = while_open(folder) if while_open else None
    return case, extra


def slice_of(vol: np.ndarray, view: str, index: int) -> np.ndarray:
    """A 2-D slice (rows top to bottom) of an (X, Y, Z) volume in ``view``."""
    s = {"axial": vol[:, :, index], "coronal": vol[:, index, :], "sagittal": vol[index, :, :]}[view]
    return np.rot90(s)


def n_slices(shape: tuple[int, ...], view: str) -> int:
    return shape[{"axial": 2, "coronal": 1, "sagittal": 0}[view]]


def to_gray(image2d: np.ndarray) -> np.ndarray:
    nz = image2d[image2d != 0]
    lo, hi = (np.percentile(nz, (1, 99)) if nz.size else (0.0, 1.0))
    g = np.clip((image2d - lo) / max(hi - lo, 1e-6), 0, 1)
    return (np.stack([g] * 3, -1) * 255).astype(np.uint8)


def overlay(image2d: np.ndarray, labels2d: np.ndarray | None, show: set[int], alpha: float = 0.5) -> np.ndarray:
    """RGB uint8 of the image with the labels in ``show`` blended in their colours."""
    rgb = to_gray(image2d).astype(np.float32)
    if labels2d is not None:
        for k in show:
            m = labels2d == k
            rgb[m] = (1 - alpha) * rgb[m] + alpha * np.array(LABEL_RGB[k], np.float32)
    return rgb.astype(np.uint8)


def error_map(image2d: np.ndarray, pred2d: np.ndarray, gt2d: np.ndarray) -> np.ndarray:
    """Whole tumour agreement: true positives white, false positives red, false negatives blue, over the image."""
    rgb = (to_gray(image2d).astype(np.float32) * 0.5)
    p, g = pred2d > 0, gt2d > 0
    for m, colour in ((p & g, (255, 255, 255)), (p & ~g, (255, 40, 40)), (~p & g, (40, 120, 255))):
        rgb[m] = colour
    return rgb.astype(np.uint8)


def volumes_cm3(labels: np.ndarray, spacing: tuple[float, ...], source: str | None = None) -> dict[str, float]:
    """Volume of each region of the case's label scheme (glioma WT/TC/ET, + RC for 2024 GLI, GTV for MEN-RT)."""
    from brats_mlops.data.case import scheme_of

    voxel = float(np.prod(spacing)) / 1000.0
    regions = scheme_of(source).regions if source else REGIONS
    return {r.upper(): float(np.isin(labels, codes).sum() * voxel) for r, codes in regions.items()}


def case_scores(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], source: str | None = None) -> dict[str, float]:
    """Whole-volume Dice and HD95 per region of the case's label scheme, and their mean Dice (the composite)."""
    from brats_mlops.data.case import scheme_of
    from brats_mlops.metrics import hd95, region_dice, region_masks

    regions = scheme_of(source).regions if source else REGIONS
    dice = region_dice(pred, gt, regions)
    pm, gm = region_masks(pred, regions), region_masks(gt, regions)
    out = {f"dice_{r}": d for r, d in dice.items()}
    out["dice_brats"] = float(np.mean([dice[r] for r in ("wt", "tc", "et") if r in dice] or list(dice.values())))
    out.update({f"hd95_{r}": hd95(pm[r], gm[r], spacing) for r in regions})
    return out


def nifti_bytes(labels: np.ndarray, case: ViewerCase) -> bytes:
    """The prediction as ``.nii.gz`` bytes in the input's label convention, with its affine and header."""
    from brats_mlops.registry.segmentation import to_convention

    from brats_mlops.data.case import LABEL_MAPS

    out = to_convention(labels, case.source if case.source in LABEL_MAPS else "brats2020")
    header = case.header.copy()
    header.set_data_dtype(np.uint8)
    return gzip.compress(nib.Nifti1Image(out.astype(np.uint8), case.affine, header).to_bytes())
