"""The internal case model and label convention every reader produces.

Internal label convention (documented in README, used by every later stage):

=====  =============================================  ===========================================
label  meaning                                        raw label in BraTS 2020 / 2021-2023 / 2024 / MSD
=====  =============================================  ===========================================
0      background (air and healthy tissue)            0 / 0 / 0 and 4 / 0
1      necrotic and non-enhancing tumour core (NCR)   1 / 1 / 1 / 2
2      peritumoral edema (ED; 2023+: SNFH)            2 / 2 / 2 / 1
3      enhancing tumour (ET)                          4 / 3 / 3 / 3
=====  =============================================  ===========================================

Regions: whole tumour WT = {1, 2, 3}; tumour core TC = {1, 3}; enhancing tumour ET = {3}.
Preprocessing may add label 4 = healthy brain tissue (the paper's "label 5").

BraTS 2024 (GLI post-treatment) adds raw label 4 = resection cavity (RC). It is not tumour: the 2024 regions
are WT = {1, 2, 3}, TC = {1, 3}, ET = {3} as in 2023, so RC maps to internal background for training and
regions, and is scored on its own (``dice_rc``) only by ``brats-mlops evaluate --labels brats2024``.

Modalities use the BraTS 2020 names ``t1, t1ce, t2, flair`` in that channel order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

INTERNAL_LABELS = {0: "background", 1: "necrotic/non-enhancing core", 2: "edema", 3: "enhancing tumour"}
HEALTHY_LABEL = 4
REGIONS = {"wt": (1, 2, 3), "tc": (1, 3), "et": (3,)}

# raw label -> internal label, per source
LABEL_MAPS: dict[str, dict[int, int]] = {
    "synthetic": {0: 0, 1: 1, 2: 2, 4: 3},
    "brats2020": {0: 0, 1: 1, 2: 2, 4: 3},
    "brats2023": {0: 0, 1: 1, 2: 2, 3: 3},
    "brats2024": {0: 0, 1: 1, 2: 2, 3: 3, 4: 0},  # 4 = resection cavity: not tumour (see module docstring)
    "msd": {0: 0, 1: 2, 2: 1, 3: 3},
    # BraTS 2024+ paediatric: 1 ET, 2 NETC, 3 CC (cystic component), 4 ED. TC = 1+2+3, so CC joins the core (internal 1);
    # the 2025-PED profile scores CC on its own from the raw labels (metrics/brats2025.py).
    "ped2024": {0: 0, 1: 3, 2: 1, 3: 1, 4: 2},
}
# What each raw label means, per convention (used in messages and by `brats-mlops evaluate --labels`).
LABEL_NAMES: dict[str, dict[int, str]] = {
    "brats2020": {0: "background", 1: "NCR/NET", 2: "ED", 4: "ET"},
    "brats2023": {0: "background", 1: "NETC", 2: "SNFH", 3: "ET"},
    "brats2024": {0: "background", 1: "NETC", 2: "SNFH", 3: "ET", 4: "RC (resection cavity)"},
    "msd": {0: "background", 1: "edema", 2: "non-enhancing tumour", 3: "enhancing tumour"},
    "ped2024": {0: "background", 1: "ET", 2: "NETC", 3: "CC (cystic component)", 4: "ED"},
    "menrt": {0: "background", 1: "GTV (gross tumour volume)"},  # MEN-RT: scored only (2025-MEN-RT), no internal map
}
LABEL_NAMES["synthetic"] = LABEL_NAMES["brats2020"]
CONVENTIONS = ("brats2020", "brats2023", "brats2024", "msd", "ped2024", "menrt")  # the label conventions users name
RESECTION_CAVITY = {"brats2024": 4}  # raw label of the resection cavity, where a convention has one


def invert_label_map(label_map: dict[int, int]) -> dict[int, int]:
    """internal label -> raw label. Where several raw labels map to one internal label (BraTS 2024: 0 and 4 ->
    background), the first wins, so internal background is written as raw 0."""
    inv: dict[int, int] = {}
    for raw, internal in label_map.items():
        inv.setdefault(internal, raw)
    return inv


def inverse_label_map(source: str) -> dict[int, int]:
    """internal label -> raw label of ``source`` (to write predictions in the input's convention)."""
    return invert_label_map(LABEL_MAPS[source])


@dataclass(frozen=True)
class ImageRef:
    """One image on disk; ``channel`` selects a volume of a 4-D file (MSD)."""

    path: Path
    channel: int | None = None

    def __str__(self) -> str:
        return f"{self.path}" + (f"[channel {self.channel}]" if self.channel is not None else "")


@dataclass
class ClinicalRecord:
    """One row of the survival table, parsed. ``problems`` empty means usable for survival."""

    case_id: str
    age: float | None
    survival_raw: str | None
    survival_days: float | None
    event: int | None  # 1 = death observed, 0 = censored (ALIVE ...)
    resection: str | None
    problems: list[str] = field(default_factory=list)


@dataclass
class Case:
    """A case as every reader returns it."""

    case_id: str
    source: str
    role: Literal["labelled", "unlabelled"]
    folder: Path
    images: dict[str, ImageRef]  # configured modalities that were found
    seg: ImageRef | None
    label_map: dict[int, int]
    clinical: ClinicalRecord | None = None
    problems: list[str] = field(default_factory=list)  # problems found while discovering files
    notes: list[str] = field(default_factory=list)  # quirks handled (not problems)
