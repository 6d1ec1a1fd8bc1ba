"""DVC stage `train_autoencoder`: AutoencoderKL + PatchGAN on the autoencoder inputs (labelled + unlabelled
cases); resumes a killed run in the same MLflow run; registers the best checkpoint as brats-autoencoder@challenger."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.names import STAGE_TRAIN_AE, TAG_N_TRAIN, TAG_N_VAL
from brats_mlops.inference.latents import reconstruct
from brats_mlops.models.checkpoint import load_autoencoder
from brats_mlops.reporting.figures import autoencoder_curves, reconstruction_figure
from brats_mlops.tracking.runs import TrainingRun
from brats_mlops.training import distributed
from brats_mlops.training.autoencoder import train_autoencoder
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_TRAIN_AE)
    params = load_params()
    if not distributed.init().is_main:  # torchrun: another rank trains its share; rank 0 tracks, writes, registers
        train_autoencoder(params)
        return distributed.shutdown()
    cfg, p = params.autoencoder, params.paths
    log.info("training AutoencoderKL %s + PatchGAN, %d epochs, batch %d x accum %d", list(cfg.channels), cfg.epochs, cfg.batch_size,
             cfg.grad_accum)
    if cfg.loss.perceptual == 0:
        log.info("perceptual term off (autoencoder.loss.perceptual: 0; it needs pretrained weights on disk)")
    plot, figures = p.plot("autoencoder_train"), Path(p.reports_dir) / "autoencoder"
    with TrainingRun(STAGE_TRAIN_AE, params, ["seed", "autoencoder", "preprocess"], deps=[p.preprocessed_dir], key="train_l1") as run:
        trained = train_autoencoder(params, run, history_path=plot)
        m, split = trained.metrics, trained.trainer.split
        run.set_tags({TAG_N_TRAIN: len(split["train"]), TAG_N_VAL: len(split["val"])})
        dump_json(m, p.metrics("autoencoder_train"))
        run.log_metrics({"best_val_l1": m["best_val_l1"], "best_epoch": m["best_epoch"], **trained.timing})
        n = min(cfg.figure_cases, len(split["val"]))
        x = trained.trainer.x_val[:n].numpy()
        fig = reconstruction_figure(x[:, 0], reconstruct(load_autoencoder(p.autoencoder_checkpoints / "best.pt")[0], x)[:, 0], split["val"][:n],
                                    figures / "reconstructions.png",
                                    title=f"AutoencoderKL, best epoch {m['best_epoch']}: validation L1 {m['best_val_l1']:.4f}")
        for f, where in ((fig, "figures"), (autoencoder_curves(trained.result.history, figures / "training_curves.png"), "figures"),
                         (plot, "history")):
            run.log_artifact(f, where)
        from brats_mlops.registry.autoencoder import register_trained  # MLflow: imported when it registers

        uri, version = register_trained(p.autoencoder_checkpoints / "best.pt", m["best_val_l1"], run.run_id, p)
        log.info("best validation L1 %.4f at epoch %d; registered %s version %s as @challenger (run %s)",
                 m["best_val_l1"], m["best_epoch"], uri, version, run.run_id)
    distributed.shutdown()


if __name__ == "__main__":
    run_stage(main, STAGE_TRAIN_AE)
