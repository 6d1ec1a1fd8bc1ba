"""The internal case model and label convention every reader produces.

Internal label convention (documented in docs/data.md, used by every later stage): a label scheme of ``data/labels.py``.
The ``glioma`` scheme, which most editions map onto:

=====  =============================================  ========================================================
label  meaning                                        raw label in BraTS 2020-21 / 2023 / 2024 GLI / MSD / PED 2024
=====  =============================================  ========================================================
0      background (air and healthy tissue)            0 / 0 / 0 / 0 / 0
1      necrotic and non-enhancing tumour core (NCR)   1 / 1 / 1 / 2 / 2 (NETC) and 3 (CC)
2      peritumoral edema (ED; 2023+: SNFH)            2 / 2 / 2 / 1 / 4
3      enhancing tumour (ET)                          4 / 3 / 3 / 3 / 1
=====  =============================================  ========================================================

BraTS 2024 GLI post-treatment (and 2025 GLI/MET) use ``glioma+rc``: raw 4 = resection cavity (RC) is internal 4, its
own label and region (not tumour: WT/TC/ET as in 2023). MEN-RT uses ``gtv``: one label, 1 = gross tumour volume.
The per-edition facts (naming, label values, scheme, official profile) live in ``data/editions.py``; the maps below
are derived from it.

Regions (glioma): whole tumour WT = {1, 2, 3}; tumour core TC = {1, 3}; enhancing tumour ET = {3}.
Preprocessing may add healthy brain tissue (the paper's "label 5") as the scheme's next label (4 for glioma).

Modalities use the BraTS 2020 names ``t1, t1ce, t2, flair`` in that channel order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from brats_mlops.data.editions import CONVENTIONS as _CONVENTIONS, EDITIONS
from brats_mlops.data.labels import GLIOMA_LABELS as INTERNAL_LABELS, GLIOMA_REGIONS as REGIONS, LabelScheme, get_scheme

HEALTHY_LABEL = 4  # the glioma scheme's healthy-brain label (LabelScheme.healthy_label in general)


class _Derived(Mapping):
    """A read-only view computed from data/editions.py at each lookup, so an edition added there (one entry) is
    known everywhere at once."""

    def __init__(self, build) -> None:
        self._build = build

    def __getitem__(self, key: str):
        return self._build()[key]

    def __iter__(self):
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


def _label_maps() -> dict[str, dict[int, int]]:
    out = {c.name: dict(c.to_internal) for c in _CONVENTIONS.values() if c.to_internal is not None}
    out.update({e.name: dict(e.labels.to_internal) for e in EDITIONS.values() if e.trainable})
    return out


def _label_names() -> dict[str, dict[int, str]]:
    out = {c.name: dict(c.names) for c in _CONVENTIONS.values()}
    out.update({e.name: dict(e.labels.names) for e in EDITIONS.values()})
    return out


# raw -> internal labels and what each raw label means, keyed by convention name and by edition name (a case's
# ``source``); derived from data/editions.py. CONVENTIONS: the label conventions users name (`evaluate --labels`).
LABEL_MAPS: Mapping[str, dict[int, int]] = _Derived(_label_maps)
LABEL_NAMES: Mapping[str, dict[int, str]] = _Derived(_label_names)
CONVENTIONS = tuple(_CONVENTIONS)
RESECTION_CAVITY = {c.name: c.resection_cavity for c in _CONVENTIONS.values() if c.resection_cavity is not None}


def scheme_of(source: str) -> LabelScheme:
    """The internal label scheme of an edition or convention (``glioma`` for a name neither knows)."""
    if source in EDITIONS:
        return EDITIONS[source].scheme
    return get_scheme(_CONVENTIONS[source].scheme if source in _CONVENTIONS else None)


def label_map_of(source: str) -> dict[int, int]:
    """raw -> internal labels of an edition or convention; empty for one the platform cannot train on."""
    return dict(LABEL_MAPS.get(source, {}))


def invert_label_map(label_map: dict[int, int]) -> dict[int, int]:
    """internal label -> raw label. Where several raw labels map to one internal label (PED 2024: 2 NETC and 3 CC ->
    core), the first wins."""
    inv: dict[int, int] = {}
    for raw, internal in label_map.items():
        inv.setdefault(internal, raw)
    return inv


def inverse_label_map(source: str) -> dict[int, int]:
    """internal label -> raw label of ``source`` (to write predictions in the input's convention)."""
    return invert_label_map(label_map_of(source))


def internal_to_raw(labels, source: str):
    """An internal label volume written in the raw labels of edition or convention ``source`` (values without a
    raw counterpart, e.g. the healthy-tissue label, become background)."""
    import numpy as np

    lut = np.zeros(256, np.uint8)
    for internal, raw in inverse_label_map(source).items():
        if internal < 256:
            lut[internal] = raw
    return lut[np.asarray(labels, np.uint8)]


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
