"""2-D slice segmentation (seeds 001 and 004) on the platform's one training loop.

:class:`SliceTrainer` supplies only the 2-D batches, loss, optimiser/schedule and validation; resume after a kill,
checkpoints, per-epoch tracking, early stopping and the progress bar are :class:`~brats_mlops.training.loop.Trainer`'s.
Slices are read one at a time from the preprocessed volumes (:mod:`brats_mlops.data.slices`), split by patient with
the 3-D branch's own train/val/test lists (``split_mode: slice`` reproduces seed 001's leaky split on purpose).
Validation predicts the validation slices of each case, stacks them and scores Dice per region (WT/TC/ET) on
those slices, so the checkpoint is picked by the same composite Dice as the 3-D model.

``train_segmentation_2d(params, tracker)`` is the one entry point (the DVC stage calls it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from brats_mlops.config.schema import Params
from brats_mlops.config.paths import ParamsError
from brats_mlops.config.slices import Slices2DParams, slices_problem
from brats_mlops.data.labels import get_scheme
from brats_mlops.data.preprocessing import Plans, load_preprocessed
from brats_mlops.data.slices import (SliceDataset, SliceRef, index_slices, normalise_volume, patients_shared, slice_augmentation,
                                     slice_split)
from brats_mlops.data.splits import read_split
from brats_mlops.inference.slices import predict_slices
from brats_mlops.losses.slices import SliceLoss
from brats_mlops.metrics import region_dice
from brats_mlops.models.unet2d import build_model_2d
from brats_mlops.training import distributed
from brats_mlops.training.loop import Tracker, Trained, Trainer, config_hash, history_tsv

log = logging.getLogger(__name__)
HISTORY_KEYS = ["epoch", "train_loss", "val_dice_wt", "val_dice_tc", "val_dice_et", "val_dice_composite", "lr"]


def model_config(cfg: Slices2DParams, plans: Plans) -> dict[str, Any]:
    """Everything needed to rebuild the 2-D network and run it on a raw case (stored in every checkpoint)."""
    return {"kind": "slices2d", "model": cfg.model, "in_channels": len(plans.modalities), "out_channels": plans.num_classes,
            "mode": "label", "modalities": list(plans.modalities), "crop_mode": plans.crop_mode,
            "crop_size": list(plans.crop_size), "roi_size": list(plans.crop_size), "size": cfg.size,
            "normalisation": cfg.normalisation, "healthy_label": plans.healthy_label, "region_thresholds": [0.5, 0.5, 0.5],
            "label_scheme": plans.label_scheme,
            "percentile_clip": list(plans.percentile_clip) if plans.percentile_clip else None,
            **({"gaussian_sigma": plans.gaussian_sigma} if plans.gaussian_sigma else {})}


def make_optimizer(cfg: Slices2DParams, params) -> tuple[torch.optim.Optimizer, Any]:
    """Adam/AdamW and the seeds' schedules: StepLR (seed 001), exponential decay per epoch (seed 004), or none."""
    opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    opt = opt_cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule == "step":
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.step_gamma)
    if cfg.schedule == "exponential":
        return opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.exp_gamma)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


class SliceTrainer(Trainer):
    desc = "train 2-D"
    score_key = "val_dice_composite"
    maximize = True

    def __init__(self, cfg: Slices2DParams, preprocessed_dir: Path, split: dict[str, list[str]], plans: Plans,
                 checkpoint_dir: Path, seed: int):
        super().__init__(checkpoint_dir, seed, cfg.epochs, cfg.val_every)
        self.cfg, self.dir, self.patience = cfg, Path(preprocessed_dir), cfg.patience
        labelled = [c for k in ("train", "val", "test") for c in split.get(k, [])]
        self.parts = slice_split(split, index_slices(self.dir, labelled), cfg.split_mode, seed)
        self.leaked = patients_shared(self.parts)
        self.model_config = model_config(cfg, plans)
        self.config_hash = config_hash(cfg, {"split": split, "seed": seed, "model_config": self.model_config})
        self.model = build_model_2d(cfg.model, self.model_config["in_channels"], self.model_config["out_channels"],
                                    encoder_weights=cfg.encoder_weights).to(self.device)
        self.net = distributed.wrap(self.model)   # DDP under torchrun; checkpoints and validation use the bare model
        self.loss = SliceLoss(cfg.loss.weighted_dice, cfg.loss.focal, cfg.loss.ce, cfg.loss.class_weights,
                              cfg.loss.focal_gamma, cfg.loss.focal_alpha).to(self.device)
        self.opt, self.sched = make_optimizer(cfg, self.model.parameters())
        aug = cfg.augmentation
        self.aug = slice_augmentation(aug.flip_p, aug.rotate_p, aug.degrees) if aug.enabled else None
        self.train_ds = SliceDataset(self.dir, self.parts["train"], cfg.size, cfg.normalisation, cfg.drop_empty, self.aug)

    @classmethod
    def from_params(cls, params: Params, checkpoint_dir: str | Path | None = None) -> "SliceTrainer":
        p = params.paths
        plans = Plans.load(p.preprocessed_dir)
        problem = slices_problem(params.slices2d, plans.crop_size, plans.healthy_label, plans.num_classes)
        if problem:  # checked here, not in params validation: the default pipeline does not run the 2-D stages
            raise ParamsError(problem)
        return cls(params.slices2d, Path(p.preprocessed_dir), read_split(p.segmentation_split), plans,
                   Path(checkpoint_dir or p.slices2d_checkpoints), params.seed)

    def stateful(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.opt, "scheduler": self.sched}

    def epoch_indices(self, epoch: int) -> list[int]:
        """Every tumour slice, and ``empty_slice_fraction`` of the tumour-free ones (a new draw each epoch)."""
        refs = self.train_ds.refs
        full = [i for i, r in enumerate(refs) if r.tumour]
        empty = [i for i, r in enumerate(refs) if not r.tumour]
        keep = int(round(len(empty) * self.cfg.empty_slice_fraction))
        rng = np.random.default_rng(self.seed * 10007 + epoch)
        return sorted(full + [empty[i] for i in rng.permutation(len(empty))[:keep]])

    def train_epoch(self, epoch: int) -> dict[str, float]:
        lr = self.opt.param_groups[0]["lr"]
        if self.aug is not None:
            self.aug.set_random_state(self.seed * 31 + epoch)
        dl = self.epoch_loader(Subset(self.train_ds, self.epoch_indices(epoch)), self.cfg.batch_size, epoch, self.cfg.num_workers)
        self.model.train()
        losses = []
        for batch in dl:
            x, y = batch["image"].to(self.device), batch["label"].to(self.device)
            loss = self.loss(self.net(x), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            losses.append(float(loss.detach()))
        self.sched.step()
        return {"train_loss": float(np.mean(losses)) if losses else float("nan"), "lr": lr}

    def validate(self) -> dict[str, float]:
        """Dice per region over each validation case's validation slices, averaged over cases."""
        by_case: dict[str, list[int]] = defaultdict(list)
        for r in self.parts.get("val", []):
            by_case[r.case_id].append(r.z)
        regions = get_scheme(self.model_config.get("label_scheme")).regions
        scores: dict[str, list[float]] = {r: [] for r in regions}
        for cid, zs in sorted(by_case.items()):
            img, lab = load_preprocessed(self.dir, cid)
            vol = normalise_volume(img, self.cfg.normalisation)
            pred = predict_slices(self.model, vol, self.model_config, sorted(zs), self.cfg.infer_batch_size, self.device)
            zs = sorted(zs)
            p, g = np.stack([pred[z] for z in zs], -1), np.asarray(lab[..., zs])
            for region, d in region_dice(p, g, regions).items():
                scores[region].append(d)
        out = {f"val_dice_{r}": float(np.mean(v)) for r, v in scores.items()}
        out["val_dice_composite"] = float(np.mean([out[f"val_dice_{r}"] for r in regions]))
        return out

    def postfix(self, record: dict[str, float]) -> dict[str, str]:
        return {"loss": f"{record['train_loss']:.3f}", "dice": f"{record.get('val_dice_composite', float('nan')):.3f}"}


def train_segmentation_2d(params: Params, tracker: Tracker | None = None, checkpoint_dir: str | Path | None = None,
                          history_path: Path | None = None) -> Trained:
    """Train (or resume) the 2-D slice model configured by ``params.slices2d``."""
    trainer = SliceTrainer.from_params(params, checkpoint_dir)
    n = {k: len(v) for k, v in trainer.parts.items()}
    log.info("training %s on %d slices (%s split; val %d slices), %d epochs; checkpoints in %s", params.slices2d.model, n["train"],
             params.slices2d.split_mode, n.get("val", 0), trainer.epochs, trainer.ckdir)
    if trainer.leaked:
        log.warning("split_mode=slice: %d patients have slices in more than one part (seed 001's leak, on purpose)", len(trainer.leaked))
    save = (lambda _: history_tsv(trainer.history, HISTORY_KEYS, history_path)) if history_path else None
    result = trainer.fit(tracker, on_checkpoint=save)
    if history_path:
        history_tsv(result.history, HISTORY_KEYS, history_path)
    last = result.history[-1]
    metrics = {"best_epoch": result.best_epoch, "best_val_dice_composite": result.best_score,
               "final_val_dice_wt": last.get("val_dice_wt"), "final_val_dice_tc": last.get("val_dice_tc"),
               "final_val_dice_et": last.get("val_dice_et"), "epochs": len(result.history),
               "stopped_early": trainer.should_stop(), "train_slices": n["train"], "split_mode": params.slices2d.split_mode,
               "patients_in_several_parts": len(trainer.leaked)}
    return Trained(metrics, result, trainer)
