"""BraTS editions and tasks, each one entry: naming, modalities, labels, official metric profile.

An :class:`Edition` is what ``data.source`` (and ``--source``) names. Everything that depends on which dataset a
folder holds reads it from here: the readers (folder and file naming, case-id pattern, where the segmentation is),
validation (which label values are allowed), preprocessing (raw → internal labels), ``evaluate`` (the label
convention and the official metric profile), ``predict`` (the labels written back), the CLI choices and the run tags.
Adding an edition is adding one entry to :data:`EDITIONS` (``tests/data/test_editions.py`` adds one in a test).

A **label convention** (:data:`CONVENTIONS`) is a set of raw label values with their names, the internal label scheme
the platform trains on (``data/labels.py``: ``glioma`` 1 NCR/NETC, 2 ED/SNFH, 3 ET; ``glioma+rc`` adds 4 resection
cavity; ``gtv`` one gross tumour volume) and the map from raw to internal labels. Several editions share one
convention (BraTS 2020 and 2021: 1, 2, 4; 2021-2023 glioma: 1, 2, 3).

``data.source: auto`` detects the edition from a folder's naming (:func:`detect`) where that is unambiguous: the task
from the case folders (``BraTS-PED-00001-000``), the year from the dataset folder's name
(``ASNR-MICCAI-BraTS2023-GLI-Challenge-TrainingData``) where several years share one task's naming.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from brats_mlops.data.labels import LabelScheme, get_scheme
from brats_mlops.errors import UserError


@dataclass(frozen=True)
class Convention:
    """Raw label values of a dataset family, their names, raw → internal labels of its scheme (``None``: not
    trainable), and the internal label scheme (``data/labels.py``)."""

    name: str
    names: dict[int, str]
    to_internal: dict[int, int] | None
    resection_cavity: int | None = None  # the raw label of the resection cavity, where there is one
    scheme: str = "glioma"


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("brats2020", {0: "background", 1: "NCR/NET", 2: "ED", 4: "ET"}, {0: 0, 1: 1, 2: 2, 4: 3}),
    Convention("brats2023", {0: "background", 1: "NETC", 2: "SNFH", 3: "ET"}, {0: 0, 1: 1, 2: 2, 3: 3}),
    # 4 = resection cavity: not tumour (not in WT/TC/ET), trained and scored as its own label and region
    Convention("brats2024", {0: "background", 1: "NETC", 2: "SNFH", 3: "ET", 4: "RC (resection cavity)"},
               {0: 0, 1: 1, 2: 2, 3: 3, 4: 4}, resection_cavity=4, scheme="glioma+rc"),
    Convention("msd", {0: "background", 1: "edema", 2: "non-enhancing tumour", 3: "enhancing tumour"}, {0: 0, 1: 2, 2: 1, 3: 3}),
    # 2024+ paediatric: TC = ET + NETC + CC, so the cystic component joins the core (internal 1) for training
    Convention("ped2024", {0: "background", 1: "ET", 2: "NETC", 3: "CC (cystic component)", 4: "ED"}, {0: 0, 1: 3, 2: 1, 3: 1, 4: 2}),
    Convention("menrt", {0: "background", 1: "GTV (gross tumour volume)"}, {0: 0, 1: 1}, scheme="gtv"),
)}


@dataclass(frozen=True)
class Edition:
    """One dataset edition / challenge task as it ships."""

    name: str                     # the data.source value
    title: str
    naming: str                   # "brats2020": <id>/<id>_<mod>.nii.gz; "brats2023": <id>/<id>-<suffix>.nii.gz; "msd"
    case_pattern: str             # a case folder's name (full match); MSD: an image file's stem
    convention: str               # key of CONVENTIONS
    profile: str                  # official metric profile (metrics/profiles.py)
    modalities: dict[str, str] = field(default_factory=lambda: {"t1": "t1", "t1ce": "t1ce", "t2": "t2", "flair": "flair"})
    seg_suffix: str = "seg"
    separator: str = "_"          # between the case id and the modality suffix
    year: int | None = None       # the challenge year, when the naming alone does not tell it
    task: str = ""                # BraTS 2023+ task code in the case id (GLI, SSA, MEN, PED, MET, MEN-RT)
    survival: bool = False        # ships a survival table (BraTS 2020 survival_info.csv)
    note: str = ""

    @property
    def labels(self) -> Convention:
        return CONVENTIONS[self.convention]

    @property
    def trainable(self) -> bool:
        return self.labels.to_internal is not None

    @property
    def scheme(self) -> LabelScheme:
        """The internal labels and regions the platform trains on for this edition."""
        return get_scheme(self.labels.scheme)


B23 = {"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f"}  # BraTS 2023+ modality suffixes


def _b23(name: str, year: int, task: str, convention: str, profile: str, **kw) -> Edition:
    return Edition(name, f"BraTS {year} {task}", "brats2023", rf"BraTS-{task}-\d{{5}}-\d{{3}}", convention, profile,
                   modalities=dict(B23), separator="-", year=year, task=task, **kw)


EDITIONS: dict[str, Edition] = {e.name: e for e in (
    Edition("synthetic", "embedded synthetic data (BraTS 2020 layout)", "brats2020", r"BraTS20_(Training|Validation)_\d{3}",
            "brats2020", "2023-GLI", survival=True),
    Edition("brats2020", "BraTS 2020", "brats2020", r"BraTS20_(Training|Validation)_\d{3}", "brats2020", "2023-GLI",
            year=2020, survival=True, note="scored with the 2023 lesion-wise rule (the 2020 challenge ranked whole-volume Dice/HD95, also reported)"),
    Edition("brats2021", "BraTS 2021 (RSNA-ASNR-MICCAI)", "brats2020", r"BraTS2021_\d{5}", "brats2020", "2023-GLI", year=2021),
    _b23("brats2023", 2023, "GLI", "brats2023", "2023-GLI", note="alias of brats2023-gli (the name before editions)"),
    _b23("brats2023-gli", 2023, "GLI", "brats2023", "2023-GLI"),
    _b23("brats2023-ssa", 2023, "SSA", "brats2023", "2023-SSA"),
    _b23("brats2023-men", 2023, "MEN", "brats2023", "2023-MEN"),
    _b23("brats2023-ped", 2023, "PED", "brats2023", "2023-PED"),
    _b23("brats2023-met", 2023, "MET", "brats2023", "2023-MET"),
    _b23("brats2024", 2024, "GLI", "brats2024", "2024-GLI", note="alias of brats2024-gli (the name before editions)"),
    _b23("brats2024-gli", 2024, "GLI", "brats2024", "2024-GLI"),
    _b23("brats2024-ped", 2024, "PED", "ped2024", "2025-PED", note="scored with the 2025 rule (same labels; the 2024 PED code is not implemented)"),
    Edition("brats2024-men-rt", "BraTS 2024 MEN-RT (radiotherapy, one T1c, one GTV label)", "brats2023",
            r"BraTS-MEN-RT-\d{4}-\d", "menrt", "2025-MEN-RT", modalities={"t1ce": "t1c"}, seg_suffix="gtv", year=2024,
            task="MEN-RT", note="naming from the challenge's data description (<id>_t1c, <id>_gtv), not checked on the released data; one region (GTV)"),
    _b23("brats2025-gli", 2025, "GLI", "brats2024", "2025-GLI"),
    _b23("brats2025-met", 2025, "MET", "brats2024", "2025-MET"),
    _b23("brats2025-ped", 2025, "PED", "ped2024", "2025-PED"),
    _b23("brats2025-men", 2025, "MEN", "brats2023", "2025-MEN"),
    _b23("brats2025-goat", 2025, "GoAT", "brats2023", "2025-GoAT"),
    Edition("msd", "Medical Segmentation Decathlon Task01_BrainTumour", "msd", r"BRATS_\d{3}", "msd", "2023-GLI",
            modalities={"flair": "flair", "t1": "t1w", "t1ce": "t1gd", "t2": "t2w"}),
)}
ALIASES = {"brats2023": "brats2023-gli", "brats2024": "brats2024-gli"}


def get_edition(name: str) -> Edition:
    try:
        return EDITIONS[name]
    except KeyError:
        raise UserError(f"unknown data source {name!r}; choose one of auto, {', '.join(EDITIONS)}") from None


def _case_names(root: Path, limit: int = 2000) -> list[Path]:
    out: list[Path] = []
    for p in root.rglob("*"):
        if p.is_dir() or p.name.endswith((".nii.gz", ".nii")):
            out.append(p)
            if len(out) >= limit:
                break
    return out


def detect(root: str | Path) -> Edition:
    """The edition of the dataset under ``root``, from its naming alone; a :class:`UserError` saying which editions
    fit when the naming does not decide (set ``data.source`` to one of them) or when nothing fits."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"data root {root} does not exist or is not a folder (data.source=auto)")
    if (root / "dataset.json").is_file() and (root / "imagesTr").is_dir():
        return EDITIONS["msd"]
    paths = _case_names(root)
    fits = [e for e in EDITIONS.values() if e.name not in ALIASES and e.name != "synthetic" and e.naming != "msd"
            and any(re.fullmatch(e.case_pattern, p.name) for p in paths if p.is_dir())]
    years = {int(y) for p in paths for y in re.findall(r"BraTS[-_]?(20\d\d)", p.as_posix())}
    if len({(e.task, e.naming) for e in fits}) == 1 and len(fits) > 1:
        by_year = [e for e in fits if e.year in years]
        if len(by_year) == 1:
            return by_year[0]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise UserError(f"data.source=auto: {root} matches no known naming (BraTS20_Training_001/, BraTS2021_00000/, "
                        f"BraTS-GLI-00000-000/, MSD imagesTr/ + dataset.json); set data.source to one of {', '.join(EDITIONS)}")
    raise UserError(f"data.source=auto: the naming under {root} fits {', '.join(e.name for e in fits)}"
                    + (f" (dataset folder years {sorted(years)})" if years else " (no year in the dataset folder's name)")
                    + "; set data.source to the one it is")


def resolve(source: str, root: str | Path) -> Edition:
    """``data.source`` → its edition (``auto``: detected from ``root``)."""
    return detect(root) if source == "auto" else get_edition(source)


def edition_tag(source: str, root: str | Path) -> str:
    """The edition name a run is tagged with (``brats.edition``): ``data.source``, resolved when it is ``auto``."""
    try:
        return resolve(source, root).name
    except UserError:
        return f"{source} (undetected)"
