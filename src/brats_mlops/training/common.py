"""Pieces every trainer shares: the tracker protocol, atomic checkpoint writes, config hashing, worker seeding."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from pydantic import BaseModel


class Tracker(Protocol):
    """Where a trainer reports its epochs (MLflow in the stages, a list in tests)."""

    def log_epoch(self, record: dict[str, float], step: int) -> None: ...
    def logged_epochs(self) -> set[int]: ...


def config_hash(cfg: BaseModel, extra: dict[str, Any]) -> str:
    """Short hash of a params section plus anything else that must match for a checkpoint to be resumed."""
    blob = json.dumps({"cfg": cfg.model_dump(mode="json"), **extra}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def seed_worker(_: int) -> None:
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves a half-written checkpoint."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def report_missing_epochs(tracker: Tracker | None, history: list[dict[str, float]]) -> None:
    """Report the epochs a killed run checkpointed but never reported (exactly-once logging on resume)."""
    if tracker is None:
        return
    have = tracker.logged_epochs()
    for rec in history:
        if int(rec["epoch"]) not in have:
            tracker.log_epoch(rec, int(rec["epoch"]))


def history_tsv(history: list[dict[str, float]], keys: list[str], path: Path) -> None:
    """Write ``history`` as the TSV that dvc.yaml declares as a plot (empty cells where a key is missing)."""
    lines = ["\t".join(keys)]
    for r in history:
        lines.append("\t".join("" if r.get(k) is None else f"{r[k]:.6g}" for k in keys))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
