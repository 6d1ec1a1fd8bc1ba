"""BraTS evaluation as the official BraTS 2023 code: whole-volume and lesion-wise metrics, post-processing."""

from brats_mlops.metrics.brats import (
    HD95_EMPTY,
    LESION_HD95_MISS,
    case_metrics,
    hd95,
    label_dice,
    lesion_wise,
    postprocess,
    region_dice,
    region_masks,
    region_metrics,
)

__all__ = ["HD95_EMPTY", "LESION_HD95_MISS", "case_metrics", "hd95", "label_dice", "lesion_wise", "postprocess",
           "region_dice", "region_masks", "region_metrics"]
