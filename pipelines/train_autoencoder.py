"""DVC stage `train_autoencoder`: AutoencoderKL + PatchGAN on the autoencoder inputs (labelled + unlabelled
cases); resumes a killed run in the same MLflow run; registers the best checkpoint as brats-autoencoder@challenger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans, dump_json
from brats_mlops.names import AUTOENCODER_CHECKPOINTS, STAGE_TRAIN_AE, TAG_DATA_HASH, TAG_GIT_COMMIT, TAG_TRAIN_RUN
from brats_mlops.registry.autoencoder import log_and_register
from brats_mlops.registry.common import data_validation_tag
from brats_mlops.reporting.figures import autoencoder_curves, reconstruction_figure
from brats_mlops.tracking import MlflowEpochTracker, git_commit, real_project_root, stage_run
from brats_mlops.training.autoencoder import AutoencoderTrainer, autoencoder_split, load_autoencoder, save_history
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.hashing import content_hash
from brats_mlops.utils.logs import stage_logger

CHECKPOINTS = Path(AUTOENCODER_CHECKPOINTS)
PLOT = Path("plots/autoencoder_train.tsv")  # dvc.yaml: plots
FIGURES = Path("reports/autoencoder")


def main() -> None:
    log = stage_logger(STAGE_TRAIN_AE)
    params = load_params()
    cfg, p = params.autoencoder, params.paths
    plans = Plans.load(p.preprocessed_dir)
    split = autoencoder_split(plans, cfg.val_fraction, params.seed)
    trainer = AutoencoderTrainer(cfg, Path(p.preprocessed_dir), split, plans, CHECKPOINTS, params.seed)
    ck = trainer.resumable()
    if ck:
        trainer.load(ck)
        log.info("resuming from epoch %d/%d of MLflow run %s", trainer.start_epoch, cfg.epochs, trainer.run_id)
    log.info("training AutoencoderKL %s (latent %s) + PatchGAN on %d volumes, validating on %d; %d epochs, batch %d x accum %d; "
             "device %s", list(cfg.channels), trainer.mc["latent_shape"], len(split["train"]), len(split["val"]), cfg.epochs,
             cfg.batch_size, cfg.grad_accum, trainer.device)
    if cfg.loss.perceptual == 0:
        log.info("perceptual term off (autoencoder.loss.perceptual: 0; it needs pretrained weights on disk)")
    with stage_run(STAGE_TRAIN_AE, params, ["seed", "autoencoder", "preprocess"],
                   deps=[p.preprocessed_dir], run_id=trainer.run_id,
                   tags={"brats.n_train": len(split["train"]), "brats.n_val": len(split["val"])}) as run:
        trainer.run_id = run.run_id
        result = trainer.fit(MlflowEpochTracker(run.run_id, key="train_l1"), on_checkpoint=lambda _: save_history(trainer.history, PLOT))
        save_history(result.history, PLOT)
        model, best = load_autoencoder(CHECKPOINTS / "best.pt")
        n_fig = min(cfg.figure_cases, len(split["val"]))
        x = trainer.x_val[:n_fig]
        with torch.no_grad():
            recon = model.reconstruct(x).numpy()
        fig = reconstruction_figure(x.numpy()[:, 0], recon[:, 0], split["val"][:n_fig], FIGURES / "reconstructions.png",
                                    title=f"AutoencoderKL, best epoch {result.best_epoch}: validation L1 {result.best_val_l1:.4f}")
        curves = autoencoder_curves(result.history, FIGURES / "training_curves.png")
        last = result.history[-1]
        m = {"best_epoch": result.best_epoch, "best_val_l1": result.best_val_l1, "final_train_l1": last["train_l1"],
             "epochs": len(result.history), "n_train": len(split["train"]), "n_val": len(split["val"]),
             "latent_shape": trainer.mc["latent_shape"],
             "mean_epoch_time_s": float(np.mean([h["epoch_time_s"] for h in result.history]))}
        dump_json(m, Path(p.metrics_dir) / "autoencoder_train.json")
        run.log_metrics({"best_val_l1": result.best_val_l1, "best_epoch": result.best_epoch})
        for f, where in ((fig, "figures"), (curves, "figures"), (PLOT, "history")):
            run.log_artifact(f, where)
        sha, _ = git_commit(real_project_root())
        uri, version = log_and_register(CHECKPOINTS / "best.pt", {"val_l1": result.best_val_l1}, {
            TAG_DATA_HASH: content_hash(Path(p.preprocessed_dir) / "plans.json"), TAG_GIT_COMMIT: sha, TAG_TRAIN_RUN: run.run_id,
            **data_validation_tag(p.metrics_dir)})
        log.info("best validation L1 %.4f at epoch %d; registered %s version %s as @challenger (run %s)",
                 result.best_val_l1, result.best_epoch, uri, version, run.run_id)


if __name__ == "__main__":
    run_stage(main, "train_autoencoder")
