"""Segmentation training: AdamW, warm-up + cosine schedule, gradient accumulation, best/last checkpoints, resume.

Resume contract: after every epoch the trainer writes ``last.pt`` (model, optimiser, scheduler, history,
tracking run id) atomically, *then* reports the epoch to the tracker. A run killed at any point and started
again loads ``last.pt``, first reports the epochs of its history the tracker does not have yet, and continues
with the next epoch — so no epoch is lost or reported twice. Each epoch's shuffling and augmentation are
seeded by (seed, epoch), so a resumed run ends with the same weights as an uninterrupted one on CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from brats_mlops.config.schema import AugmentationParams, SegmentationParams
from brats_mlops.losses import SegmentationLoss, class_weights_from_frequencies, regions_to_labels
from brats_mlops.models import build_model
from brats_mlops.training.augment import build_augmentation
from brats_mlops.training.common import Tracker, atomic_save, config_hash, history_tsv, report_missing_epochs, seed_worker
from brats_mlops.training.data import SegmentationDataset, label_frequencies
from brats_mlops.utils.progress import progress

CHECKPOINT_VERSION = 1


def quick_dice(pred: np.ndarray, gt: np.ndarray) -> float:
    p, g = pred.astype(bool), gt.astype(bool)
    s = p.sum() + g.sum()
    return 1.0 if s == 0 else float(2 * np.logical_and(p, g).sum() / s)


def lr_at(epoch: int, cfg: SegmentationParams) -> float:
    """Learning rate of ``epoch`` (0-based): linear warm-up, then cosine from ``lr`` to ``lr_min`` at the last epoch."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / cfg.warmup_epochs
    span = max(1, cfg.epochs - cfg.warmup_epochs - 1)
    t = min(1.0, (epoch - cfg.warmup_epochs) / span)
    return cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass
class TrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_score: float
    checkpoint_dir: Path
    resumed_from: int = 0
    model_config: dict[str, Any] = field(default_factory=dict)


def model_config(cfg: SegmentationParams, in_channels: int, num_classes: int, modalities: tuple[str, ...],
                 crop_size: tuple[int, ...], healthy_label: bool) -> dict[str, Any]:
    """Everything needed to rebuild the network and use it (stored in every checkpoint)."""
    return {
        "model": cfg.model,
        "channels": list(cfg.channels),
        "in_channels": in_channels,
        "out_channels": num_classes if cfg.mode == "label" else 3,
        "mode": cfg.mode,
        "region_thresholds": list(cfg.region_thresholds),
        "modalities": list(modalities),
        "roi_size": list(crop_size),
        "healthy_label": healthy_label,
        "sw_overlap": cfg.sw_overlap,
    }


def build_from_config(mc: dict[str, Any]) -> torch.nn.Module:
    return build_model(mc["model"], in_channels=mc["in_channels"], num_classes=mc["out_channels"], channels=tuple(mc["channels"]))


def load_checkpoint_model(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The network of a ``best.pt``/``last.pt`` checkpoint in eval mode, and the checkpoint itself."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = build_from_config(ck["model_config"])
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


def logits_to_labels(logits: torch.Tensor, mode: str, thresholds: tuple[float, ...] = (0.5, 0.5, 0.5), healthy_label: bool = False) -> torch.Tensor:
    """(B, K, ...) logits → (B, ...) internal labels (healthy-tissue label 4 folded back into background)."""
    if mode == "region":
        lab = regions_to_labels(torch.sigmoid(logits), thresholds)[:, 0]
    else:
        lab = logits.argmax(1)
        if healthy_label:
            lab = torch.where(lab == 4, torch.zeros_like(lab), lab)
    return lab


class SegmentationTrainer:
    """Args:
        cfg: the ``segmentation`` params.
        preprocessed_dir: output of the preprocess stage.
        split: ``{"train": [...], "val": [...]}`` case ids.
        num_classes, modalities, crop_size, healthy_label: from the plans.
        checkpoint_dir: where ``last.pt`` and ``best.pt`` live.
        seed: global seed.
    """

    def __init__(self, cfg: SegmentationParams, preprocessed_dir: Path, split: dict[str, list[str]], num_classes: int,
                 modalities: tuple[str, ...], crop_size: tuple[int, ...], healthy_label: bool, checkpoint_dir: Path, seed: int):
        self.cfg, self.dir, self.split, self.seed = cfg, Path(preprocessed_dir), split, seed
        self.ckdir = Path(checkpoint_dir)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.mc = model_config(cfg, len(modalities), num_classes, modalities, crop_size, healthy_label)
        self.hash = config_hash(cfg, {"split": split, "seed": seed, "model_config": self.mc})
        torch.manual_seed(seed)
        self.model = build_from_config(self.mc).to(self.device)
        weights = None
        if cfg.loss.ce_beta > 0 and cfg.mode == "label":
            weights = class_weights_from_frequencies(label_frequencies(self.dir, split["train"], num_classes))
        self.class_weights = weights
        self.loss = SegmentationLoss(cfg.mode, cfg.loss.dice, cfg.loss.ce_beta, cfg.loss.focal, cfg.loss.edge, weights).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda e: lr_at(e, cfg) / cfg.lr)
        self.amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.train_ds = SegmentationDataset(self.dir, split["train"], build_augmentation(cfg.augmentation))
        self.val_ds = SegmentationDataset(self.dir, split["val"], build_augmentation(AugmentationParams(enabled=False)))
        self.history: list[dict[str, float]] = []
        self.best_score, self.best_epoch, self.start_epoch = -1.0, -1, 0
        self.run_id: str | None = None

    # ------------------------------------------------------------------ checkpoints
    def resumable(self) -> dict[str, Any] | None:
        """The unfinished ``last.pt`` of this very configuration, if any."""
        p = self.ckdir / "last.pt"
        if not p.is_file():
            return None
        ck = torch.load(p, map_location="cpu", weights_only=False)
        if ck.get("version") != CHECKPOINT_VERSION or ck.get("config_hash") != self.hash or ck["epoch"] >= self.cfg.epochs:
            return None
        return ck

    def load(self, ck: dict[str, Any]) -> None:
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.sched.load_state_dict(ck["scheduler"])
        self.scaler.load_state_dict(ck["scaler"])
        self.history, self.best_score, self.best_epoch = ck["history"], ck["best_score"], ck["best_epoch"]
        self.start_epoch, self.run_id = ck["epoch"], ck.get("run_id")

    def _state(self, epoch_done: int) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION, "config_hash": self.hash, "epoch": epoch_done, "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(),
            "history": self.history, "best_score": self.best_score, "best_epoch": self.best_epoch, "run_id": self.run_id,
            "model_config": self.mc,
        }

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int) -> float:
        torch.manual_seed(self.seed * 7919 + epoch)
        g = torch.Generator().manual_seed(self.seed * 10007 + epoch)
        dl = DataLoader(self.train_ds, batch_size=self.cfg.batch_size, shuffle=True, generator=g,
                        num_workers=self.cfg.num_workers, worker_init_fn=seed_worker, drop_last=False)
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        losses, n = [], len(dl)
        for i, batch in enumerate(dl):
            x, y = batch["image"].to(self.device), batch["label"].to(self.device)
            with torch.autocast(self.device.type, enabled=self.amp):
                loss = self.loss(self.model(x), y)
            self.scaler.scale(loss / self.cfg.grad_accum).backward()
            if (i + 1) % self.cfg.grad_accum == 0 or i + 1 == n:
                self.scaler.step(self.opt)
                self.scaler.update()
                self.opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        return float(np.mean(losses)) if losses else float("nan")

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        from brats_mlops.data.case import REGIONS

        self.model.eval()
        scores = {r: [] for r in REGIONS}
        for item in self.val_ds:
            x = item["image"][None].to(self.device)
            with torch.autocast(self.device.type, enabled=self.amp):
                logits = self.model(x)
            pred = logits_to_labels(logits.float(), self.cfg.mode, self.cfg.region_thresholds, self.mc["healthy_label"])[0].cpu().numpy()
            gt = item["label"][0].numpy()
            for r, labs in REGIONS.items():
                scores[r].append(quick_dice(np.isin(pred, labs), np.isin(gt, labs)))
        out = {f"val_dice_{r}": float(np.mean(v)) for r, v in scores.items()}
        out["val_dice_composite"] = float(np.mean([out["val_dice_wt"], out["val_dice_tc"], out["val_dice_et"]]))
        return out

    # ------------------------------------------------------------------ the loop
    def fit(self, tracker: Tracker | None = None, on_checkpoint: Callable[[int], None] | None = None) -> TrainResult:
        self.ckdir.mkdir(parents=True, exist_ok=True)
        resumed_from = self.start_epoch
        report_missing_epochs(tracker, self.history)
        bar = progress(range(self.start_epoch, self.cfg.epochs), total=self.cfg.epochs - self.start_epoch, desc="train")
        for epoch in bar:
            t0 = time.perf_counter()
            lr = self.opt.param_groups[0]["lr"]
            train_loss = self.train_epoch(epoch)
            self.sched.step()
            rec: dict[str, float] = {"epoch": epoch, "train_loss": train_loss, "lr": lr}
            if (epoch + 1) % self.cfg.val_every == 0 or epoch + 1 == self.cfg.epochs:
                rec.update(self.validate())
            rec["epoch_time_s"] = time.perf_counter() - t0
            self.history.append(rec)
            improved = rec.get("val_dice_composite", -1.0) > self.best_score
            if improved:
                self.best_score, self.best_epoch = rec["val_dice_composite"], epoch
                atomic_save({"model": self.model.state_dict(), "model_config": self.mc, "epoch": epoch,
                              "score": self.best_score, "config_hash": self.hash}, self.ckdir / "best.pt")
            atomic_save(self._state(epoch + 1), self.ckdir / "last.pt")
            if on_checkpoint:
                on_checkpoint(epoch)
            if tracker is not None:
                tracker.log_epoch(rec, epoch)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{train_loss:.3f}", dice=f"{rec.get('val_dice_composite', float('nan')):.3f}")
        return TrainResult(self.history, self.best_epoch, self.best_score, self.ckdir, resumed_from, self.mc)


HISTORY_KEYS = ["epoch", "train_loss", "val_dice_wt", "val_dice_tc", "val_dice_et", "val_dice_composite", "lr", "epoch_time_s"]


def save_history(history: list[dict[str, float]], path: Path) -> None:
    """Write the history as the TSV that dvc.yaml declares as a plot."""
    history_tsv(history, HISTORY_KEYS, path)
