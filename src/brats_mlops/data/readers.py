"""Readers: discover the cases of a dataset root in any supported layout.

Each reader returns a :class:`DatasetIndex` of :class:`~brats_mlops.data.case.Case` objects in the internal
convention (see :mod:`brats_mlops.data.case`). Readers only look at names on disk; they never open voxel data,
and they never drop a case: whatever is wrong with a folder is written into ``Case.problems`` for the
validation stage to judge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from brats_mlops.data.case import LABEL_MAPS, Case, ClinicalRecord, ImageRef
from brats_mlops.data.clinical import read_clinical_table
from brats_mlops.errors import UserError

NIFTI_SUFFIXES = (".nii.gz", ".nii")

BRATS2023_MODALITIES = {"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f"}
MSD_MODALITY_NAMES = {"flair": "flair", "t1w": "t1", "t1gd": "t1ce", "t2w": "t2"}


class DatasetLayoutError(UserError, ValueError):
    """The root does not look like the requested layout at all."""


@dataclass
class DatasetIndex:
    source: str
    root: Path
    cases: list[Case]
    clinical_files: list[Path] = field(default_factory=list)
    clinical_table_of_role: dict[str, Path] = field(default_factory=dict)
    orphan_rows: list[ClinicalRecord] = field(default_factory=list)  # CSV rows with no case folder
    clinical_rows: list[tuple[ClinicalRecord, str]] = field(default_factory=list)  # every row, with its table's role
    duplicates: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, Case]:
        return {c.case_id: c for c in self.cases}


def _find_nifti(folder: Path, stem: str) -> Path | None:
    for suf in NIFTI_SUFFIXES:
        p = folder / f"{stem}{suf}"
        if p.is_file():
            return p
    return None


def _is_nifti(p: Path) -> bool:
    return p.is_file() and p.name.endswith(NIFTI_SUFFIXES) and not p.name.startswith("._")


def _attach_clinical(
    index: DatasetIndex, cases: list[Case], table: Path, with_survival: bool, role: str
) -> None:
    index.clinical_table_of_role[role] = table
    if not table.is_file():
        index.notes.append(f"no survival table at {table}")
        return
    index.clinical_files.append(table)
    records, dups = read_clinical_table(table, with_survival=with_survival)
    index.duplicates.update(dups)
    by_id = {c.case_id: c for c in cases}
    for rec in records:
        index.clinical_rows.append((rec, role))
        case = by_id.get(rec.case_id)
        if case is None:
            index.orphan_rows.append(rec)
        elif case.clinical is None or rec.problems:  # keep the (first) problematic duplicate visible
            case.clinical = rec


# --------------------------------------------------------------------------- BraTS 2020 (and synthetic)
def _brats2020_case(folder: Path, role: str, modalities: tuple[str, ...], source: str) -> Case:
    cid = folder.name
    images: dict[str, ImageRef] = {}
    problems: list[str] = []
    notes: list[str] = []
    for mod in modalities:
        p = _find_nifti(folder, f"{cid}_{mod}")
        if p is None:
            problems.append(f"missing modality {mod}: no {cid}_{mod}.nii(.gz) in {folder}")
        else:
            images[mod] = ImageRef(p)
    seg = None
    if role == "labelled":
        p = _find_nifti(folder, f"{cid}_seg")
        if p is None:
            # Known BraTS 2020 quirk: case 355's seg is W39_1998.09.19_Segm.nii
            cands = [q for q in sorted(folder.iterdir()) if _is_nifti(q) and re.search(r"seg", q.name, re.I)]
            cands = [q for q in cands if not any(q.name.startswith(f"{cid}_{m}.") for m in modalities)]
            if len(cands) == 1:
                p = cands[0]
                notes.append(f"segmentation read from non-standard file name {p.name}")
        if p is None:
            problems.append(f"missing segmentation: no {cid}_seg.nii(.gz) in {folder}")
        else:
            seg = ImageRef(p)
    return Case(cid, source, role, folder, images, seg, LABEL_MAPS[source], problems=problems, notes=notes)


def read_brats2020(root: Path, modalities: tuple[str, ...], source: str = "brats2020") -> DatasetIndex:
    """BraTS 2020: ``MICCAI_BraTS2020_TrainingData/BraTS20_Training_XXX/...`` (+ optional ValidationData).

    ``root`` may be the folder holding the Training/Validation folders or the training folder itself.
    """
    train = root / "MICCAI_BraTS2020_TrainingData"
    val = root / "MICCAI_BraTS2020_ValidationData"
    if not train.is_dir() and (any(root.glob("BraTS20_Training_*")) or any(root.glob("BraTS2021_*"))):
        train = root  # the training folder itself (BraTS 2021 ships BraTS2021_XXXXX folders in this naming, labels 1/2/4)
    if not train.is_dir() and not val.is_dir():
        raise DatasetLayoutError(
            f"{root}: not a BraTS 2020 layout (expected MICCAI_BraTS2020_TrainingData/ or BraTS20_Training_* folders)"
        )
    index = DatasetIndex(source, root, [])
    for folder, role, table, with_surv in (
        (train, "labelled", "survival_info.csv", True),
        (val, "unlabelled", "survival_evaluation.csv", False),
    ):
        if not folder.is_dir():
            continue
        cases = [
            _brats2020_case(d, role, modalities, source)
            for d in sorted(folder.iterdir())
            if d.is_dir() and d.name.startswith(("BraTS20_", "BraTS2021_"))
        ]
        _attach_clinical(index, cases, folder / table, with_survival=with_surv, role=role)
        index.cases.extend(cases)
    return index


# --------------------------------------------------------------------------- BraTS 2023
_B23 = re.compile(r"^BraTS-[A-Z]+-\d{5}-\d{3}$")


def read_brats2023(root: Path, modalities: tuple[str, ...], source: str = "brats2023") -> DatasetIndex:
    """BraTS 2021-2024: ``BraTS-GLI-XXXXX-XXX/BraTS-GLI-XXXXX-XXX-{t1n,t1c,t2w,t2f,seg}.nii.gz``.

    Folders under a parent whose name contains ``Validation`` are unlabelled; elsewhere a missing seg is a problem.
    ``source="brats2024"`` reads the same layout with the 2024 labels (4 = resection cavity, see ``data.case``).
    """
    folders = sorted({p for p in root.rglob("BraTS-*") if p.is_dir() and _B23.match(p.name)})
    if not folders:
        raise DatasetLayoutError(f"{root}: not a BraTS 2021-2024 layout (no BraTS-XXX-NNNNN-NNN folders found)")
    index = DatasetIndex(source, root, [])
    for folder in folders:
        cid = folder.name
        role = "unlabelled" if "validation" in folder.parent.name.lower() else "labelled"
        images, problems = {}, []
        for mod in modalities:
            suffix = BRATS2023_MODALITIES[mod]
            p = _find_nifti(folder, f"{cid}-{suffix}")
            if p is None:
                problems.append(f"missing modality {mod}: no {cid}-{suffix}.nii(.gz) in {folder}")
            else:
                images[mod] = ImageRef(p)
        seg = None
        if role == "labelled":
            p = _find_nifti(folder, f"{cid}-seg")
            if p is None:
                problems.append(f"missing segmentation: no {cid}-seg.nii(.gz) in {folder}")
            else:
                seg = ImageRef(p)
        index.cases.append(Case(cid, source, role, folder, images, seg, LABEL_MAPS[source], problems=problems))
    return index


# --------------------------------------------------------------------------- MSD Task01
def _msd_channels(root: Path) -> dict[str, int]:
    """Internal modality name -> channel of the 4-D images, from ``root/dataset.json``."""
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DatasetLayoutError(f"{root}: not an MSD layout (no dataset.json)")
    try:
        meta = json.loads(meta_path.read_text())
        return {MSD_MODALITY_NAMES[str(v).lower()]: int(k) for k, v in meta["modality"].items()}
    except (json.JSONDecodeError, KeyError, ValueError) as err:
        raise DatasetLayoutError(f"{meta_path}: cannot read the modality map: {err!r}") from None


def read_msd(root: Path, modalities: tuple[str, ...]) -> DatasetIndex:
    """MSD Task01_BrainTumour: 4-D ``imagesTr/BRATS_XXX.nii.gz`` with channel order from ``dataset.json``.

    macOS resource-fork files (``._BRATS_001.nii.gz``) shipped in the archive are ignored.
    """
    channel_of = _msd_channels(root)
    index = DatasetIndex("msd", root, [])
    for sub, role in (("imagesTr", "labelled"), ("imagesTs", "unlabelled")):
        folder = root / sub
        if not folder.is_dir():
            continue
        for img in sorted(p for p in folder.iterdir() if _is_nifti(p)):
            cid = img.name.split(".nii")[0]
            images, problems = {}, []
            for mod in modalities:
                if mod not in channel_of:
                    problems.append(f"missing modality {mod}: dataset.json lists {sorted(channel_of)}")
                else:
                    images[mod] = ImageRef(img, channel_of[mod])
            seg = None
            if role == "labelled":
                p = _find_nifti(root / "labelsTr", cid)
                if p is None:
                    problems.append(f"missing segmentation: no labelsTr/{cid}.nii(.gz) in {root}")
                else:
                    seg = ImageRef(p)
            index.cases.append(Case(cid, "msd", role, folder, images, seg, LABEL_MAPS["msd"], problems=problems))
    return index


READERS: dict[str, Callable[[Path, tuple[str, ...]], DatasetIndex]] = {
    "synthetic": lambda root, mods: read_brats2020(root, mods, source="synthetic"),
    "brats2020": read_brats2020,
    "brats2023": read_brats2023,
    "brats2024": lambda root, mods: read_brats2023(root, mods, source="brats2024"),
    "msd": read_msd,
}


def discover(source: str, root: str | Path, modalities: tuple[str, ...]) -> DatasetIndex:
    """Find every case of ``root`` in layout ``source``; raises :class:`DatasetLayoutError` on a wrong root."""
    if source not in READERS:
        raise DatasetLayoutError(f"unknown data source {source!r}; valid: {sorted(READERS)}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"data root {root} does not exist or is not a folder (data.source={source})")
    index = READERS[source](root, tuple(modalities))
    if not index.cases:
        raise DatasetLayoutError(f"{root}: no case folders found for data.source={source} (is data.root the dataset's top folder?)")
    return index


def _read_msd_case(image: Path, modalities: tuple[str, ...]) -> Case:
    """One MSD case: a 4-D ``imagesTr/BRATS_XXX.nii.gz`` (or ``imagesTs``) beside ``dataset.json``."""
    root = image.parent.parent
    channel_of = _msd_channels(root)
    missing = [m for m in modalities if m not in channel_of]
    if missing:
        raise DatasetLayoutError(f"{image}: modality(ies) {missing} not in {root / 'dataset.json'} (it lists {sorted(channel_of)})")
    cid = image.name.split(".nii")[0]
    seg = _find_nifti(root / "labelsTr", cid)
    return Case(cid, "msd", "labelled" if seg else "unlabelled", image.parent, {m: ImageRef(image, channel_of[m]) for m in modalities},
                ImageRef(seg) if seg else None, LABEL_MAPS["msd"])


def read_case_folder(folder: str | Path, modalities: tuple[str, ...]) -> Case:
    """One case: a folder in BraTS 2020/2021 (``<id>_t1ce.nii.gz``) or BraTS 2023/2024 (``<id>-t1c.nii.gz``) naming,
    or an MSD 4-D image file (``imagesTr/BRATS_001.nii.gz`` with ``dataset.json`` one level up).

    The seg, if present, is attached. Raises :class:`DatasetLayoutError` naming the folder when neither
    naming matches or a modality is missing.
    """
    folder = Path(folder)
    if folder.is_file() and _is_nifti(folder):
        return _read_msd_case(folder, modalities)
    if not folder.is_dir():
        raise DatasetLayoutError(f"case folder {folder} does not exist")
    cid = folder.name
    if any(folder.glob(f"{cid}-t1c.nii*")) or any(folder.glob(f"{cid}-t2f.nii*")):
        source = "brats2023"
        names = {m: f"{cid}-{BRATS2023_MODALITIES[m]}" for m in modalities}
        seg_stem = f"{cid}-seg"
    else:
        source = "brats2020"
        names = {m: f"{cid}_{m}" for m in modalities}
        seg_stem = f"{cid}_seg"
    images, missing = {}, []
    for m, stem in names.items():
        p = _find_nifti(folder, stem)
        if p is None:
            missing.append(f"{m} ({stem}.nii.gz)")
        else:
            images[m] = ImageRef(p)
    if missing:
        present = sorted(p.name for p in folder.iterdir() if _is_nifti(p))
        raise DatasetLayoutError(f"case folder {folder}: missing modality file(s) {', '.join(missing)}; found {present}")
    seg = _find_nifti(folder, seg_stem)
    return Case(cid, source, "labelled" if seg else "unlabelled", folder, images, ImageRef(seg) if seg else None, LABEL_MAPS[source])
