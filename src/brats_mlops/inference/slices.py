"""Whole-case inference with a 2-D slice model: every axial slice predicted, stacked back into a volume of the
case's original geometry, so a 2-D model is scored by exactly the same evaluation as the 3-D one.

The case goes through what the slices were made of at training time: the preprocessing crop (``crop_mode``,
``crop_size`` of the plans; zero-padded where the volume is smaller), the masked per-modality z-score of
preprocessing, seed 004's per-channel 0–1 scaling when the model was trained with it, and the resize to the
model's slice size. Predictions are resized back to the crop (nearest neighbour) and put back where the crop came
from; voxels outside the crop are background (the crop holds the brain in the presets and the default).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from brats_mlops.data.preprocessing import brain_mask, crop_or_pad, crop_start, normalise
from brats_mlops.data.slices import normalise_volume
from brats_mlops.models.outputs import logits_to_labels


@torch.no_grad()
def predict_slices(model: torch.nn.Module, volume: np.ndarray, mc: dict[str, Any], zs: list[int] | None = None,
                   batch_size: int = 32, device: str | torch.device = "cpu") -> dict[int, np.ndarray]:
    """Labels ``{z: (X, Y) uint8}`` of axial slices ``zs`` (default: all) of a normalised (C, X, Y, Z) volume."""
    model.eval()
    zs = list(range(volume.shape[-1])) if zs is None else zs
    size, xy = mc.get("size"), volume.shape[1:3]
    out: dict[int, np.ndarray] = {}
    for i in range(0, len(zs), batch_size):
        chunk = zs[i:i + batch_size]
        x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(volume[..., chunk], -1, 0), dtype=np.float32)).to(device)
        if size is not None and tuple(xy) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        lab = logits_to_labels(model(x).float(), "label", healthy_label=mc.get("healthy_label", False))
        if size is not None and tuple(xy) != (size, size):
            lab = F.interpolate(lab[:, None].float(), size=tuple(xy), mode="nearest-exact")[:, 0]
        for z, s in zip(chunk, lab.cpu().numpy().astype(np.uint8)):
            out[z] = s
    return out


def predict_crop_2d(model: torch.nn.Module, images: np.ndarray, mc: dict[str, Any], device: str | torch.device = "cpu",
                    batch_size: int = 32) -> tuple[np.ndarray, tuple[int, ...]]:
    """(C, H, W, D) raw intensities → (labels in the preprocessing crop's geometry, the crop's start in the volume)."""
    if images.ndim != 4 or images.shape[0] != mc["in_channels"]:
        raise ValueError(f"expected a (C={mc['in_channels']}, H, W, D) array of modalities {mc['modalities']}, got shape {images.shape}")
    crop, mask = tuple(mc["crop_size"]), brain_mask(images)
    start = crop_start(images.shape[1:], crop, mc["crop_mode"], mask)
    if not mask.any():
        return np.zeros(crop, np.uint8), start
    x = normalise(crop_or_pad(images.astype(np.float32), start, crop), mc.get("percentile_clip"), mc.get("gaussian_sigma"))
    x = normalise_volume(x, mc.get("normalisation", "zscore"))
    slices = predict_slices(model, x, mc, batch_size=batch_size, device=device)
    return np.stack([slices[z] for z in range(crop[2])], axis=-1), start


def predict_labels_2d(model: torch.nn.Module, images: np.ndarray, mc: dict[str, Any], device: str | torch.device = "cpu",
                      batch_size: int = 32) -> np.ndarray:
    """(C, H, W, D) raw intensities → (H, W, D) uint8 internal labels, slice by slice (see the module docstring)."""
    pred, start = predict_crop_2d(model, images, mc, device, batch_size)
    return crop_or_pad(pred, tuple(-s for s in start), images.shape[1:])  # back to the original geometry
