"""Official metric profiles: which challenge's scoring rule a number was computed with.

BraTS 2023 scored every challenge with the same lesion-wise code (rachitsaluja/BraTS-2023-Metrics, ``metrics.py``,
``get_LesionWiseResults``) but different settings per challenge: how many 18-neighbourhood dilations merge nearby
ground-truth lesions into one, and the volume at or below which a ground-truth lesion is left out of the score.

| profile | challenge | dilations | GT lesions left out |
|---|---|---|---|
| 2023-GLI | adult glioma | 3 | ≤ 50 mm³ |
| 2023-SSA | Sub-Saharan Africa glioma | 3 | ≤ 50 mm³ |
| 2023-PED | paediatric tumours | 3 | ≤ 50 mm³ |
| 2023-MEN | meningioma | 1 | ≤ 50 mm³ |
| 2023-MET | brain metastases | 1 | ≤ 2 mm³ |

Known values: ``tests/metrics/test_official_cases.py`` checks GLI, MEN and MET against numbers the official code
gave for ten pairs (SSA and PED take GLI's settings in that code). Every metrics file and evaluation run names the
profile it was scored with (``profile``; tag ``brats.metric_profile``); ``compare`` keeps runs of one profile.
The 2024 (six regions with the resection cavity) and 2025 (panoptica matching) rules are not implemented yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from brats_mlops.errors import UserError


@dataclass(frozen=True)
class MetricProfile:
    name: str
    challenge: str
    dilation: int            # 18-neighbourhood dilations that merge nearby GT lesions
    min_lesion_mm3: float    # GT lesions of at most this volume are left out of the lesion-wise score


PROFILES: dict[str, MetricProfile] = {p.name: p for p in (
    MetricProfile("2023-GLI", "BraTS-GLI", 3, 50.0),
    MetricProfile("2023-SSA", "BraTS-SSA", 3, 50.0),
    MetricProfile("2023-PED", "BraTS-PED", 3, 50.0),
    MetricProfile("2023-MEN", "BraTS-MEN", 1, 50.0),
    MetricProfile("2023-MET", "BraTS-MET", 1, 2.0),
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
