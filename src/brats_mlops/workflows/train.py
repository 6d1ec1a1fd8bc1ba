"""The training stage of a family trained into platform checkpoints (``train_segmentation``,
``train_segmentation_2d``, a new family's): one MLflow run per stage (a killed run resumes in it), every epoch logged
as it ends, k-fold cross-validation where the family supports it, the history TSV dvc.yaml plots, the curves figure.

Data-parallel: ``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation`` (rank 0 logs and writes)."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config.schema import Params
from brats_mlops.errors import StageError
from brats_mlops.families import SegmentationFamily
from brats_mlops.names import TAG_ABLATION_GROUP, TAG_PREFIX
from brats_mlops.reporting.figures import training_curves
from brats_mlops.tracking.runs import TrainingRun
from brats_mlops.training import distributed
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger

LOGGED = ("best_val_dice_composite", "best_epoch", "frozen_parameters", "trainable_parameters")


def train_family(params: Params, family: SegmentationFamily) -> None:
    log = stage_logger(family.train_stage)
    cfg, p = family.config(params), params.paths
    folds = getattr(cfg, "folds", 1) if getattr(family, "supports_folds", False) else 1
    parent = resolve_parent(getattr(cfg, "init_from", None))
    ddp = distributed.init()
    if ddp.world_size > 1 and folds > 1:
        raise StageError(f"{family.section}.folds > 1 trains its folds one after another in one process: run it without torchrun")
    if not ddp.is_main:  # another DDP rank: its share of every epoch; rank 0 tracks and writes
        family.train(params, None, parent=parent)
        return distributed.shutdown()
    log.info("training %s %s, %d epochs; checkpoints in %s", family.title, getattr(cfg, "model", family.key), cfg.epochs,
             family.checkpoint_dir(params))
    plot = p.plot(f"{family.metrics_name}_train")
    with TrainingRun(family.train_stage, params, ["seed", family.section, "preprocess"], deps=[p.preprocessed_dir, p.segmentation_split],
                     tags={TAG_ABLATION_GROUP: cfg.ablation_group}) as run:
        cv: dict = {}
        if folds > 1:  # k-fold cross-validation: one nested run per fold; fold 0 is the split's train/val
            from brats_mlops.training.folds import train_folds

            cv = train_folds(params, run, history_path=plot, parent=parent)
            trained, timing = cv.pop("fold0"), cv.pop("timing")
            run.log_metrics(cv)
            log.info("%d-fold CV: mean best composite Dice %.4f ± %.4f", folds, cv["cv_mean_best_val_dice_composite"],
                     cv["cv_std_best_val_dice_composite"])
        else:
            trained = family.train(params, run, history_path=plot, parent=parent)
            timing = trained.timing
        dump_json({**trained.metrics, **cv}, p.metrics(f"{family.metrics_name}_train"))
        run.log_metrics({**{k: trained.metrics[k] for k in LOGGED if k in trained.metrics}, **timing})  # k folds: their sum
        run.set_tags({f"{TAG_PREFIX}{k}": v for k, v in getattr(trained.trainer, "lineage", {}).items()})  # fine-tuning: the parent
        run.log_artifact(training_curves(trained.result.history, Path(p.reports_dir) / family.metrics_name / "training_curves.png"), "figures")
        run.log_artifact(plot, "history")
        log.info("best composite Dice %.4f at epoch %d (run %s)", trained.result.best_score, trained.result.best_epoch, run.run_id)
    distributed.shutdown()


def resolve_parent(init_from: str | None) -> tuple[dict, dict[str, str]] | None:
    """Transfer learning's start, resolved where the stage starts (the trainer never reaches into the registry): the
    state dict and lineage of ``init_from`` (``models:/<name>@<alias>``, ``models:/<name>/<version>`` or a checkpoint)."""
    if not init_from:
        return None
    from brats_mlops.registry.segmentation import parent_weights

    state, _, lineage = parent_weights(init_from)
    return state, lineage

