"""Autoencoder training (paper §4.2): AutoencoderKL generator + PatchGAN discriminator, Adam, gradient
accumulation, validation L1 every ``val_every`` epochs, best-reconstruction and resumable last checkpoints.

The resume contract is the segmentation trainer's: ``last.pt`` (both networks, both optimisers, history,
MLflow run id) is written atomically after every epoch, *then* the epoch is reported; a restarted run
reports what the tracker lacks and continues. Each epoch's order is seeded by (seed, epoch).

Inputs are the preprocess stage's ``autoencoder/<id>.npy`` volumes (1×X×Y×Z in [0, 1]); they are small
enough to keep in memory (72 cases at 48³ are 32 MB; 494 at 112×112×96 are 2.3 GB).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from brats_mlops.config.schema import AutoencoderParams
from brats_mlops.data.preprocessing import Plans
from brats_mlops.losses.autoencoder import AdversarialLosses, build_perceptual, kl_loss
from brats_mlops.models.autoencoder import autoencoder_config, build_autoencoder, build_discriminator
from brats_mlops.training.common import Tracker, atomic_save, config_hash, history_tsv, report_missing_epochs
from brats_mlops.utils.progress import progress

CHECKPOINT_VERSION = 1
TERMS = ("l1", "kl", "perceptual", "adv_g", "generator", "discriminator")
HISTORY_KEYS = ["epoch", *(f"train_{t}" for t in TERMS), "val_l1", "epoch_time_s"]


def autoencoder_split(plans: Plans, val_fraction: float, seed: int) -> dict[str, list[str]]:
    """The paper's split: labelled cases train, unlabelled (challenge validation) cases validate. Without
    unlabelled cases, a seeded ``val_fraction`` of the labelled ones validates."""
    lab = sorted(k for k, c in plans.cases.items() if c.has_seg)
    unl = sorted(k for k, c in plans.cases.items() if not c.has_seg)
    if unl and lab:
        return {"train": lab, "val": unl}
    ids = np.array(sorted(plans.cases))
    rng = np.random.default_rng(seed)
    rng.shuffle(ids)
    n_val = max(1, int(round(len(ids) * val_fraction)))
    if len(ids) - n_val < 1:
        raise ValueError(f"the autoencoder needs >= 2 cases, the preprocessed data has {len(ids)}")
    return {"train": sorted(ids[n_val:].tolist()), "val": sorted(ids[:n_val].tolist())}


def load_volumes(preprocessed_dir: Path, ids: list[str]) -> torch.Tensor:
    """(N, 1, X, Y, Z) float32 tensor of the autoencoder inputs of ``ids``; names a missing file."""
    arrs = []
    for cid in ids:
        p = Plans.ae_path(preprocessed_dir, cid)
        if not p.is_file():
            raise FileNotFoundError(f"case {cid}: autoencoder input {p} is missing; rerun the preprocess stage")
        arrs.append(np.load(p))
    return torch.from_numpy(np.stack(arrs).astype(np.float32))


def load_autoencoder(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The generator of a ``best.pt``/``last.pt`` checkpoint in eval mode, and the checkpoint."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = build_autoencoder(ck["model_config"])
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


@dataclass
class AETrainResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_val_l1: float
    resumed_from: int


class AutoencoderTrainer:
    """Args:
        cfg: the ``autoencoder`` params.
        preprocessed_dir: output of the preprocess stage (``autoencoder/<id>.npy``).
        split: ``{"train": [...], "val": [...]}`` case ids (see :func:`autoencoder_split`).
        plans: the preprocessing plans (input shape, modality, and how to prepare a new case, stored in the model config).
        checkpoint_dir: where ``last.pt`` and ``best.pt`` live.
    """

    def __init__(self, cfg: AutoencoderParams, preprocessed_dir: Path, split: dict[str, list[str]], plans: Plans,
                 checkpoint_dir: Path, seed: int):
        self.cfg, self.split, self.seed = cfg, split, seed
        self.ckdir = Path(checkpoint_dir)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        ae = plans.autoencoder
        self.mc = autoencoder_config(cfg, tuple(ae["shape"]), ae["modality"])
        self.mc["preprocess"] = dict(ae)  # how a new case becomes an input (inference.latents.case_input)
        self.mc["mask_modalities"] = list(plans.modalities)  # the brain mask is non-zero in any of these
        self.hash = config_hash(cfg, {"split": split, "seed": seed, "model_config": self.mc})
        torch.manual_seed(seed)
        self.gen = build_autoencoder(self.mc).to(self.device)
        self.disc = build_discriminator(self.mc).to(self.device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_generator)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr_discriminator)
        self.adv = AdversarialLosses()
        self.perceptual = build_perceptual(cfg.loss)
        if self.perceptual is not None:
            self.perceptual = self.perceptual.to(self.device)
        self.x_train = load_volumes(Path(preprocessed_dir), split["train"])
        self.x_val = load_volumes(Path(preprocessed_dir), split["val"])
        self.history: list[dict[str, float]] = []
        self.best_val, self.best_epoch, self.start_epoch = float("inf"), -1, 0
        self.run_id: str | None = None

    # ------------------------------------------------------------------ checkpoints
    def resumable(self) -> dict[str, Any] | None:
        p = self.ckdir / "last.pt"
        if not p.is_file():
            return None
        ck = torch.load(p, map_location="cpu", weights_only=False)
        if ck.get("version") != CHECKPOINT_VERSION or ck.get("config_hash") != self.hash or ck["epoch"] >= self.cfg.epochs:
            return None
        return ck

    def load(self, ck: dict[str, Any]) -> None:
        self.gen.load_state_dict(ck["model"])
        self.disc.load_state_dict(ck["discriminator"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        self.history, self.best_val, self.best_epoch = ck["history"], ck["best_val"], ck["best_epoch"]
        self.start_epoch, self.run_id = ck["epoch"], ck.get("run_id")

    def _state(self, epoch_done: int) -> dict[str, Any]:
        return {"version": CHECKPOINT_VERSION, "config_hash": self.hash, "epoch": epoch_done, "model": self.gen.state_dict(),
                "discriminator": self.disc.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "history": self.history, "best_val": self.best_val, "best_epoch": self.best_epoch, "run_id": self.run_id,
                "model_config": self.mc}

    # ------------------------------------------------------------------ one step / epoch
    def generator_terms(self, x: torch.Tensor, adversarial: bool) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        """Generator loss of a batch, its terms, and the reconstruction."""
        lw = self.cfg.loss
        recon, z_mu, z_sigma = self.gen(x)
        terms = {"l1": torch.nn.functional.l1_loss(recon, x), "kl": kl_loss(z_mu, z_sigma)}
        total = lw.l1 * terms["l1"] + lw.kl * terms["kl"]
        if self.perceptual is not None:
            terms["perceptual"] = self.perceptual(recon, x)
            total = total + lw.perceptual * terms["perceptual"]
        if adversarial and lw.adversarial > 0:
            self.disc.requires_grad_(False)  # the generator's adversarial term must not touch D's gradients
            terms["adv_g"] = self.adv.generator(self.disc(recon)[-1])
            self.disc.requires_grad_(True)
            total = total + lw.adversarial * terms["adv_g"]
        terms["generator"] = total
        return total, {k: float(v.detach()) for k, v in terms.items()}, recon

    def train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.cfg
        g = torch.Generator().manual_seed(self.seed * 10007 + epoch)
        order = torch.randperm(len(self.x_train), generator=g)
        batches = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        adversarial = epoch >= cfg.adversarial_start_epoch and cfg.loss.adversarial > 0
        self.gen.train()
        self.disc.train()
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        sums: dict[str, list[float]] = {}
        for i, idx in enumerate(batches):
            x = self.x_train[idx].to(self.device)
            loss_g, terms, recon = self.generator_terms(x, adversarial)
            (loss_g / cfg.grad_accum).backward()
            if adversarial:
                loss_d = self.adv.discriminator(self.disc(x)[-1], self.disc(recon.detach())[-1])
                (loss_d / cfg.grad_accum).backward()
                terms["discriminator"] = float(loss_d.detach())
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(batches):
                self.opt_g.step()
                self.opt_g.zero_grad(set_to_none=True)
                if adversarial:
                    self.opt_d.step()
                    self.opt_d.zero_grad(set_to_none=True)
            for k, v in terms.items():
                sums.setdefault(k, []).append(v)
        return {f"train_{k}": float(np.mean(v)) for k, v in sums.items()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        self.gen.eval()
        out = [self.gen.reconstruct(x[i:i + 1].to(self.device)).cpu() for i in range(len(x))]
        return torch.cat(out)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean L1 between the validation volumes and their (posterior-mean) reconstructions."""
        recon = self.reconstruct(self.x_val)
        return {"val_l1": float((recon - self.x_val).abs().mean())}

    # ------------------------------------------------------------------ the loop
    def fit(self, tracker: Tracker | None = None, on_checkpoint: Callable[[int], None] | None = None) -> AETrainResult:
        self.ckdir.mkdir(parents=True, exist_ok=True)
        resumed_from = self.start_epoch
        report_missing_epochs(tracker, self.history)
        bar = progress(range(self.start_epoch, self.cfg.epochs), total=self.cfg.epochs - self.start_epoch, desc="autoencoder")
        for epoch in bar:
            t0 = time.perf_counter()
            torch.manual_seed(self.seed * 7919 + epoch)
            rec: dict[str, float] = {"epoch": epoch, **self.train_epoch(epoch)}
            if (epoch + 1) % self.cfg.val_every == 0 or epoch + 1 == self.cfg.epochs:
                rec.update(self.validate())
            rec["epoch_time_s"] = time.perf_counter() - t0
            self.history.append(rec)
            if rec.get("val_l1", float("inf")) < self.best_val:
                self.best_val, self.best_epoch = rec["val_l1"], epoch
                atomic_save({"model": self.gen.state_dict(), "model_config": self.mc, "epoch": epoch,
                             "val_l1": self.best_val, "config_hash": self.hash}, self.ckdir / "best.pt")
            atomic_save(self._state(epoch + 1), self.ckdir / "last.pt")
            if on_checkpoint:
                on_checkpoint(epoch)
            if tracker is not None:
                tracker.log_epoch(rec, epoch)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(l1=f"{rec['train_l1']:.4f}", val=f"{rec.get('val_l1', float('nan')):.4f}")
        return AETrainResult(self.history, self.best_epoch, self.best_val, resumed_from)


def save_history(history: list[dict[str, float]], path: Path) -> None:
    history_tsv(history, HISTORY_KEYS, path)
