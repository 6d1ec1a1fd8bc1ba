"""Segmentation training (paper §4.1): AdamW, warm-up + cosine schedule, gradient accumulation, mixed precision
on CUDA; the resumable loop, checkpoints and tracking are :class:`~brats_mlops.training.loop.Trainer`'s.

``train_segmentation(params, tracker)`` is the one entry point: the DVC stage and the Optuna objective both call
it (the objective with overridden params), so a study never drifts from the pipeline's training.
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brats_mlops.config.schema import AugmentationParams, Params, SegmentationParams
from brats_mlops.data.labels import get_scheme
from brats_mlops.data.preprocessing import Plans
from brats_mlops.data.splits import read_split
from brats_mlops.errors import StageError
from brats_mlops.losses import SegmentationLoss, class_weights_from_frequencies
from brats_mlops.metrics import hd95, region_dice, region_masks
from brats_mlops.models.checkpoint import build_segmentation
from brats_mlops.models.freeze import apply_freeze, frozen_norms_eval, load_parent
from brats_mlops.models.outputs import logits_to_labels
from brats_mlops.data.augment import build_augmentation
from brats_mlops.data.datasets import SegmentationDataset, label_frequencies
from brats_mlops.training import distributed
from brats_mlops.training.layout import as_input, to_layout
from brats_mlops.training.loop import FitResult, Tracker, Trained, Trainer, config_hash, history_tsv

log = logging.getLogger(__name__)
Parent = tuple[dict[str, Any], dict[str, str]]  # transfer learning: (the parent's state dict, its lineage tags)


def lr_at(epoch: int, cfg: SegmentationParams) -> float:
    """Learning rate of ``epoch`` (0-based): linear warm-up, then cosine from ``lr`` to ``lr_min`` at the last epoch."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch + 1) / cfg.warmup_epochs
    span = max(1, cfg.epochs - cfg.warmup_epochs - 1)
    t = min(1.0, (epoch - cfg.warmup_epochs) / span)
    return cfg.lr_min + (cfg.lr - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * t))


def model_config(cfg: SegmentationParams, in_channels: int, num_classes: int, modalities: tuple[str, ...],
                 crop_size: tuple[int, ...], healthy_label: bool, percentile_clip: tuple[float, float] | None = None,
                 gaussian_sigma: float = 0.0, label_scheme: str = "glioma", kind: str = "3d") -> dict[str, Any]:
    """Everything needed to rebuild the network and use it (stored in every checkpoint; ``kind``: its family)."""
    return {
        "kind": kind,
        "model": cfg.model,
        "channels": list(cfg.channels),
        "in_channels": in_channels,
        "out_channels": num_classes if cfg.mode == "label" else len(get_scheme(label_scheme).regions),
        "label_scheme": label_scheme,  # data/labels.py: the internal labels and the regions of region mode
        "mode": cfg.mode,
        "region_thresholds": list(cfg.region_thresholds),
        "modalities": list(modalities),
        "roi_size": list(crop_size),
        "healthy_label": healthy_label,
        "sw_overlap": cfg.sw_overlap,
        "percentile_clip": list(percentile_clip) if percentile_clip else None,  # inference normalises like preprocessing
        **({"gaussian_sigma": gaussian_sigma} if gaussian_sigma else {}),
        "postprocess_min_voxels": cfg.postprocess_min_voxels if cfg.postprocess_predictions else None,  # predict / registry
    }


class SegmentationTrainer(Trainer):
    """The 3-D segmentation network's batches, loss and validation Dice; the loop is :class:`Trainer`'s.

    Args:
        cfg: the ``segmentation`` params.
        preprocessed_dir: output of the preprocess stage.
        split: ``{"train": [...], "val": [...]}`` case ids.
        num_classes, modalities, crop_size, healthy_label, label_scheme: from the plans.
        checkpoint_dir: where ``last.pt`` and ``best.pt`` live.
        seed: global seed.
    """

    desc = "train"
    score_key = "val_dice_composite"
    maximize = True

    def __init__(self, cfg: SegmentationParams, preprocessed_dir: Path, split: dict[str, list[str]], num_classes: int,
                 modalities: tuple[str, ...], crop_size: tuple[int, ...], healthy_label: bool, checkpoint_dir: Path, seed: int,
                 percentile_clip: tuple[float, float] | None = None, gaussian_sigma: float = 0.0, label_scheme: str = "glioma",
                 kind: str = "3d", parent: Parent | None = None):
        super().__init__(checkpoint_dir, seed, cfg.epochs, cfg.val_every)
        self.cfg, self.dir, self.split = cfg, Path(preprocessed_dir), split
        self.model_config = model_config(cfg, len(modalities), num_classes, modalities, crop_size, healthy_label, percentile_clip,
                                         gaussian_sigma, label_scheme, kind)
        self.regions = get_scheme(label_scheme).regions
        self.config_hash = config_hash(cfg, {"split": split, "seed": seed, "model_config": self.model_config})
        self.model = build_segmentation(self.model_config).to(self.device)
        self.lineage: dict[str, str] = {}
        if cfg.init_from:  # transfer learning (seed 003): the parent's weights, then the freeze
            if parent is None:
                raise StageError(f"init_from={cfg.init_from!r}: the parent's weights were not resolved; the caller resolves "
                                 "them where it starts (registry.segmentation.parent_weights)")
            state, self.lineage = parent
            load_parent(self.model, state)
            self.model_config["parent"] = self.lineage  # travels with the checkpoint into the registry
        elif cfg.freeze != "none" or cfg.freeze_patterns:
            log.warning("segmentation.freeze without init_from: the frozen layers keep their random initialisation")
        self.freeze_counts = apply_freeze(self.model, cfg.freeze, cfg.freeze_patterns)
        self.model = to_layout(self.model, self.device)   # channels-last-3d on the CPU (training/layout.py)
        self.net = distributed.wrap(self.model)   # DDP under torchrun; checkpoints and validation use the bare model
        weights = None
        if cfg.loss.ce_beta > 0 and cfg.mode == "label":
            weights = class_weights_from_frequencies(label_frequencies(self.dir, split["train"], num_classes))
        self.class_weights = weights
        self.loss = SegmentationLoss(cfg.mode, cfg.loss.dice, cfg.loss.ce_beta, cfg.loss.focal, cfg.loss.edge, weights,
                                     mse_weight=cfg.loss.mse, regions=self.regions).to(self.device)
        opt_cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        self.opt = opt_cls([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = (torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=cfg.exp_gamma) if cfg.schedule == "exponential"
                      else torch.optim.lr_scheduler.LambdaLR(self.opt, lambda e: lr_at(e, cfg) / cfg.lr))
        if cfg.select_on == "dice_hd95":  # seed 003 picks checkpoints on Dice and HD95 together
            self.score_key = "val_dice_hd95"
        self.amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.train_ds = SegmentationDataset(self.dir, split["train"], build_augmentation(cfg.augmentation))
        self.val_ds = SegmentationDataset(self.dir, split["val"], build_augmentation(AugmentationParams(enabled=False)))

    @classmethod
    def from_params(cls, params: Params, checkpoint_dir: str | Path | None = None, split: dict[str, list[str]] | None = None,
                    section: str = "segmentation", kind: str = "3d", parent: Parent | None = None) -> "SegmentationTrainer":
        """The trainer the ``train_segmentation`` stage runs: plans, split and seed from the pipeline's outputs
        (``split``: one fold of a k-fold training instead of the split's train/val; ``section``, ``kind``: the params
        section and the family of another 3-D family trained by this trainer; ``parent``: the weights and lineage of
        ``init_from``, resolved by the caller)."""
        p = params.paths
        plans = Plans.load(p.preprocessed_dir)
        split = split or read_split(p.segmentation_split)
        return cls(getattr(params, section), Path(p.preprocessed_dir), split, plans.num_classes, plans.modalities, plans.crop_size,
                   plans.healthy_label, Path(checkpoint_dir or p.segmentation_checkpoints), params.seed, plans.percentile_clip,
                   plans.gaussian_sigma, plans.label_scheme, kind, parent)

    def stateful(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.opt, "scheduler": self.sched, "scaler": self.scaler}

    def train_epoch(self, epoch: int) -> dict[str, float]:
        lr = self.opt.param_groups[0]["lr"]
        dl = self.epoch_loader(self.train_ds, self.cfg.batch_size, epoch, self.cfg.num_workers)
        self.model.train()
        frozen_norms_eval(self.model)
        self.opt.zero_grad(set_to_none=True)
        losses, n, steps = [], len(dl), 0
        for i, batch in enumerate(dl):
            x, y = as_input(batch["image"], self.device), batch["label"].to(self.device)
            step = (i + 1) % self.cfg.grad_accum == 0 or i + 1 == n
            with (nullcontext() if step or not self.dist.enabled else self.net.no_sync()):  # all-reduce once per step
                with torch.autocast(self.device.type, enabled=self.amp):
                    loss = self.loss(self.net(x), y)
                self.scaler.scale(loss / self.cfg.grad_accum).backward()
            if step:
                self.scaler.step(self.opt)
                self.scaler.update()
                self.opt.zero_grad(set_to_none=True)
                steps += 1
            losses.append(float(loss.detach()))
        self.sched.step()
        return {"train_loss": float(np.mean(losses)) if losses else float("nan"), "lr": lr, "optimizer_steps": steps}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean Dice per region of the label scheme over the validation cases (whole volume, no sliding window) and
        their mean (``val_dice_composite``)."""
        self.model.eval()
        scores: dict[str, list[float]] = {r: [] for r in self.regions}
        hd: list[float] = []  # HD95 per region and case (voxels), for select_on: dice_hd95
        for item in self.val_ds:
            x = as_input(item["image"][None], self.device)
            with torch.autocast(self.device.type, enabled=self.amp):
                logits = self.model(x)
            pred = logits_to_labels(logits.float(), self.cfg.mode, self.cfg.region_thresholds, self.model_config["healthy_label"],
                                    self.model_config["label_scheme"])
            p, g = pred[0].cpu().numpy(), item["label"][0].numpy()
            for r, d in region_dice(p, g, self.regions).items():
                scores[r].append(d)
            if self.cfg.select_on == "dice_hd95":
                pm, gm = region_masks(p, self.regions), region_masks(g, self.regions)
                hd += [hd95(pm[r], gm[r]) for r in pm]
        out = {f"val_dice_{r}": float(np.mean(v)) for r, v in scores.items()}
        out["val_dice_composite"] = float(np.mean([out[f"val_dice_{r}"] for r in scores]))
        if self.cfg.select_on == "dice_hd95":
            out["val_hd95_mean"] = float(np.mean(hd))
            out["val_dice_hd95"] = out["val_dice_composite"] - out["val_hd95_mean"] / self.cfg.hd95_scale
        return out

    def postfix(self, record: dict[str, float]) -> dict[str, str]:
        return {"loss": f"{record['train_loss']:.3f}", "dice": f"{record.get('val_dice_composite', float('nan')):.3f}"}


HISTORY_KEYS = ["epoch", "train_loss", "val_dice_wt", "val_dice_tc", "val_dice_et", "val_dice_composite", "lr"]  # no timings (see Trained)


def save_history(history: list[dict[str, float]], path: Path) -> None:
    """Write the history as the TSV that dvc.yaml declares as a plot (with a label scheme's other regions: RC, GTV)."""
    extra = sorted({k for h in history for k in h if k.startswith("val_dice_") and k not in HISTORY_KEYS and k != "val_dice_hd95"})
    history_tsv(history, HISTORY_KEYS[:-2] + extra + HISTORY_KEYS[-2:], path)


def train_segmentation(params: Params, tracker: Tracker | None = None, checkpoint_dir: str | Path | None = None,
                       history_path: Path | None = None, split: dict[str, list[str]] | None = None,
                       section: str = "segmentation", kind: str = "3d", parent: Parent | None = None) -> Trained:
    """Train (or resume) the segmentation network configured by ``params``; the DVC stage, the k-fold training
    (``split``: the fold) and the Optuna objective call this. ``history_path`` (the stage's plot TSV) is rewritten
    after every epoch. ``section``/``kind``: another 3-D family's params section and kind (``families/volumetric.py``)."""
    trainer = SegmentationTrainer.from_params(params, checkpoint_dir, split, section, kind, parent)
    log.info("training %s on %d cases, validating on %d; %d epochs; device %s; checkpoints in %s", trainer.cfg.model,
             len(trainer.split["train"]), len(trainer.split["val"]), trainer.epochs, trainer.device, trainer.ckdir)
    result = trainer.fit(tracker, on_checkpoint=(lambda _: save_history(trainer.history, history_path)) if history_path else None)
    if history_path:
        save_history(result.history, history_path)
    return summarise_fit(trainer, result)


def summarise_fit(trainer: SegmentationTrainer, result: FitResult) -> Trained:
    """The ``Trained`` of a fit (or of a finished checkpoint: ``FitResult(ck["history"], ck["best_epoch"], …)``)."""
    last = result.history[-1]
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), {})
    metrics = {"best_epoch": result.best_epoch, "best_val_dice_composite": best.get("val_dice_composite", result.best_score),
               "selected_on": trainer.score_key,
               "final_val_dice_wt": last.get("val_dice_wt"), "final_val_dice_tc": last.get("val_dice_tc"),
               "final_val_dice_et": last.get("val_dice_et"), "epochs": len(result.history), **trainer.freeze_counts}
    return Trained(metrics, result, trainer)
