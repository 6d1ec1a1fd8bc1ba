"""DVC stage `train_segmentation_2d` (slices/dvc.yaml): the 2-D slice model of seeds 001/004 on the platform's
training loop; resumes a killed run in the same MLflow run. DDP: ``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation_2d``."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.names import STAGE_TRAIN_SEG_2D, TAG_ABLATION_GROUP
from brats_mlops.reporting.figures import training_curves
from brats_mlops.tracking import TrainingRun
from brats_mlops.training import distributed
from brats_mlops.training.slices import train_segmentation_2d
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_TRAIN_SEG_2D)
    params = load_params()
    if not distributed.init().is_main:  # torchrun: another rank trains its share; rank 0 tracks and writes
        train_segmentation_2d(params)
        return distributed.shutdown()
    cfg, p = params.slices2d, params.paths
    plot = p.plot("segmentation_2d_train")
    with TrainingRun(STAGE_TRAIN_SEG_2D, params, ["seed", "slices2d", "preprocess"], deps=[p.preprocessed_dir, p.segmentation_split],
                     tags={TAG_ABLATION_GROUP: cfg.ablation_group}) as run:
        trained = train_segmentation_2d(params, run, history_path=plot)
        dump_json(trained.metrics, p.metrics("segmentation_2d_train"))
        run.log_metrics({**{k: trained.metrics[k] for k in ("best_val_dice_composite", "best_epoch")}, **trained.timing})
        run.log_artifact(training_curves(trained.result.history, Path(p.reports_dir) / "segmentation_2d" / "training_curves.png"), "figures")
        run.log_artifact(plot, "history")
        log.info("best composite Dice %.4f at epoch %d (run %s)", trained.result.best_score, trained.result.best_epoch, run.run_id)
    distributed.shutdown()


if __name__ == "__main__":
    run_stage(main, STAGE_TRAIN_SEG_2D)
