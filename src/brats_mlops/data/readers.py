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

from brats_mlops.data.case import Case, ClinicalRecord, ImageRef, label_map_of
from brats_mlops.data.clinical import read_clinical_table
from brats_mlops.data.editions import ALIASES, EDITIONS, Edition, detect, get_edition, resolve
from brats_mlops.errors import UserError

NIFTI_SUFFIXES = (".nii.gz", ".nii")

MSD_MODALITY_NAMES = {v: k for k, v in EDITIONS["msd"].modalities.items()}  # dataset.json name -> internal


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


# --------------------------------------------------------------------------- BraTS editions (folder per case)
def _folder_case(folder: Path, role: str, modalities: tuple[str, ...], edition: Edition) -> Case:
    """One case folder named as ``edition`` names it: ``<id><sep><suffix>.nii.gz`` per modality and the seg."""
    cid = folder.name
    images: dict[str, ImageRef] = {}
    problems: list[str] = []
    notes: list[str] = []
    for mod in modalities:
        suffix = edition.modalities.get(mod)
        if suffix is None:
            problems.append(f"missing modality {mod}: {edition.name} ships only {', '.join(edition.modalities)}")
            continue
        p = _find_nifti(folder, f"{cid}{edition.separator}{suffix}")
        if p is None:
            problems.append(f"missing modality {mod}: no {cid}{edition.separator}{suffix}.nii(.gz) in {folder}")
        else:
            images[mod] = ImageRef(p)
    seg = None
    if role == "labelled":
        stem = f"{cid}{edition.separator}{edition.seg_suffix}"
        p = _find_nifti(folder, stem)
        if p is None and edition.naming == "brats2020":
            # Known BraTS 2020 quirk: case 355's seg is W39_1998.09.19_Segm.nii
            own = tuple(f"{cid}{edition.separator}{s}." for s in edition.modalities.values())
            cands = [q for q in sorted(folder.iterdir()) if _is_nifti(q) and re.search(r"seg", q.name, re.I)
                     and not q.name.startswith(own)]
            if len(cands) == 1:
                p = cands[0]
                notes.append(f"segmentation read from non-standard file name {p.name}")
        if p is None:
            problems.append(f"missing segmentation: no {stem}.nii(.gz) in {folder}")
        else:
            seg = ImageRef(p)
    return Case(cid, edition.name, role, folder, images, seg, label_map_of(edition.name), problems=problems, notes=notes)


def read_folders(root: Path, modalities: tuple[str, ...], edition: Edition) -> DatasetIndex:
    """Every case folder under ``root`` whose name is ``edition``'s case id (any depth). A folder under a parent whose
    name contains ``Validation`` is unlabelled; elsewhere a missing segmentation is a problem. Editions that ship a
    survival table (BraTS 2020) read ``survival_info.csv`` beside the training cases and ``survival_evaluation.csv``
    beside the validation cases."""
    pattern = re.compile(edition.case_pattern)
    folders = sorted({p for p in root.rglob("*") if p.is_dir() and pattern.fullmatch(p.name)})
    if root.is_dir() and pattern.fullmatch(root.name):
        folders = [root]
    if not folders:
        raise DatasetLayoutError(f"{root}: not a {edition.title} layout (data.source={edition.name}: no case folders "
                                 f"named like {edition.case_pattern} found)" + _hint(root))
    index = DatasetIndex(edition.name, root, [])
    groups: dict[tuple[Path, str], list[Case]] = {}
    for folder in folders:
        role = "unlabelled" if "validation" in folder.parent.name.lower() else "labelled"
        groups.setdefault((folder.parent, role), []).append(_folder_case(folder, role, modalities, edition))
    for (parent, role), cases in groups.items():
        if edition.survival:
            table, with_surv = ("survival_info.csv", True) if role == "labelled" else ("survival_evaluation.csv", False)
            _attach_clinical(index, cases, parent / table, with_survival=with_surv, role=role)
        index.cases.extend(cases)
    return index


def _hint(root: Path) -> str:
    try:
        return f"; its naming is {detect(root).name}'s: set data.source to it (or auto)"
    except UserError:
        return ""


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
            index.cases.append(Case(cid, "msd", role, folder, images, seg, label_map_of("msd"), problems=problems))
    return index


def discover(source: str, root: str | Path, modalities: tuple[str, ...]) -> DatasetIndex:
    """Find every case of ``root`` as edition ``source`` names them (``auto``: detected from the naming,
    ``data/editions.py``); raises :class:`DatasetLayoutError` on a wrong root."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"data root {root} does not exist or is not a folder (data.source={source})")
    try:
        edition = resolve(source, root)
    except UserError as err:
        raise DatasetLayoutError(str(err)) from None
    index = read_msd(root, tuple(modalities)) if edition.naming == "msd" else read_folders(root, tuple(modalities), edition)
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
                ImageRef(seg) if seg else None, label_map_of("msd"))


def case_edition(folder: Path) -> Edition:
    """The edition whose naming a single case folder has: its name is the edition's case id and a modality file is
    there. Several years share one naming (BraTS-PED-…: 2023 with the glioma labels, 2024+ with their own): the year
    in the path (``BraTS2024-PED-TrainingData/…``) decides, else the oldest is taken (pass the edition to be sure)."""
    fits = [e for e in EDITIONS.values()
            if e.name not in ALIASES and e.name != "synthetic" and e.naming != "msd" and re.fullmatch(e.case_pattern, folder.name)
            and any(_find_nifti(folder, f"{folder.name}{e.separator}{s}") for s in e.modalities.values())]
    years = {int(y) for y in re.findall(r"BraTS[-_]?(20\d\d)", folder.resolve().parent.as_posix())}
    return next((e for e in fits if e.year in years), fits[0] if fits else EDITIONS["brats2020"])


def read_case_folder(folder: str | Path, modalities: tuple[str, ...], edition: str | None = None) -> Case:
    """One case: a folder in any BraTS edition's naming (``<id>_t1ce.nii.gz``, ``<id>-t1c.nii.gz``; ``edition`` names
    it, else :func:`case_edition` finds it), or an MSD 4-D image file (``imagesTr/BRATS_001.nii.gz`` with
    ``dataset.json`` one level up).

    The seg, if present, is attached. Raises :class:`DatasetLayoutError` naming the folder when a modality is missing.
    """
    folder = Path(folder)
    if folder.is_file() and _is_nifti(folder):
        return _read_msd_case(folder, modalities)
    if not folder.is_dir():
        raise DatasetLayoutError(f"case folder {folder} does not exist")
    ed = get_edition(edition) if edition else case_edition(folder)
    cid = folder.name
    images, missing = {}, []
    for m in modalities:
        stem = f"{cid}{ed.separator}{ed.modalities.get(m, m)}"
        p = _find_nifti(folder, stem)
        if p is None:
            missing.append(f"{m} ({stem}.nii.gz)")
        else:
            images[m] = ImageRef(p)
    if missing:
        present = sorted(p.name for p in folder.iterdir() if _is_nifti(p))
        raise DatasetLayoutError(f"case folder {folder}: missing modality file(s) {', '.join(missing)}; found {present}")
    seg = _find_nifti(folder, f"{cid}{ed.separator}{ed.seg_suffix}")
    return Case(cid, ed.name, "labelled" if seg else "unlabelled", folder, images, ImageRef(seg) if seg else None,
                label_map_of(ed.name))
