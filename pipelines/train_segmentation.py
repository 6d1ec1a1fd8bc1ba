"""DVC stage `train_segmentation`: train the configured network; resumes a killed run in the same MLflow run.

Data-parallel: ``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation`` (rank 0 logs and writes)."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import dump_json
from brats_mlops.names import STAGE_TRAIN_SEG, TAG_ABLATION_GROUP
from brats_mlops.reporting.figures import training_curves
from brats_mlops.tracking import TrainingRun
from brats_mlops.training import distributed
from brats_mlops.training.segmentation import train_segmentation
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_TRAIN_SEG)
    params = load_params()
    if not distributed.init().is_main:  # another DDP rank: its share of every epoch; rank 0 tracks and writes
        train_segmentation(params)
        return distributed.shutdown()
    cfg, p = params.segmentation, params.paths
    log.info("training %s (%s mode), %d epochs; checkpoints in %s", cfg.model, cfg.mode, cfg.epochs, p.segmentation_checkpoints)
    plot = p.plot("segmentation_train")
    with TrainingRun(STAGE_TRAIN_SEG, params, ["seed", "segmentation", "preprocess"], deps=[p.preprocessed_dir, p.segmentation_split],
                     tags={TAG_ABLATION_GROUP: cfg.ablation_group}) as run:
        trained = train_segmentation(params, run, history_path=plot)
        dump_json(trained.metrics, p.metrics("segmentation_train"))
        run.log_metrics({**{k: trained.metrics[k] for k in ("best_val_dice_composite", "best_epoch", "frozen_parameters",
                                                             "trainable_parameters")}, **trained.timing})
        run.set_tags({f"brats.{k}": v for k, v in trained.trainer.lineage.items()})  # transfer learning: the parent
        run.log_artifact(training_curves(trained.result.history, Path(p.reports_dir) / "segmentation" / "training_curves.png"), "figures")
        run.log_artifact(plot, "history")
        log.info("best composite Dice %.4f at epoch %d (run %s)", trained.result.best_score, trained.result.best_epoch, run.run_id)
    distributed.shutdown()


if __name__ == "__main__":
    run_stage(main, STAGE_TRAIN_SEG)
