"""BraTS evaluation: legacy region metrics, lesion-wise metrics (BraTS 2023), post-processing."""

from brats_mlops.metrics.brats import (
    HD95_ONE_EMPTY,
    LESION_HD95_MISS,
    case_metrics,
    lesion_wise,
    postprocess,
    region_masks,
    region_metrics,
)

__all__ = ["HD95_ONE_EMPTY", "LESION_HD95_MISS", "case_metrics", "lesion_wise", "postprocess", "region_masks", "region_metrics"]
