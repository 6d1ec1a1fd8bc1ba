"""Segmentation losses (label and region mode), built on MONAI's losses."""

from brats_mlops.losses.segmentation import (
    EdgeLoss,
    SegmentationLoss,
    class_weights_from_frequencies,
    labels_to_regions,
)

__all__ = ["EdgeLoss", "SegmentationLoss", "class_weights_from_frequencies", "labels_to_regions"]
