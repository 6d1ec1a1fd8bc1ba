"""Official metric profiles: which challenge's scoring rule a number was computed with.

**2023** (rachitsaluja/BraTS-2023-Metrics, ``metrics.py``, ``get_LesionWiseResults``; ``metrics/brats.py``): one
lesion-wise code for every challenge, with different settings: how many 18-neighbourhood dilations merge nearby
ground-truth lesions into one, and the volume at or below which a ground-truth lesion is left out of the score.
Regions WT/TC/ET on the 2023 labels.

| profile | challenge | dilations | GT lesions left out |
|---|---|---|---|
| 2023-GLI | adult glioma | 3 | ≤ 50 mm³ |
| 2023-SSA | Sub-Saharan Africa glioma | 3 | ≤ 50 mm³ |
| 2023-PED | paediatric tumours | 3 | ≤ 50 mm³ |
| 2023-MEN | meningioma | 1 | ≤ 50 mm³ |
| 2023-MET | brain metastases | 1 | ≤ 2 mm³ |

**2025** (BraTS/BraTS_evaluation, the official scorer of 2025, on panoptica; ``metrics/brats2025.py``): connected
components matched one-to-one by Dice, no dilation, no volume threshold; label groups per task from the scorer's
bundled configs. Each profile reads the task's own labels (``labels``):

| profile | config | labels | groups |
|---|---|---|---|
| 2025-GLI | gli | brats2024 (1 NETC, 2 SNFH, 3 ET, 4 RC) | netc, snfh, et, rc, tc = 1+3, wt = 1+2+3 |
| 2025-MET | mets | brats2024 | et, rc, tc, wt; small/large lesion split at 20 mm³ |
| 2025-PED | ped | ped2024 (1 ET, 2 NETC, 3 CC, 4 ED) | et, netc, cc, ed, tc = 1+2+3, wt = 1+2+3+4 |
| 2025-MEN-RT | MenRT | menrt (1 GTV) | gtv |
| 2025-MEN | MenPre | brats2023 | et, tc, wt |
| 2025-GoAT | GoAT | brats2023 | et, tc, wt |

**2024** (rachitsaluja/BraTS-2024-Metrics, ``metrics_GLI.py``; ``metrics/brats2024.py``): ``2024-GLI``, the
post-treatment glioma task of seed 002, labels brats2024 (1 NETC, 2 SNFH, 3 ET, 4 RC); six regions WT, TC, NETC, SNFH,
ET, RC with their own dilations (5 for NETC and RC, 3 otherwise) and thresholds (ET 10, others 20), lesions merged
across tissues, NSD at 0.5 and 1 mm, predicted dust deleted first — and the code's quirks reproduced (module docstring).
The other 2024 tasks (``metrics_MEN.py``, ``metrics_MET.py``, ``metrics_PED.py``, ``metrics_SSA.py``,
``metrics_MEN_RT.py``) are not implemented.

Known values: ``tests/metrics/test_official_cases.py`` (2023: GLI, MEN, MET; SSA and PED take GLI's settings in
that code), ``tests/metrics/test_brats2024.py`` (2024 GLI) and ``tests/metrics/test_brats2025.py`` (2025: every
config). Every metrics file and evaluation run names the profile it was scored with (``profile``; tag
``brats.metric_profile``); ``compare`` keeps runs of one profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from brats_mlops.errors import UserError


@dataclass(frozen=True)
class MetricProfile:
    name: str
    challenge: str
    rule: str = "2023"            # which official code: "2023" (metrics/brats.py), "2024" (brats2024.py), "2025" (brats2025.py)
    dilation: int = 0             # 2023: 18-neighbourhood dilations that merge nearby GT lesions
    min_lesion_mm3: float = 0.0   # 2023: GT lesions of at most this volume are left out of the lesion-wise score
    task: str = ""                # 2025: the official scorer's config (metrics/brats2025.py TASK_GROUPS)
    labels: str = "brats2023"     # the label convention the rule reads (data/case.py LABEL_NAMES)


PROFILES: dict[str, MetricProfile] = {p.name: p for p in (
    MetricProfile("2023-GLI", "BraTS-GLI", "2023", 3, 50.0),
    MetricProfile("2023-SSA", "BraTS-SSA", "2023", 3, 50.0),
    MetricProfile("2023-PED", "BraTS-PED", "2023", 3, 50.0),
    MetricProfile("2023-MEN", "BraTS-MEN", "2023", 1, 50.0),
    MetricProfile("2023-MET", "BraTS-MET", "2023", 1, 2.0),
    MetricProfile("2024-GLI", "BraTS-GLI 2024 (post-treatment)", "2024", labels="brats2024"),
    MetricProfile("2025-GLI", "BraTS 2025 GLI", "2025", task="gli", labels="brats2024"),
    MetricProfile("2025-MET", "BraTS 2025 MET", "2025", task="mets", labels="brats2024"),
    MetricProfile("2025-PED", "BraTS 2025 PED", "2025", task="ped", labels="ped2024"),
    MetricProfile("2025-MEN-RT", "BraTS 2025 MEN-RT", "2025", task="MenRT", labels="menrt"),
    MetricProfile("2025-MEN", "BraTS 2025 MEN (pre-operative)", "2025", task="MenPre", labels="brats2023"),
    MetricProfile("2025-GoAT", "BraTS 2025 GoAT", "2025", task="GoAT", labels="brats2023"),
)}
DEFAULT_PROFILE = "2023-GLI"


def get_profile(name: str | MetricProfile | None = None) -> MetricProfile:
    """The profile called ``name`` (default: 2023-GLI); an unknown name is a :class:`UserError` listing the others."""
    if isinstance(name, MetricProfile):
        return name
    try:
        return PROFILES[name or DEFAULT_PROFILE]
    except KeyError:
        raise UserError(f"unknown metric profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def stage_profile(name: str, source: str, root) -> MetricProfile:
    """The profile an evaluate stage scores with: ``evaluate.profile``, or with ``auto`` the dataset edition's
    (``data/editions.py``). A profile that cannot score the edition's internal labels (``data/labels.py``: a 2023
    profile needs the glioma regions; a 2024/2025 profile needs its task labels to hold every internal label, e.g.
    2023-GLI on MEN-RT's GTV, or 2025-PED on the 2024 cavity) is a :class:`StageError` naming what to set instead."""
    from brats_mlops.data.case import LABEL_MAPS, scheme_of
    from brats_mlops.data.editions import resolve
    from brats_mlops.errors import StageError, UserError

    try:
        edition = resolve(source, root)
    except UserError:
        if name == "auto":
            raise
        edition = None
    prof = get_profile(edition.profile if name == "auto" else name)
    if edition is None:
        return prof
    data = edition.scheme
    if prof.rule == "2023":
        fits = all(r in data.regions for r in ("wt", "tc", "et"))
    else:
        fits = prof.labels in LABEL_MAPS and data.labels.items() <= scheme_of(prof.labels).labels.items()
    if not fits:
        raise StageError(f"evaluate.profile {prof.name} cannot score {edition.name}'s labels ({', '.join(data.labels.values())}); "
                         f"set evaluate.profile to auto ({edition.profile}) or another profile for {edition.convention} labels")
    return prof
