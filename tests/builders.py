"""Tiny on-disk datasets of every supported layout, with the quirks and bad inputs the tests need."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np

from brats_mlops.config.schema import SyntheticParams
from brats_mlops.data.synthetic import TRAIN_DIR, generate_dataset

TINY = dict(shape=(24, 24, 20), spacing=(7.0, 7.0, 7.0), template="procedural")


def tiny_synthetic(root: Path, n_train: int = 6, n_validation: int = 2, seed: int = 7, **kw) -> Path:
    cfg = SyntheticParams(n_train=n_train, n_validation=n_validation, seed=seed, survival_fraction=1.0,
                          alive_fraction=0.0, missing_age_fraction=0.0, **{**TINY, **kw})
    generate_dataset(root, cfg, num_workers=1)
    return root


def _save(arr: np.ndarray, path: Path, affine: np.ndarray | None = None) -> None:
    nib.save(nib.Nifti1Image(arr, np.eye(4) if affine is None else affine), str(path))


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


# what each bad case of `brats2020_with_problems` should get
IMAGING_BAD = {
    "BraTS20_Training_002": ("files_readable", "t1"),  # truncated .nii.gz
    "BraTS20_Training_003": ("modalities_present", "t1ce"),  # missing modality
    "BraTS20_Training_004": ("shapes_agree", "flair"),  # different shape
    "BraTS20_Training_005": ("affines_agree", "t2"),  # different affine
    "BraTS20_Training_006": ("finite_voxels", "t1"),  # NaN / Inf
    "BraTS20_Training_007": ("labels_in_scheme", "seg"),  # label 3 in a BraTS 2020 seg
    "BraTS20_Training_008": ("seg_not_empty", "seg"),  # empty seg
    "BraTS20_Training_009": ("images_not_empty", "t2"),  # all-zero image
    "BraTS20_Training_010": ("files_readable", "flair"),  # not a NIfTI at all
}
CLINICAL_ONLY = {
    "BraTS20_Training_001": "duplicate",  # duplicate CSV row
    "BraTS20_Training_014": "Age is empty",
    "BraTS20_Training_015": "Survival_days",  # 'unknown'
    "BraTS20_Training_016": "no row",  # folder without CSV row
}
QUIRKS_OK = {
    "BraTS20_Training_011": "seg named W39_1998.09.19_Segm.nii",
    "BraTS20_Training_012": "uncompressed .nii files",
    "BraTS20_Training_013": "ALIVE (361 days later)",
}
ORPHAN_ROW = "BraTS20_Training_999"


def brats2020_with_problems(root: Path) -> Path:
    """A BraTS 2020 layout (16 labelled + 2 unlabelled cases) with every quirk and bad input of issue 2."""
    tiny_synthetic(root, n_train=16, n_validation=2, seed=11)
    tr = root / TRAIN_DIR

    def f(cid: str, mod: str) -> Path:
        return tr / cid / f"{cid}_{mod}.nii.gz"

    def load(cid: str, mod: str):
        img = nib.load(str(f(cid, mod)))
        return np.asarray(img.dataobj), img.affine

    # 002 truncated gzip
    p = f("BraTS20_Training_002", "t1")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    # 003 missing t1ce
    f("BraTS20_Training_003", "t1ce").unlink()
    # 004 flair of another shape
    a, aff = load("BraTS20_Training_004", "flair")
    _save(a[:-2], f("BraTS20_Training_004", "flair"), aff)
    # 005 t2 with another affine
    a, aff = load("BraTS20_Training_005", "t2")
    aff2 = aff.copy()
    aff2[0, 3] += 5.0
    _save(a, f("BraTS20_Training_005", "t2"), aff2)
    # 006 NaN and Inf voxels
    a, aff = load("BraTS20_Training_006", "t1")
    a = a.astype(np.float32)
    a[5, 5, 5] = np.nan
    a[6, 6, 6] = np.inf
    _save(a, f("BraTS20_Training_006", "t1"), aff)
    # 007 label 3 (not in the 2020 scheme)
    a, aff = load("BraTS20_Training_007", "seg")
    a = a.copy()
    a[a == 4] = 3
    _save(a, f("BraTS20_Training_007", "seg"), aff)
    # 008 empty seg
    a, aff = load("BraTS20_Training_008", "seg")
    _save(np.zeros_like(a), f("BraTS20_Training_008", "seg"), aff)
    # 009 all-zero t2
    a, aff = load("BraTS20_Training_009", "t2")
    _save(np.zeros_like(a), f("BraTS20_Training_009", "t2"), aff)
    # 010 flair is not a NIfTI file
    f("BraTS20_Training_010", "flair").write_bytes(gzip.compress(b"this is not a nifti file"))
    # 011 quirk: seg named like case 355's
    cid = "BraTS20_Training_011"
    a, aff = load(cid, "seg")
    f(cid, "seg").unlink()
    _save(a, tr / cid / "W39_1998.09.19_Segm.nii", aff)
    # 012 quirk: uncompressed .nii files
    cid = "BraTS20_Training_012"
    for mod in ("t1", "t1ce", "t2", "flair", "seg"):
        a, aff = load(cid, mod)
        f(cid, mod).unlink()
        _save(a, tr / cid / f"{cid}_{mod}.nii", aff)
    # survival table with its quirks
    rows = []
    for i in range(1, 16):
        cid = f"BraTS20_Training_{i:03d}"
        age, surv, res = f"{50 + i}.5", str(100 + 40 * i), "GTR"
        if i == 13:
            surv = "ALIVE (361 days later)"
        if i == 14:
            age = ""
        if i == 15:
            surv = "unknown"
        if i == 4:
            res = ""
        rows.append([cid, age, surv, res])
    rows.append(["BraTS20_Training_001", "51.5", "999", "GTR"])  # duplicate id
    rows.append([ORPHAN_ROW, "60", "300", "GTR"])  # row without a case folder
    write_csv(tr / "survival_info.csv", ["Brats20ID", "Age", "Survival_days", "Extent_of_Resection"], rows)
    return root


def brats2023_tiny(root: Path, n: int = 3, with_validation: bool = True) -> Path:
    """BraTS 2023 GLI layout built from tiny synthetic cases (labels 1, 2, 3)."""
    src = tiny_synthetic(root / "_src", n_train=n, n_validation=1 if with_validation else 0, seed=23)
    names = {"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f"}
    for j, case in enumerate(sorted((src / TRAIN_DIR).glob("BraTS20_*"))):
        cid = f"BraTS-GLI-{j:05d}-000"
        d = root / "ASNR-MICCAI-BraTS2023-GLI-Challenge-TrainingData" / cid
        d.mkdir(parents=True)
        for mod, new in names.items():
            shutil.copy(case / f"{case.name}_{mod}.nii.gz", d / f"{cid}-{new}.nii.gz")
        img = nib.load(str(case / f"{case.name}_seg.nii.gz"))
        seg = np.asarray(img.dataobj).copy()
        seg[seg == 4] = 3
        _save(seg.astype(np.uint8), d / f"{cid}-seg.nii.gz", img.affine)
    if with_validation:
        case = next((src / "MICCAI_BraTS2020_ValidationData").glob("BraTS20_*"))
        cid = "BraTS-GLI-90000-000"
        d = root / "ASNR-MICCAI-BraTS2023-GLI-Challenge-ValidationData" / cid
        d.mkdir(parents=True)
        for mod, new in names.items():
            shutil.copy(case / f"{case.name}_{mod}.nii.gz", d / f"{cid}-{new}.nii.gz")
    shutil.rmtree(src)
    return root


def msd_tiny(root: Path, n: int = 3) -> Path:
    """MSD Task01_BrainTumour layout: 4-D images (FLAIR, T1w, t1gd, T2w), labels 1 edema, 2 NET, 3 ET."""
    src = tiny_synthetic(root.parent / (root.name + "_src"), n_train=n, n_validation=0, seed=31)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    order = ["flair", "t1", "t1ce", "t2"]
    for j, case in enumerate(sorted((src / TRAIN_DIR).glob("BraTS20_*"))):
        cid = f"BRATS_{j + 1:03d}"
        vols = [np.asarray(nib.load(str(case / f"{case.name}_{m}.nii.gz")).dataobj) for m in order]
        aff = nib.load(str(case / f"{case.name}_t1.nii.gz")).affine
        _save(np.stack(vols, -1).astype(np.float32), root / "imagesTr" / f"{cid}.nii.gz", aff)
        seg = np.asarray(nib.load(str(case / f"{case.name}_seg.nii.gz")).dataobj)
        msd = np.zeros_like(seg)
        msd[seg == 2], msd[seg == 1], msd[seg == 4] = 1, 2, 3
        _save(msd.astype(np.uint8), root / "labelsTr" / f"{cid}.nii.gz", aff)
    # the archive's macOS resource-fork files
    (root / "imagesTr" / "._BRATS_001.nii.gz").write_bytes(b"\x00\x05\x16\x07")
    meta = {"name": "BRATS", "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
            "labels": {"0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour"}}
    (root / "dataset.json").write_text(json.dumps(meta))
    shutil.rmtree(src)
    return root


def _cavity(raw: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """A resection cavity: a ball inside the brain where it is farthest from both the tumour and the brain's edge."""
    from scipy import ndimage

    room = np.minimum(ndimage.distance_transform_edt(raw == 0), ndimage.distance_transform_edt(brain))
    centre = np.unravel_index(int(np.argmax(room)), raw.shape)
    r = float(np.clip(room[centre] - 1, 2, 4))
    grid = np.indices(raw.shape).transpose(1, 2, 3, 0)
    return (np.linalg.norm(grid - np.array(centre), axis=-1) <= r) & brain & (raw == 0)


def edition_tiny(root: Path, edition: str, n: int = 3, seed: int = 41, **kw) -> Path:
    """A dataset folder in any edition's naming and labels (``data/editions.py``), made from tiny synthetic cases:
    the edition's case ids, modality suffixes and label values (tumour labels mapped from the internal ones; a
    resection cavity where the convention has one, a cystic component for the paediatric labels, the GTV for MEN-RT).
    The dataset folder carries the year as the challenges name theirs (``BraTS2024-PED-TrainingData``)."""
    from brats_mlops.data.case import inverse_label_map
    from brats_mlops.data.editions import EDITIONS

    e = EDITIONS[edition]
    if e.naming == "msd":
        return msd_tiny(root, n)
    src = tiny_synthetic(root.parent / (root.name + "_src"), n_train=n, n_validation=0, seed=seed, **kw)
    parent = root / ("MICCAI_BraTS2020_TrainingData" if e.naming == "brats2020" and e.year != 2021
                     else f"BraTS{e.year or 2020}-{e.task or 'GLI'}-TrainingData")
    ids = {"BraTS20_Training_001": "BraTS20_Training_{:03d}", "BraTS2021_00000": "BraTS2021_{:05d}",
           f"BraTS-{e.task}-00000-000": f"BraTS-{e.task}-{{:05d}}-000", f"BraTS-{e.task}-0000-1": f"BraTS-{e.task}-{{:04d}}-1"}
    (fmt,) = [f for example, f in ids.items() if re.fullmatch(e.case_pattern, example)]
    to_raw = inverse_label_map(e.name) if e.trainable else {}
    for j, case in enumerate(sorted((src / TRAIN_DIR).glob("BraTS20_*"))):
        cid = fmt.format(j + 1)
        d = parent / cid
        d.mkdir(parents=True)
        img = nib.load(str(case / f"{case.name}_seg.nii.gz"))
        internal = np.select([np.asarray(img.dataobj) == v for v in (1, 2, 4)], [1, 2, 3], 0)
        raw = np.vectorize(lambda v: to_raw.get(int(v), 0))(internal) if e.scheme.name != "gtv" else (internal > 0)
        raw = raw.astype(np.uint8)  # MEN-RT: one GTV label
        cavity = None
        if e.labels.resection_cavity is not None:
            cavity = _cavity(raw, np.asarray(nib.load(str(case / f"{case.name}_t1ce.nii.gz")).dataobj) > 0)
            raw[cavity] = e.labels.resection_cavity
        for mod, suffix in e.modalities.items():
            out = d / f"{cid}{e.separator}{suffix}.nii.gz"
            if cavity is None:
                shutil.copy(case / f"{case.name}_{mod}.nii.gz", out)
                continue
            m = nib.load(str(case / f"{case.name}_{mod}.nii.gz"))
            arr = np.asarray(m.dataobj).astype(np.float32)
            arr[cavity] *= 1.6 if mod in ("t2", "flair") else 0.3  # fluid: dark in T1/T1c, bright in T2/FLAIR
            _save(arr, out, m.affine)
        if e.convention == "ped2024":
            core = np.argwhere(raw == 2)
            if len(core):
                raw[tuple(core[: max(1, len(core) // 2)].T)] = 3  # part of NETC is cystic (CC)
        _save(raw.astype(np.uint8), d / f"{cid}{e.separator}{e.seg_suffix}.nii.gz", img.affine)
    shutil.rmtree(src)
    return root
