"""Checkpoint files: atomic save and safe load (``weights_only=True``) — the platform's only ``torch.load``.

Kept apart from :mod:`brats_mlops.models.checkpoint` (which rebuilds networks from a checkpoint's model config) so
that a network module can read a local weights file without importing the modules that build networks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def atomic_save(obj: dict[str, Any], path: str | Path) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves a half-written checkpoint."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict at ``path`` on CPU, loaded with ``weights_only=True`` (no code runs on load)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train the model first (dvc repro)")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_nnunet_checkpoint(path: str | Path) -> dict[str, Any]:
    """An nnU-Net checkpoint (``checkpoint_final.pth``: network weights, its trainer's init arguments, the mirroring
    axes). nnU-Net writes plain containers and NumPy scalars (its logged values), which the safe loader reads once
    those NumPy types are allowed — no arbitrary code runs."""
    import numpy as np

    if not Path(path).is_file():
        raise FileNotFoundError(f"nnU-Net checkpoint {path} is missing (run `dvc repro nnunet/dvc.yaml`)")
    allowed = [np._core.multiarray.scalar, np.dtype, *(getattr(np.dtypes, n) for n in
               ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType"))]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True)
