"""Segmentation networks, chosen by name (``build_model``); each can return its bottleneck features."""

from brats_mlops.models.catalog import MODELS, build_model

__all__ = ["MODELS", "build_model"]
