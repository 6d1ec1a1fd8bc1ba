"""Make the task-label test pairs of this folder (deterministic; run once, the files are committed).

Each pair is ``<name>/gt.nii.gz`` + ``<name>/pred.nii.gz`` in the labels of the task named in ``PAIRS`` and carries the
edge cases the 2023 pairs (``../brats2023_official_cases``) lack: a resection cavity (2024+ GLI label 4), the
paediatric labels with a cystic component, many small lesions at anisotropic spacing, and volumes with no tumour.
The expected numbers beside them come from the official scorers (see ``README.md``).

    python tests/data/brats_task_pairs/make_pairs.py
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).parent


def ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)):
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing))
    return d2 <= radius ** 2


def save(folder: Path, name: str, arr: np.ndarray, spacing) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(arr.astype(np.uint8), np.diag([*spacing, 1.0]))
    img.header.set_zooms(spacing)
    nib.save(img, folder / f"{name}.nii.gz")


def gli_rc():
    """2024+ GLI labels (1 NETC, 2 SNFH, 3 ET, 4 RC): a tumour beside a resection cavity, 1×1×1.5 mm."""
    sp, shape = (1.0, 1.0, 1.5), (64, 64, 40)
    gt = np.zeros(shape, np.uint8)
    gt[ball(shape, (30, 30, 20), 14, sp)] = 2
    gt[ball(shape, (30, 30, 20), 8, sp)] = 3
    gt[ball(shape, (30, 30, 20), 4, sp)] = 1
    gt[ball(shape, (48, 30, 20), 6, sp)] = 4          # cavity touching the edema
    gt[ball(shape, (12, 52, 8), 2.5, sp)] = 3          # a small satellite ET lesion
    pred = np.zeros(shape, np.uint8)
    pred[ball(shape, (31, 29, 20), 13, sp)] = 2
    pred[ball(shape, (31, 29, 20), 8, sp)] = 3
    pred[ball(shape, (31, 29, 21), 5, sp)] = 1
    pred[ball(shape, (47, 31, 20), 5, sp)] = 4
    pred[ball(shape, (10, 10, 30), 3, sp)] = 4         # a false-positive cavity far away
    return gt, pred, sp


def gli_merge():
    """2024+ GLI labels: two NETC cores 16 voxels apart inside one elongated ET lesion (the 2024 code merges lesions
    of one tissue that touch the same lesion of another), two separate edema lesions, a cavity touching both; 1 mm."""
    sp, shape = (1.0, 1.0, 1.0), (72, 48, 40)
    gt = np.zeros(shape, np.uint8)
    for c in ((22, 24, 20), (50, 24, 20)):
        gt[ball(shape, c, 9)] = 2
    gt[18:55, 20:29, 16:25] = 3
    gt[ball(shape, (24, 24, 20), 3)] = 1
    gt[ball(shape, (48, 24, 20), 3)] = 1
    gt[ball(shape, (36, 38, 20), 5)] = 4
    pred = np.zeros(shape, np.uint8)
    for c in ((23, 24, 20), (49, 25, 20)):
        pred[ball(shape, c, 8)] = 2
    pred[19:54, 20:28, 16:24] = 3
    pred[ball(shape, (25, 24, 20), 3)] = 1
    pred[ball(shape, (36, 37, 20), 4)] = 4
    pred[ball(shape, (8, 8, 34), 1.0)] = 3                 # a dust ET component (7 voxels <= 10): deleted before scoring
    pred[ball(shape, (64, 40, 6), 2.0)] = 3                # an ET false positive (33 voxels): kept
    return gt, pred, sp


def ped_cc():
    """2024+ PED labels (1 ET, 2 NETC, 3 CC, 4 ED), with a cystic component; 1 mm."""
    sp, shape = (1.0, 1.0, 1.0), (56, 56, 48)
    gt = np.zeros(shape, np.uint8)
    gt[ball(shape, (28, 28, 24), 15)] = 4
    gt[ball(shape, (28, 28, 24), 10)] = 2
    gt[ball(shape, (24, 28, 24), 5)] = 3
    gt[ball(shape, (33, 28, 24), 4)] = 1
    pred = np.zeros(shape, np.uint8)
    pred[ball(shape, (29, 28, 24), 14)] = 4
    pred[ball(shape, (29, 28, 24), 10)] = 2
    pred[ball(shape, (25, 27, 24), 4)] = 3
    pred[ball(shape, (6, 6, 6), 2)] = 1                # ET false positive; the GT ET is missed
    return gt, pred, sp


def mets_many_small():
    """2023 labels (1 NETC, 2 SNFH, 3 ET): 24 metastases of 1–60 voxels and two large ones, 0.9×0.9×2 mm."""
    rng = np.random.default_rng(20261202)
    sp, shape = (0.9, 0.9, 2.0), (80, 80, 40)
    gt = np.zeros(shape, np.uint8)
    pred = np.zeros(shape, np.uint8)
    for c in ((20, 20, 20), (60, 58, 18)):
        gt[ball(shape, c, 9, sp)] = 2
        gt[ball(shape, c, 5, sp)] = 3
        gt[ball(shape, c, 2, sp)] = 1
        c2 = (c[0] + 1, c[1], c[2])
        pred[ball(shape, c2, 8, sp)] = 2
        pred[ball(shape, c2, 5, sp)] = 3
    centres = [(int(x), int(y), int(z)) for x, y, z in zip(rng.integers(4, 76, 40), rng.integers(4, 76, 40), rng.integers(3, 37, 40))]
    placed = 0
    for c in centres:
        r = float(rng.uniform(0.5, 3.2))
        m = ball(shape, c, r, sp)
        if (gt[np.pad(m, 0)] > 0).any() or m.sum() == 0:
            continue
        gt[m] = 3
        placed += 1
        roll = rng.random()
        if roll < 0.55:
            pred[ball(shape, c, r, sp)] = 3                       # found
        elif roll < 0.75:
            pred[ball(shape, (c[0] + 1, c[1], c[2]), r * 0.7, sp)] = 3  # found, shifted and smaller
        if placed == 24:
            break
    for c in ((70, 10, 30), (8, 70, 6)):
        pred[ball(shape, c, 1.5, sp)] = 3                          # false positives
    return gt, pred, sp


def empty_both():
    """No tumour anywhere, in prediction or ground truth (every group empty)."""
    sp, shape = (1.0, 1.0, 1.0), (32, 32, 32)
    z = np.zeros(shape, np.uint8)
    return z, z.copy(), sp


def empty_pred():
    """A tumour the prediction misses entirely (2023 labels)."""
    sp, shape = (1.0, 1.0, 1.0), (40, 40, 40)
    gt = np.zeros(shape, np.uint8)
    gt[ball(shape, (20, 20, 20), 10)] = 2
    gt[ball(shape, (20, 20, 20), 5)] = 3
    return gt, np.zeros(shape, np.uint8), sp


# name -> (maker, the task whose labels the pair is in)
PAIRS = {"gli_rc": (gli_rc, "gli2024"), "gli_merge": (gli_merge, "gli2024"), "ped_cc": (ped_cc, "ped2024"), "mets_many_small": (mets_many_small, "brats2023"),
         "empty_both": (empty_both, "brats2023"), "empty_pred": (empty_pred, "brats2023")}


if __name__ == "__main__":
    for name, (make, _) in PAIRS.items():
        gt, pred, sp = make()
        save(HERE / name, "gt", gt, sp)
        save(HERE / name, "pred", pred, sp)
        print(name, {int(v): int((gt == v).sum()) for v in np.unique(gt)}, {int(v): int((pred == v).sum()) for v in np.unique(pred)})
