"""k-fold cross-validation training of the 3-D segmentation network (``segmentation.folds`` = k > 1), nnU-Net's
discipline for the platform's own model.

The split stage writes the folds (``data/splits/segmentation.json`` → ``folds``: the non-test cases partitioned into k
validation parts); fold i trains on the other parts into ``<models_dir>/segmentation/fold_<i>/`` under a nested MLflow
run ``fold_<i>`` of the stage's run. Fold 0 is the split's own train/val, so its ``best.pt`` is also copied to
``<models_dir>/segmentation/best.pt``: every later stage (evaluation, bottleneck PCA, features) works unchanged, and
``evaluate.ensemble: folds`` averages all k folds instead. A killed k-fold training restarts in the same stage run: folds
that had finished are kept, the interrupted one resumes in its own nested run.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from brats_mlops.config.schema import Params
from brats_mlops.data.splits import read_split, split_folds
from brats_mlops.errors import StageError
from brats_mlops.models.checkpoint import RUN_FILE
from brats_mlops.tracking.nested import NestedRun
from brats_mlops.training.loop import FitResult
from brats_mlops.training.segmentation import SegmentationTrainer, summarise_fit, train_segmentation
from brats_mlops.names import TAG_FOLD

log = logging.getLogger(__name__)


def _parent_record(ckdir: Path) -> dict[str, Any]:
    p = ckdir / RUN_FILE
    try:
        return json.loads(p.read_text()) if p.is_file() else {}
    except json.JSONDecodeError:
        return {}


def train_folds(params: Params, run: Any, history_path: Path | None = None, parent: Any = None) -> dict[str, Any]:
    """Train every fold (``run``: the stage's ``TrainingRun``); returns the cross-validation summary (per-fold and mean
    best validation composite Dice) plus fold 0's ``Trained`` under ``"fold0"`` and the summed training time of all
    folds under ``"timing"``."""
    p, k = params.paths, params.segmentation.folds
    folds = split_folds(read_split(p.segmentation_split))
    if len(folds) != k:
        raise StageError(f"segmentation.folds is {k} but {p.segmentation_split} holds {len(folds)} fold(s): "
                         "run the split stage again (dvc repro split)")
    ckdir = Path(p.segmentation_checkpoints)
    ckdir.mkdir(parents=True, exist_ok=True)
    rec = _parent_record(ckdir)
    resume = rec.get("run_id") if rec.get("kfold") == k and not rec.get("finished") else None
    parent = run.start(resume)
    (ckdir / RUN_FILE).write_text(json.dumps({"run_id": parent, "kfold": k, "finished": False}) + "\n")
    scores: dict[str, Any] = {}
    fold0, seconds = None, 0.0
    for i, fold in enumerate(folds):
        fold_dir = ckdir / f"fold_{i}"
        trainer = SegmentationTrainer.from_params(params, fold_dir, fold, parent=parent)
        done = trainer.finished() if resume and (fold_dir / "best.pt").is_file() else None  # kept only when resuming
        if done is not None:
            log.info("fold %d/%d finished before the restart: kept (best composite Dice %.4f)", i + 1, k, done["best_score"])
            kept = summarise_fit(trainer, FitResult(done["history"], done["best_epoch"], done["best_score"], done["epoch"]))
            scores[f"fold{i}_best_val_dice_composite"] = float(kept.metrics["best_val_dice_composite"])
            fold0 = kept if i == 0 else fold0
            seconds += sum(_parent_record(fold_dir).get("epoch_time_s", {}).values())  # the loop's sidecar keeps them
            continue
        log.info("fold %d/%d: %d training / %d validation cases", i + 1, k, len(fold["train"]), len(fold["val"]))
        child = NestedRun(f"fold_{i}", {"fold": i, "train_cases": len(fold["train"]), "val_cases": len(fold["val"])},
                          {TAG_FOLD: i})
        try:
            trained = train_segmentation(params, child, fold_dir, history_path if i == 0 else None, split=fold, parent=parent)
            child.log_metrics({"best_val_dice_composite": trained.metrics["best_val_dice_composite"], **trained.timing})
        except BaseException:
            child.end("FAILED")
            raise
        child.end()
        scores[f"fold{i}_best_val_dice_composite"] = float(trained.metrics["best_val_dice_composite"])
        seconds += trained.timing.get("train_time_s", 0.0)
        if i == 0:
            fold0 = trained
    shutil.copy2(ckdir / "fold_0" / "best.pt", ckdir / "best.pt")  # fold 0 = the split's train/val: the single model
    (ckdir / RUN_FILE).write_text(json.dumps({"run_id": parent, "kfold": k, "finished": True}) + "\n")
    vals = [v for key, v in scores.items() if key.endswith("_best_val_dice_composite")]
    scores |= {"cv_mean_best_val_dice_composite": float(np.mean(vals)), "cv_std_best_val_dice_composite": float(np.std(vals, ddof=1)),
               "folds": k}
    return {**scores, "fold0": fold0, "timing": {"train_time_s": seconds}}  # timing: for MLflow only (varies per run)
