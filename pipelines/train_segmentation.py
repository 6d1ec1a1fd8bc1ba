"""DVC stage `train_segmentation`: train the configured network; resumes a killed run in the same MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans, dump_json
from brats_mlops.names import SEGMENTATION_CHECKPOINTS, STAGE_TRAIN_SEG, TAG_ABLATION_GROUP
from brats_mlops.reporting.figures import training_curves
from brats_mlops.tracking import MlflowEpochTracker, stage_run
from brats_mlops.training.segmentation import SegmentationTrainer, save_history
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger

CHECKPOINTS = Path(SEGMENTATION_CHECKPOINTS)
PLOT = Path("plots/segmentation_train.tsv")  # dvc.yaml: plots


def main() -> None:
    log = stage_logger(STAGE_TRAIN_SEG)
    params = load_params()
    cfg, p = params.segmentation, params.paths
    plans = Plans.load(p.preprocessed_dir)
    split = json.loads((Path(p.splits_dir) / "segmentation.json").read_text())
    trainer = SegmentationTrainer(cfg, Path(p.preprocessed_dir), split, plans.num_classes, plans.modalities,
                                  plans.crop_size, plans.healthy_label, CHECKPOINTS, params.seed)
    ck = trainer.resumable()
    if ck:
        trainer.load(ck)
        log.info("resuming from epoch %d/%d of MLflow run %s", trainer.start_epoch, cfg.epochs, trainer.run_id)
    log.info("training %s (%s mode) on %d cases, validating on %d; %d epochs; device %s; checkpoints in %s",
             cfg.model, cfg.mode, len(split["train"]), len(split["val"]), cfg.epochs, trainer.device, CHECKPOINTS)
    metrics_path = Path(p.metrics_dir) / "segmentation_train.json"
    with stage_run(STAGE_TRAIN_SEG, params, ["seed", "segmentation", "preprocess"],
                   deps=[p.preprocessed_dir, Path(p.splits_dir) / "segmentation.json"],
                   tags={TAG_ABLATION_GROUP: cfg.ablation_group}, run_id=trainer.run_id) as run:
        trainer.run_id = run.run_id
        result = trainer.fit(MlflowEpochTracker(run.run_id), on_checkpoint=lambda _: save_history(trainer.history, PLOT))
        save_history(result.history, PLOT)
        last = result.history[-1]
        m = {"best_epoch": result.best_epoch, "best_val_dice_composite": result.best_score,
             "final_val_dice_wt": last.get("val_dice_wt"), "final_val_dice_tc": last.get("val_dice_tc"),
             "final_val_dice_et": last.get("val_dice_et"), "epochs": len(result.history),
             "mean_epoch_time_s": sum(h["epoch_time_s"] for h in result.history) / len(result.history)}
        dump_json(m, metrics_path)
        run.log_metrics({"best_val_dice_composite": result.best_score, "best_epoch": result.best_epoch})
        run.log_artifact(training_curves(result.history, Path("reports/segmentation/training_curves.png")), "figures")
        run.log_artifact(PLOT, "history")
        log.info("best composite Dice %.4f at epoch %d (run %s)", result.best_score, result.best_epoch, run.run_id)


if __name__ == "__main__":
    run_stage(main, "train_segmentation")
