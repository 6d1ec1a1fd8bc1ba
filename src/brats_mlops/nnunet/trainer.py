"""nnU-Net's trainer with every epoch in the stage's MLflow run, and training that resumes a killed run.

``nnUNetTrainer_Platform`` is nnU-Net's default trainer with two changes, the standard trainer-variant pattern:
epochs and iterations per epoch come from params (``nnunet.*``), and each epoch's values (train/val loss, pseudo-Dice
per region and its moving average, learning rate, epoch time) go to MLflow as the epoch ends — before nnU-Net writes
its checkpoint, so a resumed training logs each epoch exactly once. It is instantiated directly: nnU-Net's own
``nnUNetv2_train`` looks trainers up by importing every trainer module, one of which needs a torchvision this CPU
stack cannot load (STACK-NOTES.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from time import time
from typing import Any, Callable

import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from brats_mlops.config.nnunet import NnunetParams
from brats_mlops.config.paths import PathsParams
from brats_mlops.data.labels import REGION_TITLES
from brats_mlops.errors import UserError
from brats_mlops.utils import faults
from brats_mlops.nnunet.env import PLANS, preprocessed_dataset, trained_model_folder

RUN_ID_FILE = "mlflow_run_id.txt"
CONFIG_FILE = "brats_config.json"


class nnUNetTrainer_Platform(nnUNetTrainer):  # noqa: N801 - nnU-Net's trainer-variant naming
    epoch_callback: Callable[[dict[str, float], int], None] | None = None

    def configure(self, cfg: NnunetParams) -> None:
        """Params of the CPU default (or of a preset); call before training starts."""
        self.num_epochs = cfg.epochs
        self.num_iterations_per_epoch = cfg.iterations_per_epoch
        self.num_val_iterations_per_epoch = cfg.val_iterations_per_epoch
        self.initial_lr = cfg.initial_lr
        self.save_every = 1  # checkpoint_latest.pth after every epoch: a killed run loses at most one

    def save_checkpoint(self, filename: str) -> None:
        """nnU-Net's checkpoint, written atomically: a kill while it is written leaves the previous one intact (nnU-Net
        writes in place, and a kill at that moment leaves a truncated ``checkpoint_latest.pth`` that cannot resume)."""
        tmp = f"{filename}.tmp"
        super().save_checkpoint(tmp)
        if os.path.isfile(tmp):
            os.replace(tmp, filename)
        if filename.endswith("checkpoint_latest.pth"):
            faults.pause_point(faults.NNUNET_CHECKPOINTED, self.current_epoch)   # tests kill here (utils/faults.py)

    def epoch_record(self) -> dict[str, float]:
        lg, e = self.logger, self.current_epoch
        record = {"train_loss": lg.get_value("train_losses", e), "val_loss": lg.get_value("val_losses", e),
                  "pseudo_dice": lg.get_value("mean_fg_dice", e), "ema_pseudo_dice": lg.get_value("ema_fg_dice", e),
                  "lr": lg.get_value("lrs", e), "epoch_time_s": time() - lg.get_value("epoch_start_timestamps", e)}
        record.update({f"pseudo_dice_{r}": d for r, d in zip(self.region_names(), lg.get_value("dice_per_class_or_region", e))})
        return {k: float(v) for k, v in record.items()}

    def region_names(self) -> list[str]:
        """The regions of dataset.json in its order, by the platform's short names (wt, tc, et, rc, gtv)."""
        short = {title: name for name, title in REGION_TITLES.items()}
        return [short.get(k, k) for k in self.dataset_json["labels"] if k != "background"]

    def on_validation_epoch_end(self, val_outputs: list[dict]) -> None:
        super().on_validation_epoch_end(val_outputs)
        if self.epoch_callback is not None and self.local_rank == 0:  # nnU-Net checkpoints after this (on_epoch_end)
            self.epoch_callback(self.epoch_record(), self.current_epoch)


def _signature(cfg: NnunetParams, plans_file: Path, splits_file: Path) -> str:
    """What a checkpoint must match to be resumed: the training params, nnU-Net's plans and the split."""
    keys = ("configuration", "epochs", "iterations_per_epoch", "val_iterations_per_epoch", "initial_lr")
    h = hashlib.md5(json.dumps({k: getattr(cfg, k) for k in keys}, sort_keys=True).encode())
    h.update(plans_file.read_bytes())
    h.update(splits_file.read_bytes())
    return h.hexdigest()


def _recorded(fold_dir: Path, signature: str) -> dict[str, Any] | None:
    """The fold's record (MLflow run id, and training time once finished) when it was trained with ``signature``."""
    ids, conf = fold_dir / RUN_ID_FILE, fold_dir / CONFIG_FILE
    if not (ids.is_file() and conf.is_file()):
        return None
    rec = json.loads(conf.read_text())
    return {**rec, "run_id": ids.read_text().strip()} if rec.get("signature") == signature else None


def killed_run(paths: PathsParams, cfg: NnunetParams) -> str | None:
    """The MLflow run of a killed training (a fold left ``checkpoint_latest.pth`` under the current params, plans and
    split), which the stage reopens; None when there is nothing to resume."""
    pre = preprocessed_dataset(paths, cfg)
    plans_file, splits_file = pre / f"{PLANS}.json", pre / "splits_final.json"
    if not (plans_file.is_file() and splits_file.is_file()):
        return None
    signature = _signature(cfg, plans_file, splits_file)
    for fold in cfg.folds:
        d = fold_folder(paths, cfg, fold)
        rec = _recorded(d, signature)
        if rec and (d / "checkpoint_latest.pth").is_file():
            return rec["run_id"]
    return None


def fold_folder(paths: PathsParams, cfg: NnunetParams, fold: int) -> Path:
    return trained_model_folder(paths, cfg, nnUNetTrainer_Platform.__name__) / f"fold_{fold}"


def train_fold(paths: PathsParams, cfg: NnunetParams, fold: int, start_run: Callable[[str | None], str],
               log_epoch: Callable[[dict[str, float], int], None], logged_epochs: Callable[[], set[int]],
               resume_run: str | None = None, device: torch.device | None = None, seed: int = 0) -> tuple[Path, bool, float]:
    """Train nnU-Net on fold ``fold`` of the platform's split (nnU-Net's environment must be configured), seeded by
    ``seed`` + ``fold``.

    ``start_run(run_id)`` opens the MLflow run (``resume_run``, the killed run from :func:`killed_run`, or a new one)
    and returns its id; ``log_epoch(record, epoch)`` logs an epoch; ``logged_epochs()`` says which are logged already.
    A fold of ``resume_run`` resumes from its ``checkpoint_latest.pth``, or is skipped if it had finished. Returns the
    fold's output folder (``checkpoint_final.pth``, nnU-Net's training log and ``progress.png``), whether it resumed
    (or was already done), and the training time (the sum of nnU-Net's epoch times, resumed epochs included).
    """
    pre = preprocessed_dataset(paths, cfg)
    plans_file, splits_file = pre / f"{PLANS}.json", pre / "splits_final.json"
    for f in (plans_file, splits_file, pre / "dataset.json"):
        if not f.is_file():
            raise UserError(f"{f} is missing: run the nnunet_prepare stage first (dvc repro nnunet/dvc.yaml)")
    fold_dir, signature = fold_folder(paths, cfg, fold), _signature(cfg, plans_file, splits_file)
    rec = _recorded(fold_dir, signature) if resume_run else None
    mine = rec is not None and rec["run_id"] == resume_run
    if mine and (fold_dir / "checkpoint_final.pth").is_file() and "train_time_s" in rec:
        start_run(resume_run)
        return fold_dir, True, float(rec["train_time_s"])  # finished before the kill
    resume = mine and (fold_dir / "checkpoint_latest.pth").is_file()
    if not resume and fold_dir.exists():
        shutil.rmtree(fold_dir)  # a finished or different training: start afresh
    plans: dict[str, Any] = json.loads(plans_file.read_text())
    plans["continue_training"] = resume
    # nnU-Net seeds nothing itself: seed the network's initialisation and, with in-process augmentation
    # (nnunet.augmentation_workers: 0), the sampling and augmentation too — reruns then train identically on the CPU.
    # Background augmentation workers seed themselves from the OS (batchgenerators), so they cannot be made reproducible.
    random.seed(seed + fold)
    np.random.seed(seed + fold)
    torch.manual_seed(seed + fold)
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    trainer = nnUNetTrainer_Platform(plans, cfg.configuration, fold, json.loads((pre / "dataset.json").read_text()), device)
    trainer.configure(cfg)
    run_id = start_run(resume_run)
    (fold_dir / RUN_ID_FILE).write_text(run_id + "\n")
    (fold_dir / CONFIG_FILE).write_text(json.dumps({"signature": signature, "fold": fold}) + "\n")
    done = logged_epochs()
    trainer.epoch_callback = lambda record, epoch: None if epoch in done else log_epoch(record, epoch)
    if resume:
        try:
            trainer.load_checkpoint(str(fold_dir / "checkpoint_latest.pth"))
        except (RuntimeError, EOFError, OSError) as err:
            raise UserError(f"nnU-Net fold {fold}: {fold_dir / 'checkpoint_latest.pth'} cannot be read to resume ({err}); delete "
                            f"{fold_dir} to train this fold afresh") from None
    trainer.run_training()
    lg = trainer.logger
    seconds = float(sum(b - a for a, b in zip(lg.get_value("epoch_start_timestamps", None), lg.get_value("epoch_end_timestamps", None))))
    (fold_dir / CONFIG_FILE).write_text(json.dumps({"signature": signature, "fold": fold, "train_time_s": seconds}) + "\n")
    return fold_dir, resume, seconds
