"""Autoencoder latents of preprocessed volumes or of new case folders (the survival branch's features)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from brats_mlops.config.schema import AutoencoderPreprocessParams
from brats_mlops.data.io import load_case_images
from brats_mlops.data.preprocessing import autoencoder_volume, brain_mask
from brats_mlops.data.readers import read_case_folder
from brats_mlops.models.autoencoder import encode_mean


def case_input(folder: str | Path, mc: dict[str, Any]) -> np.ndarray:
    """A BraTS 2020/2023 case folder → the autoencoder input (1, X, Y, Z), prepared exactly as in preprocessing.

    Raises ``DatasetLayoutError`` naming the folder/modality when a file is missing or unreadable.
    """
    mods = tuple(mc.get("mask_modalities") or (mc["modality"],))
    case = read_case_folder(folder, mods)
    images, _, spacing = load_case_images(case, list(mods))
    ae = AutoencoderPreprocessParams(**mc["preprocess"])
    x, _ = autoencoder_volume(images[mods.index(mc["modality"])], brain_mask(images), spacing, ae)
    return x[None]


@torch.no_grad()
def latent_means(model: torch.nn.Module, volumes: np.ndarray | torch.Tensor, batch_size: int = 4) -> np.ndarray:
    """Posterior means E of (N, 1, X, Y, Z) volumes → (N, C, x, y, z) float32."""
    x = torch.as_tensor(np.asarray(volumes, dtype=np.float32))
    if x.ndim == 4:
        x = x[None]
    model.eval()
    out = [encode_mean(model, x[i:i + batch_size]).cpu().numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float32)


@torch.no_grad()
def reconstruct(model: torch.nn.Module, volumes: np.ndarray | torch.Tensor) -> np.ndarray:
    """Posterior-mean reconstructions of (N, 1, X, Y, Z) volumes, one at a time → (N, 1, X, Y, Z) float32."""
    x = torch.as_tensor(np.asarray(volumes, dtype=np.float32))
    model.eval()
    return np.concatenate([model.reconstruct(x[i:i + 1]).cpu().numpy() for i in range(len(x))]).astype(np.float32)
