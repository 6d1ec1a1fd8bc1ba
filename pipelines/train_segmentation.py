"""DVC stage `train_segmentation`: train the configured network; resumes a killed run in the same MLflow run.

Data-parallel: ``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation`` (rank 0 logs and writes)."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.errors import StageError
from brats_mlops.names import STAGE_TRAIN_SEG, TAG_ABLATION_GROUP, TAG_PREFIX
from brats_mlops.reporting.figures import training_curves
from brats_mlops.tracking import TrainingRun
from brats_mlops.training import distributed
from brats_mlops.training.folds import train_folds
from brats_mlops.training.segmentation import train_segmentation
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_TRAIN_SEG)
    params = load_params()
    ddp = distributed.init()
    if ddp.world_size > 1 and params.segmentation.folds > 1:
        raise StageError("segmentation.folds > 1 trains its folds one after another in one process: run it without torchrun")
    if not ddp.is_main:  # another DDP rank: its share of every epoch; rank 0 tracks and writes
        train_segmentation(params)
        return distributed.shutdown()
    cfg, p = params.segmentation, params.paths
    log.info("training %s (%s mode), %d epochs; checkpoints in %s", cfg.model, cfg.mode, cfg.epochs, p.segmentation_checkpoints)
    plot = p.plot("segmentation_train")
    with TrainingRun(STAGE_TRAIN_SEG, params, ["seed", "segmentation", "preprocess"], deps=[p.preprocessed_dir, p.segmentation_split],
                     tags={TAG_ABLATION_GROUP: cfg.ablation_group}) as run:
        if cfg.folds > 1:  # k-fold cross-validation: one nested run per fold; fold 0 is the split's train/val
            cv = train_folds(params, run, history_path=plot)
            trained, timing = cv.pop("fold0"), cv.pop("timing")
            run.log_metrics(cv)
            log.info("%d-fold CV: mean best composite Dice %.4f ± %.4f", cfg.folds, cv["cv_mean_best_val_dice_composite"],
                     cv["cv_std_best_val_dice_composite"])
        else:
            trained, cv = train_segmentation(params, run, history_path=plot), {}
            timing = trained.timing
        dump_json({**trained.metrics, **cv}, p.metrics("segmentation_train"))
        run.log_metrics({**{k: trained.metrics[k] for k in ("best_val_dice_composite", "best_epoch", "frozen_parameters",
                                                             "trainable_parameters")}, **timing})  # k folds: their sum
        run.set_tags({f"{TAG_PREFIX}{k}": v for k, v in trained.trainer.lineage.items()})  # transfer learning: the parent
        run.log_artifact(training_curves(trained.result.history, Path(p.reports_dir) / "segmentation" / "training_curves.png"), "figures")
        run.log_artifact(plot, "history")
        log.info("best composite Dice %.4f at epoch %d (run %s)", trained.result.best_score, trained.result.best_epoch, run.run_id)
    distributed.shutdown()


if __name__ == "__main__":
    run_stage(main, STAGE_TRAIN_SEG)
