"""Checkpoints in one room: atomic save, safe load (``weights_only=True``), and rebuilding a network from the
model config every checkpoint carries.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (never pickled objects), so
``torch.load(..., weights_only=True)`` reads every checkpoint the platform writes, including registered ones.
``best.pt`` holds ``{"model", "model_config", "epoch", "score", "score_key", "config_hash"}``; ``last.pt``
holds the whole training state (see :mod:`brats_mlops.training.loop`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from brats_mlops.models.autoencoder import build_autoencoder
from brats_mlops.models.catalog import build_model


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


def build_segmentation(mc: dict[str, Any]) -> torch.nn.Module:
    """The segmentation network described by a model config (``training.segmentation.model_config``, or
    ``training.slices.model_config`` for a 2-D slice model: ``kind == "slices2d"``)."""
    if mc.get("kind") == "slices2d":
        from brats_mlops.models.unet2d import build_model_2d

        return build_model_2d(mc["model"], in_channels=mc["in_channels"], num_classes=mc["out_channels"])
    return build_model(mc["model"], in_channels=mc["in_channels"], num_classes=mc["out_channels"], channels=tuple(mc["channels"]))


def load_segmentation(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The segmentation network of a ``best.pt``/``last.pt`` checkpoint in eval mode, and the checkpoint."""
    ck = load_checkpoint(path)
    model = build_segmentation(ck["model_config"])
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


def load_autoencoder(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The AutoencoderKL generator of a ``best.pt``/``last.pt`` checkpoint in eval mode, and the checkpoint."""
    ck = load_checkpoint(path)
    model = build_autoencoder(ck["model_config"])
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


RUN_FILE = "brats_run.json"  # per-run facts beside the checkpoints (run id, wall times); ignored by DVC (.dvcignore)


def fold_dirs(checkpoint_dir: str | Path) -> list[Path]:
    """The fold folders (``fold_<i>/`` with a ``best.pt``) of a k-fold training (``segmentation.folds``), in fold order."""
    found = [d for d in Path(checkpoint_dir).glob("fold_*") if (d / "best.pt").is_file()]
    return sorted(found, key=lambda d: int(d.name.removeprefix("fold_")))


def checkpoint_run_id(checkpoint_dir: str | Path) -> str | None:
    """The MLflow run id that trained the checkpoints in ``checkpoint_dir`` (from ``RUN_FILE``), if known."""
    p = Path(checkpoint_dir) / RUN_FILE
    try:
        return json.loads(p.read_text()).get("run_id") if p.is_file() else None
    except json.JSONDecodeError:
        return None


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
