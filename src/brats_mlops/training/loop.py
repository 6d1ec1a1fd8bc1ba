"""The one training loop every trainer shares: resume after a kill, atomic best/last checkpoints, per-epoch
tracking, validation every N epochs, a progress bar, and exactly-once epoch reporting.

A trainer subclasses :class:`Trainer` and supplies only what is specific to its model:

* ``stateful()`` — the objects whose ``state_dict()`` make up the training state (networks, optimisers,
  schedulers, scalers), by the key they are stored under in ``last.pt``;
* ``train_epoch(epoch) -> dict`` — one pass over its batches with its losses (train values of the epoch);
* ``validate() -> dict`` — its validation metric(s), one of which is ``score_key``;
* ``model_config`` (rebuilds the network; stored in every checkpoint), ``config_hash`` (what must match for a
  checkpoint to be resumed) and ``score_key`` / ``maximize``.

Resume contract: after every epoch the loop writes ``last.pt`` (training state, history, best score) and the
sidecar ``RUN_FILE`` (tracking run id, epoch wall times) atomically, *then* reports the epoch to the tracker. A run killed at any point and started again loads
``last.pt`` (if it belongs to the same configuration and is unfinished), first reports the epochs the tracker
does not have yet, and continues with the next epoch — so no epoch is lost or reported twice. Each epoch's
global RNG is seeded by (seed, epoch), so a resumed run ends with the same weights as an uninterrupted one on CPU.

Checkpoints are deterministic (same bytes on every machine for the same data and params): what differs per run —
the tracking run id and wall-clock times — lives in ``RUN_FILE`` beside them, which ``.dvcignore`` keeps out of
the DVC hash of the checkpoint folder, so ``dvc.lock`` does not change from one machine or run to the next.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from pydantic import BaseModel
from torch.utils.data import DataLoader, DistributedSampler

from brats_mlops.models.checkpoint import RUN_FILE, atomic_save, load_checkpoint
from brats_mlops.training import distributed
from brats_mlops.utils import faults, threads
from brats_mlops.utils.progress import progress

CHECKPOINT_VERSION = 3
TIMING_KEYS = ("epoch_time_s",)
log = logging.getLogger(__name__)


class Tracker(Protocol):
    """Where the loop reports epochs: an MLflow run in the stages, an Optuna trial in studies, a list in tests.

    ``start`` is called once before the first epoch with the run id stored in a resumed checkpoint (or None)
    and returns the id to store in new checkpoints (None when the tracker has no runs).
    """

    def start(self, resume_run_id: str | None) -> str | None: ...
    def log_epoch(self, record: dict[str, float], step: int) -> None: ...
    def logged_epochs(self) -> set[int]: ...


def config_hash(cfg: BaseModel, extra: dict[str, Any]) -> str:
    """Short hash of a params section plus anything else that must match for a checkpoint to be resumed."""
    blob = json.dumps({"cfg": cfg.model_dump(mode="json"), **extra}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def seed_worker(_: int) -> None:
    """DataLoader ``worker_init_fn``: numpy and random follow torch's per-worker seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def history_tsv(history: list[dict[str, float]], keys: list[str], path: Path) -> None:
    """Write ``history`` as the TSV that dvc.yaml declares as a plot (empty cells where a key is missing)."""
    lines = ["\t".join(keys)]
    for r in history:
        lines.append("\t".join("" if r.get(k) is None else f"{r[k]:.6g}" for k in keys))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    resumed_from: int  # 0 for a fresh run, else the number of epochs the resumed checkpoint had done


@dataclass
class Trained:
    """What a ``train_*`` function returns: the metrics written to ``metrics/<stage>.json`` (deterministic: the same on
    every machine, so a committed file stays unchanged), the fit result, the trainer."""

    metrics: dict[str, Any]
    result: FitResult
    trainer: "Trainer"

    @property
    def timing(self) -> dict[str, float]:
        """Wall-clock figures, for the MLflow run only (they differ per machine and per run)."""
        t = [h["epoch_time_s"] for h in self.result.history if "epoch_time_s" in h]
        return {"mean_epoch_time_s": sum(t) / len(t), "train_time_s": sum(t)} if t else {}


class Trainer:
    """Base of every trainer; see the module docstring for what a subclass supplies.

    Args:
        checkpoint_dir: where ``last.pt`` and ``best.pt`` live.
        seed: global seed; the subclass builds its networks right after ``torch.manual_seed(seed)``, and epoch ``e``
            runs under ``torch.manual_seed(seed * 7919 + e)``.
        epochs: total epochs; val_every: validate every N epochs (and always after the last).
    """

    desc = "train"  # progress bar label
    score_key = "val_score"
    maximize = True
    model_config: dict[str, Any]
    config_hash: str
    patience: int | None = None  # early stopping: stop after this many validations without improvement (None: never)

    def __init__(self, checkpoint_dir: str | Path, seed: int, epochs: int, val_every: int):
        self.ckdir = Path(checkpoint_dir)
        self.seed, self.epochs, self.val_every = seed, epochs, val_every
        self.dist = distributed.current()   # torchrun: this rank's place (one process: rank 0 of 1)
        self.device = torch.device("cuda", self.dist.local_rank) if torch.cuda.is_available() else torch.device("cpu")
        self.history: list[dict[str, float]] = []
        self.best_score = -float("inf") if self.maximize else float("inf")
        self.best_epoch, self.start_epoch = -1, 0
        self.run_id: str | None = None
        torch.manual_seed(seed)  # the networks a subclass builds next start from the seed's weights

    # ------------------------------------------------------------------ what a trainer supplies
    def stateful(self) -> dict[str, Any]:
        """Objects with ``state_dict``/``load_state_dict`` saved in ``last.pt``; ``"model"`` is the network."""
        raise NotImplementedError

    def train_epoch(self, epoch: int) -> dict[str, float]:
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        raise NotImplementedError

    def postfix(self, record: dict[str, float]) -> dict[str, str]:
        """What the progress bar shows after an epoch."""
        return {self.score_key: f"{record.get(self.score_key, float('nan')):.4f}"}

    def epoch_loader(self, dataset: Any, batch_size: int, epoch: int, num_workers: int) -> DataLoader:
        """The epoch's shuffled training batches: all cases in one process; this rank's share under DDP
        (``DistributedSampler``, reshuffled per epoch). Worker RNGs follow (seed, epoch, rank)."""
        g = torch.Generator().manual_seed(self.seed * 10007 + epoch + 1_000_003 * self.dist.rank)
        kw = dict(batch_size=batch_size, generator=g, num_workers=num_workers, worker_init_fn=seed_worker, drop_last=False)
        if not self.dist.enabled:
            return DataLoader(dataset, shuffle=True, **kw)
        sampler = DistributedSampler(dataset, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True,
                                     seed=self.seed, drop_last=False)
        sampler.set_epoch(epoch)
        return DataLoader(dataset, sampler=sampler, **kw)

    # ------------------------------------------------------------------ checkpoints
    def resumable(self) -> dict[str, Any] | None:
        """The unfinished ``last.pt`` of this very configuration, if any."""
        p = self.ckdir / "last.pt"
        if not p.is_file():
            return None
        ck = load_checkpoint(p)
        if (ck.get("version") != CHECKPOINT_VERSION or ck.get("config_hash") != self.config_hash or ck["epoch"] >= self.epochs
                or ck.get("stopped_early")):
            return None
        return ck

    def finished(self) -> dict[str, Any] | None:
        """The finished ``last.pt`` of this very configuration (e.g. a fold done before a k-fold training was killed)."""
        p = self.ckdir / "last.pt"
        if not p.is_file():
            return None
        ck = load_checkpoint(p)
        done = ck["epoch"] >= self.epochs or ck.get("stopped_early")
        return ck if ck.get("version") == CHECKPOINT_VERSION and ck.get("config_hash") == self.config_hash and done else None

    def load(self, ck: dict[str, Any]) -> None:
        for key, obj in self.stateful().items():
            obj.load_state_dict(ck[key])
        self.history, self.best_score, self.best_epoch = ck["history"], ck["best_score"], ck["best_epoch"]
        self.start_epoch = ck["epoch"]
        run = self._read_run_file()
        if run.get("config_hash") == self.config_hash:
            self.run_id = run.get("run_id")
            times = run.get("epoch_time_s", {})
            for rec in self.history:
                if str(int(rec["epoch"])) in times:
                    rec["epoch_time_s"] = times[str(int(rec["epoch"]))]

    def state(self, epoch_done: int) -> dict[str, Any]:
        """``last.pt``: the deterministic training state (no run id, no wall times)."""
        history = [{k: v for k, v in rec.items() if k not in TIMING_KEYS} for rec in self.history]
        return {"version": CHECKPOINT_VERSION, "config_hash": self.config_hash, "epoch": epoch_done,
                **{k: obj.state_dict() for k, obj in self.stateful().items()},
                "history": history, "best_score": self.best_score, "best_epoch": self.best_epoch, "score_key": self.score_key,
                "model_config": self.model_config, "stopped_early": self.should_stop()}

    def _read_run_file(self) -> dict[str, Any]:
        p = self.ckdir / RUN_FILE
        try:
            return json.loads(p.read_text()) if p.is_file() else {}
        except json.JSONDecodeError:
            return {}

    def _write_run_file(self) -> None:
        p = self.ckdir / RUN_FILE
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps({"config_hash": self.config_hash, "run_id": self.run_id,
                                   "epoch_time_s": {str(int(r["epoch"])): r["epoch_time_s"] for r in self.history
                                                    if "epoch_time_s" in r}}, indent=1))
        tmp.replace(p)

    def _improved(self, record: dict[str, float]) -> bool:
        v = record.get(self.score_key)
        if v is None:
            return False
        return v > self.best_score if self.maximize else v < self.best_score

    def should_stop(self) -> bool:
        """Early stopping: ``patience`` validations after the best one brought no improvement."""
        if not self.patience or self.best_epoch < 0:
            return False
        since = [r for r in self.history if r["epoch"] > self.best_epoch and self.score_key in r]
        return len(since) >= self.patience

    # ------------------------------------------------------------------ the loop
    def fit(self, tracker: Tracker | None = None, on_checkpoint: Callable[[int], None] | None = None,
            resume: bool = True) -> FitResult:
        """Train to ``epochs`` (resuming an unfinished ``last.pt`` of this configuration when ``resume``).

        Under DDP (``training/distributed.py``) every rank runs this loop; only rank 0 validates (the record is
        broadcast), writes checkpoints, calls ``on_checkpoint`` and reports to ``tracker``."""
        main = self.dist.is_main
        if not main:
            tracker, on_checkpoint = None, None
        self.ckdir.mkdir(parents=True, exist_ok=True)
        ck = self.resumable() if resume and self.start_epoch == 0 else None
        if ck is not None:
            self.load(ck)
            log.info("resuming from epoch %d/%d (tracking run %s)", self.start_epoch, self.epochs, self.run_id)
        resumed_from = self.start_epoch
        if tracker is not None:
            self.run_id = tracker.start(self.run_id)
            have = tracker.logged_epochs()
            for rec in self.history:  # epochs a killed run checkpointed but never reported
                if int(rec["epoch"]) not in have:
                    tracker.log_epoch(rec, int(rec["epoch"]))
        bar = progress(range(self.start_epoch, self.epochs), total=self.epochs - self.start_epoch, desc=self.desc)
        for epoch in bar:
            changed = threads.adapt()   # runtime.threads: auto -> this epoch's share of the idle cores
            if changed:
                log.info("epoch %d: %d torch threads (idle cores changed)", epoch, changed)
            t0 = time.perf_counter()
            torch.manual_seed(self.seed * 7919 + epoch)
            rec: dict[str, float] = {"epoch": epoch, **distributed.mean_over_ranks(self.train_epoch(epoch))}
            if (epoch + 1) % self.val_every == 0 or epoch + 1 == self.epochs:
                rec.update(distributed.broadcast(self.validate() if main else None))
            rec["epoch_time_s"] = time.perf_counter() - t0
            self.history.append(rec)
            if self._improved(rec):
                self.best_score, self.best_epoch = rec[self.score_key], epoch
                if main:
                    atomic_save({"model": self.stateful()["model"].state_dict(), "model_config": self.model_config, "epoch": epoch,
                                 "score": self.best_score, "score_key": self.score_key, "config_hash": self.config_hash},
                                self.ckdir / "best.pt")
            if main:
                self._write_run_file()
                atomic_save(self.state(epoch + 1), self.ckdir / "last.pt")
            if on_checkpoint:
                on_checkpoint(epoch)
            if main:  # the rank that wrote last.pt (other ranks wait for it at the next all-reduce)
                faults.pause_point(faults.EPOCH_CHECKPOINTED, epoch)   # tests kill here (utils/faults.py)
            if tracker is not None:
                tracker.log_epoch(rec, epoch)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(**self.postfix(rec))
            if self.should_stop():
                log.info("early stopping after epoch %d: no improvement of %s in %d validations (best %.4f at epoch %d)",
                         epoch, self.score_key, self.patience, self.best_score, self.best_epoch)
                break
        return FitResult(self.history, self.best_epoch, self.best_score, resumed_from)
