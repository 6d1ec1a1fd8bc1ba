"""Autoencoder training (paper §4.2): AutoencoderKL generator + PatchGAN discriminator, Adam, gradient
accumulation, validation L1 every ``val_every`` epochs, best-reconstruction and resumable last checkpoints.

The resume contract is the segmentation trainer's: ``last.pt`` (both networks, both optimisers, history,
MLflow run id) is written atomically after every epoch, *then* the epoch is reported; a restarted run
reports what the tracker lacks and continues. Each epoch's order is seeded by (seed, epoch).

Inputs are the preprocess stage's ``autoencoder/<id>.b2nd`` volumes (1×X×Y×Z in [0, 1]); they are small
enough to keep in memory (72 cases at 48³ are 32 MB; 494 at 112×112×96 are 2.3 GB).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brats_mlops.config.schema import AutoencoderParams, Params
from brats_mlops.data.datasets import load_volumes
from brats_mlops.data.preprocessing import Plans
from brats_mlops.losses.autoencoder import AdversarialLosses, build_perceptual, kl_loss
from brats_mlops.models.autoencoder import autoencoder_config, build_autoencoder, build_discriminator
from brats_mlops.training import distributed
from brats_mlops.training.layout import as_input, to_layout
from brats_mlops.training.loop import Tracker, Trained, Trainer, config_hash, history_tsv

log = logging.getLogger(__name__)

TERMS = ("l1", "kl", "perceptual", "adv_g", "generator", "discriminator")
HISTORY_KEYS = ["epoch", *(f"train_{t}" for t in TERMS), "val_l1"]  # no timings: the committed TSV must not vary per machine


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


class AutoencoderTrainer(Trainer):
    """AutoencoderKL + PatchGAN batches, losses and validation L1; the loop is :class:`Trainer`'s.

    Args:
        cfg: the ``autoencoder`` params.
        preprocessed_dir: output of the preprocess stage (``autoencoder/<id>.b2nd``).
        split: ``{"train": [...], "val": [...]}`` case ids (see :func:`autoencoder_split`).
        plans: the preprocessing plans (input shape, modality, and how to prepare a new case, stored in the model config).
        checkpoint_dir: where ``last.pt`` and ``best.pt`` live.
    """

    desc = "autoencoder"
    score_key = "val_l1"
    maximize = False

    def __init__(self, cfg: AutoencoderParams, preprocessed_dir: Path, split: dict[str, list[str]], plans: Plans,
                 checkpoint_dir: Path, seed: int):
        super().__init__(checkpoint_dir, seed, cfg.epochs, cfg.val_every)
        self.cfg, self.split = cfg, split
        ae = plans.autoencoder
        self.model_config = autoencoder_config(cfg, tuple(ae["shape"]), ae["modality"])
        self.model_config["preprocess"] = dict(ae)  # how a new case becomes an input (inference.latents.case_input)
        self.model_config["mask_modalities"] = list(plans.modalities)  # the brain mask is non-zero in any of these
        self.config_hash = config_hash(cfg, {"split": split, "seed": seed, "model_config": self.model_config})
        self.gen = to_layout(build_autoencoder(self.model_config).to(self.device), self.device)   # channels-last-3d on CPU
        self.disc = to_layout(build_discriminator(self.model_config).to(self.device), self.device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=cfg.lr_generator)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr_discriminator)
        self.adv = AdversarialLosses()
        self.perceptual = build_perceptual(cfg.loss)
        if self.perceptual is not None:
            self.perceptual = self.perceptual.to(self.device)
        self.x_train = load_volumes(Path(preprocessed_dir), split["train"])
        self.x_val = load_volumes(Path(preprocessed_dir), split["val"])

    @classmethod
    def from_params(cls, params: Params, checkpoint_dir: str | Path | None = None) -> "AutoencoderTrainer":
        """The trainer the ``train_autoencoder`` stage runs (split per :func:`autoencoder_split`)."""
        p = params.paths
        plans = Plans.load(p.preprocessed_dir)
        split = autoencoder_split(plans, params.autoencoder.val_fraction, params.seed)
        return cls(params.autoencoder, Path(p.preprocessed_dir), split, plans, Path(checkpoint_dir or p.autoencoder_checkpoints),
                   params.seed)

    def stateful(self) -> dict[str, Any]:
        return {"model": self.gen, "discriminator": self.disc, "opt_g": self.opt_g, "opt_d": self.opt_d}

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
        order = distributed.shard(torch.randperm(len(self.x_train), generator=g))   # DDP: this rank's share
        batches = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        adversarial = epoch >= cfg.adversarial_start_epoch and cfg.loss.adversarial > 0
        self.gen.train()
        self.disc.train()
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        sums: dict[str, list[float]] = {}
        for i, idx in enumerate(batches):
            x = as_input(self.x_train[idx], self.device)
            loss_g, terms, recon = self.generator_terms(x, adversarial)
            (loss_g / cfg.grad_accum).backward()
            if adversarial:
                loss_d = self.adv.discriminator(self.disc(x)[-1], self.disc(recon.detach())[-1])
                (loss_d / cfg.grad_accum).backward()
                terms["discriminator"] = float(loss_d.detach())
            if (i + 1) % cfg.grad_accum == 0 or i + 1 == len(batches):
                distributed.average_gradients(self.gen)
                self.opt_g.step()
                self.opt_g.zero_grad(set_to_none=True)
                if adversarial:
                    distributed.average_gradients(self.disc)
                    self.opt_d.step()
                    self.opt_d.zero_grad(set_to_none=True)
            for k, v in terms.items():
                sums.setdefault(k, []).append(v)
        return {f"train_{k}": float(np.mean(v)) for k, v in sums.items()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        self.gen.eval()
        out = [self.gen.reconstruct(as_input(x[i:i + 1], self.device)).cpu().contiguous() for i in range(len(x))]
        return torch.cat(out)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean L1 between the validation volumes and their (posterior-mean) reconstructions."""
        recon = self.reconstruct(self.x_val)
        return {"val_l1": float((recon - self.x_val).abs().mean())}

    def postfix(self, record: dict[str, float]) -> dict[str, str]:
        return {"l1": f"{record['train_l1']:.4f}", "val": f"{record.get('val_l1', float('nan')):.4f}"}


def save_history(history: list[dict[str, float]], path: Path) -> None:
    history_tsv(history, HISTORY_KEYS, path)


def train_autoencoder(params: Params, tracker: Tracker | None = None, checkpoint_dir: str | Path | None = None,
                      history_path: Path | None = None) -> Trained:
    """Train (or resume) the autoencoder configured by ``params``; the DVC stage and the Optuna objective both call this."""
    trainer = AutoencoderTrainer.from_params(params, checkpoint_dir)
    log.info("training on %d volumes, validating on %d; latent %s; device %s; checkpoints in %s", len(trainer.split["train"]),
             len(trainer.split["val"]), trainer.model_config["latent_shape"], trainer.device, trainer.ckdir)
    result = trainer.fit(tracker, on_checkpoint=(lambda _: save_history(trainer.history, history_path)) if history_path else None)
    if history_path:
        save_history(result.history, history_path)
    last = result.history[-1]
    metrics = {"best_epoch": result.best_epoch, "best_val_l1": result.best_score, "final_train_l1": last["train_l1"],
               "epochs": len(result.history), "n_train": len(trainer.split["train"]), "n_val": len(trainer.split["val"]),
               "latent_shape": trainer.model_config["latent_shape"]}
    return Trained(metrics, result, trainer)
