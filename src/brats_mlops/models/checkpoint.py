"""Checkpoints in one room: atomic save, safe load (``weights_only=True``), and rebuilding a network from the
model config every checkpoint carries.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (never pickled objects), so
the safe loader (``models/serialization.py``) reads every checkpoint the platform writes, including registered ones.
``best.pt`` holds ``{"model", "model_config", "epoch", "score", "score_key", "config_hash"}``; ``last.pt``
holds the whole training state (see :mod:`brats_mlops.training.loop`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from brats_mlops.families import family_of
from brats_mlops.models.autoencoder import build_autoencoder
from brats_mlops.models.serialization import atomic_save, load_checkpoint, load_nnunet_checkpoint

__all__ = ["atomic_save", "load_checkpoint", "load_nnunet_checkpoint"]  # the file I/O lives in serialization.py (the only torch.load)


def build_segmentation(mc: dict[str, Any]) -> torch.nn.Module:
    """The segmentation network described by a model config (``training.segmentation.model_config``,
    ``training.slices.model_config``, ...): built by the family its ``kind`` names (``brats_mlops.families``)."""
    return family_of(mc).build(mc)


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
