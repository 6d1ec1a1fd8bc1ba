"""Seed 001's 2-D survival network (ResNet-50 on mask slices + age → survival bin) on the platform's one training loop:
resume, checkpoints and early stopping on the validation loss are :class:`~brats_mlops.training.loop.Trainer`'s; the
seed's Adam + StepLR and cross-entropy, on ground-truth masks (``survival/branch2d.py`` runs it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from brats_mlops.config.slices import Survival2DParams
from brats_mlops.data.slices import MaskSliceDataset
from brats_mlops.models.survival2d import SurvivalResNet50
from brats_mlops.training.loop import Trainer, config_hash, seed_worker


class Survival2DTrainer(Trainer):
    desc = "train survival 2-D"
    score_key = "val_loss"
    maximize = False

    def __init__(self, cfg: Survival2DParams, rows: pd.DataFrame, masks: dict[str, np.ndarray], cohort: Any,
                 checkpoint_dir: Path, seed: int, split_mode: str = "patient"):
        super().__init__(checkpoint_dir, seed, cfg.epochs, 1)
        self.cfg, self.patience = cfg, cfg.patience
        keep = rows.nonempty if cfg.train_slices == "nonempty" else np.ones(len(rows), bool)
        self.train_ds = MaskSliceDataset(rows[(rows.subset == "train") & keep], masks, cfg.size, cohort.age_range)
        self.val_ds = MaskSliceDataset(rows[(rows.subset == "val") & keep], masks, cfg.size, cohort.age_range)
        self.model_config = {"kind": "survival2d", "n_bins": cfg.n_bins, "dropout": cfg.dropout, "size": cfg.size,
                             "edges": cohort.edges, "age_range": list(cohort.age_range), "split_mode": split_mode}
        self.config_hash = config_hash(cfg, {"seed": seed, "model_config": self.model_config,
                                             "rows": pd.util.hash_pandas_object(rows, index=False).sum().item()})
        self.model = SurvivalResNet50(cfg.n_bins, cfg.dropout, cfg.weights).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=cfg.step_size, gamma=cfg.step_gamma)

    def stateful(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.opt, "scheduler": self.sched}

    def train_epoch(self, epoch: int) -> dict[str, float]:
        lr = self.opt.param_groups[0]["lr"]
        g = torch.Generator().manual_seed(self.seed * 10007 + epoch)
        dl = DataLoader(self.train_ds, batch_size=self.cfg.batch_size, shuffle=True, generator=g, worker_init_fn=seed_worker)
        self.model.train()
        losses, correct, n = [], 0, 0
        for b in dl:
            logits = self.model(b["masks"].to(self.device), b["age"].to(self.device))
            loss = F.cross_entropy(logits, b["bin"].to(self.device))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            losses.append(float(loss.detach()) * len(logits))
            correct += int((logits.argmax(1).cpu() == b["bin"]).sum())
            n += len(logits)
        self.sched.step()
        return {"train_loss": sum(losses) / max(n, 1), "train_accuracy": correct / max(n, 1), "lr": lr}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        losses, correct, n = 0.0, 0, 0
        for b in DataLoader(self.val_ds, batch_size=self.cfg.batch_size):
            logits = self.model(b["masks"].to(self.device), b["age"].to(self.device))
            losses += float(F.cross_entropy(logits, b["bin"].to(self.device), reduction="sum"))
            correct += int((logits.argmax(1).cpu() == b["bin"]).sum())
            n += len(logits)
        return {"val_loss": losses / max(n, 1), "val_accuracy": correct / max(n, 1)}

    def postfix(self, record: dict[str, float]) -> dict[str, str]:
        return {"loss": f"{record['train_loss']:.3f}", "val_loss": f"{record.get('val_loss', float('nan')):.3f}"}
