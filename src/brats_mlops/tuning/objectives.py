"""The three studies: segmentation loss weights, autoencoder loss weights, survival classifier spaces.

Each objective trains/evaluates with the project's own code (the same trainers and pipelines as the DVC
stages) on a short budget from ``tune.*`` params; per-epoch values are reported to Optuna for pruning and
logged to the trial's nested MLflow run.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd

from brats_mlops.config.schema import AutoencoderParams, Params, SegmentationParams
from brats_mlops.tuning.study import StudySpec


class PruningTracker:
    """A trainer's tracker that reports ``key`` to the trial (pruning) and every value to the active MLflow run."""

    def __init__(self, trial: optuna.Trial, key: str):
        self.trial, self.key = trial, key

    def log_epoch(self, record: dict[str, float], step: int) -> None:
        mlflow.log_metrics({k: float(v) for k, v in record.items() if k != "epoch" and v is not None}, step=step)
        if record.get(self.key) is not None:
            self.trial.report(float(record[self.key]), step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {step}: {self.key}={record[self.key]:.4f}")

    def logged_epochs(self) -> set[int]:
        return set()


def _maybe_hang(trial: optuna.Trial) -> None:
    """Test hook: ``BRATS_TUNE_HANG_AT_TRIAL=N`` makes trial N hang (so a test can kill its worker)."""
    if os.environ.get("BRATS_TUNE_HANG_AT_TRIAL") == str(trial.number):
        time.sleep(3600)


# ----------------------------------------------------------------------------------------------- segmentation
def segmentation_objective(trial: optuna.Trial, params: Params) -> float:
    from brats_mlops.data.preprocessing import Plans
    from brats_mlops.training.segmentation import SegmentationTrainer

    cfg = params.segmentation
    raw = cfg.model_dump(mode="json")
    raw["loss"] = {"dice": trial.suggest_float("dice", 0.5, 1.5), "ce_beta": trial.suggest_float("ce_beta", 0.0, 1.0),
                   "focal": trial.suggest_float("focal", 0.0, 1.0), "edge": trial.suggest_float("edge", 0.0, 0.1)}
    if cfg.mode == "region":
        raw["region_thresholds"] = [trial.suggest_float(f"threshold_{r}", 0.3, 0.7) for r in ("wt", "tc", "et")]
    raw.update(epochs=params.tune.segmentation_epochs, val_every=1)
    _maybe_hang(trial)
    new = SegmentationParams(**raw)
    p = params.paths
    plans = Plans.load(p.preprocessed_dir)
    split = json.loads((Path(p.splits_dir) / "segmentation.json").read_text())
    with tempfile.TemporaryDirectory() as ck:
        t = SegmentationTrainer(new, Path(p.preprocessed_dir), split, plans.num_classes, plans.modalities, plans.crop_size,
                                plans.healthy_label, Path(ck), params.seed)
        res = t.fit(PruningTracker(trial, "val_dice_composite"))
    return float(res.best_score)


def segmentation_params(best: dict[str, Any]) -> dict[str, Any]:
    out = {f"segmentation.loss.{k}": round(float(best[k]), 6) for k in ("dice", "ce_beta", "focal", "edge")}
    if "threshold_wt" in best:
        out["segmentation.region_thresholds"] = [round(float(best[f"threshold_{r}"]), 4) for r in ("wt", "tc", "et")]
    return out


# ----------------------------------------------------------------------------------------------- autoencoder
def autoencoder_objective(trial: optuna.Trial, params: Params) -> float:
    from brats_mlops.data.preprocessing import Plans
    from brats_mlops.training.autoencoder import AutoencoderTrainer, autoencoder_split

    cfg = params.autoencoder
    raw = cfg.model_dump(mode="json")
    raw["loss"]["kl"] = trial.suggest_float("kl", 1e-8, 1e-4, log=True)
    raw["loss"]["adversarial"] = trial.suggest_float("adversarial", 1e-3, 1e-1, log=True)
    if cfg.loss.perceptual_cache_dir:  # only when the perceptual network's weights are on disk
        raw["loss"]["perceptual"] = trial.suggest_float("perceptual", 1e-4, 1e-2, log=True)
    raw.update(epochs=params.tune.autoencoder_epochs, val_every=1)
    _maybe_hang(trial)
    new = AutoencoderParams(**raw)
    p = params.paths
    plans = Plans.load(p.preprocessed_dir)
    with tempfile.TemporaryDirectory() as ck:
        t = AutoencoderTrainer(new, Path(p.preprocessed_dir), autoencoder_split(plans, cfg.val_fraction, params.seed), plans,
                               Path(ck), params.seed)
        res = t.fit(PruningTracker(trial, "val_l1"))
    return float(res.best_val_l1)


def autoencoder_params(best: dict[str, Any]) -> dict[str, Any]:
    return {f"autoencoder.loss.{k}": float(f"{best[k]:.4g}") for k in ("kl", "adversarial", "perceptual") if k in best}


# ----------------------------------------------------------------------------------------------- survival
SPACES = {  # Appendix A's grids as continuous / integer ranges
    "logistic_regression": lambda t: {"C": t.suggest_float("lr_C", 1e-3, 1e2, log=True)},
    "linear_svm": lambda t: {"C": t.suggest_float("lsvm_C", 1e-3, 1e2, log=True)},
    "rbf_svm": lambda t: {"C": t.suggest_float("rsvm_C", 1e-3, 1e2, log=True), "gamma": t.suggest_float("rsvm_gamma", 1e-4, 1e0, log=True)},
    "random_forest": lambda t: {"n_estimators": t.suggest_int("rf_n_estimators", 50, 500, log=True),
                                "max_depth": t.suggest_int("rf_max_depth", 2, 12),
                                "min_samples_leaf": t.suggest_int("rf_min_samples_leaf", 1, 5)},
    "gradient_boosting": lambda t: {"n_estimators": t.suggest_int("gb_n_estimators", 50, 300, log=True),
                                    "learning_rate": t.suggest_float("gb_learning_rate", 0.01, 0.3, log=True),
                                    "max_depth": t.suggest_int("gb_max_depth", 1, 3)},
}


def _survival_data(params: Params) -> tuple[np.ndarray, np.ndarray]:
    from brats_mlops.survival.experiment import feature_matrix

    p, ts = params.paths, params.tune
    cohort = pd.read_csv(Path(p.splits_dir) / "survival.csv")
    train = cohort[cohort.subset == "train"]
    seg = pd.read_csv("data/features/segmentation_volumes.csv") if Path("data/features/segmentation_volumes.csv").is_file() else None

    def npz(path: str, key: str):
        if not Path(path).is_file():
            return None
        z = np.load(path)
        return dict(zip(z["case_ids"].tolist(), z[key]))

    X = feature_matrix(ts.survival_feature_set, ts.survival_with_age, train, seg, npz("data/features/bottleneck.npz", "features"),
                       npz("data/features/latents.npz", "latents"))
    return X, train.label.to_numpy(dtype=int)


def survival_objective(trial: optuna.Trial, params: Params) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from brats_mlops.survival.experiment import pca_setting
    from brats_mlops.survival.grids import make_pipeline

    s, ts = params.survival, params.tune
    model = trial.suggest_categorical("model", list(s.models))
    hp = SPACES[model](trial)
    _maybe_hang(trial)
    X, y = _survival_data(params)
    pca = pca_setting(ts.survival_feature_set, s.bottleneck_pca, s.flattened_pca, s.profile_variance)
    n_img = X.shape[1] - (1 if ts.survival_with_age else 0)
    if isinstance(pca, int):
        pca = min(pca, n_img, int(len(y) * (s.cv_folds - 1) / s.cv_folds) - 1)
    pipe, _ = make_pipeline(model, params.seed, pca=pca, pca_columns=n_img if (ts.survival_with_age and pca is not None) else None)
    pipe.set_params(**{f"clf__{k}": v for k, v in hp.items()})
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(s.cv_folds, shuffle=True, random_state=params.seed), scoring="f1_macro")
    for i, v in enumerate(scores):
        mlflow.log_metric("fold_macro_f1", float(v), step=i)
    return float(scores.mean())


def survival_params(best: dict[str, Any]) -> dict[str, Any]:
    model = best["model"]
    prefix = {"logistic_regression": "lr_", "linear_svm": "lsvm_", "rbf_svm": "rsvm_", "random_forest": "rf_", "gradient_boosting": "gb_"}[model]
    hp = {k.removeprefix(prefix): v for k, v in best.items() if k.startswith(prefix)}
    return {"survival.models": [model], "survival.grid": "tuned",
            **{f"survival.tuned.{model}.{k}": (round(v, 6) if isinstance(v, float) else v) for k, v in hp.items()}}


def missing_inputs(study: str, params: Params) -> list[str]:
    """Inputs a study needs that are not there yet (they come from `dvc repro`)."""
    p = params.paths
    need = {"segmentation": [Path(p.preprocessed_dir) / "plans.json", Path(p.splits_dir) / "segmentation.json"],
            "autoencoder": [Path(p.preprocessed_dir) / "plans.json"],
            "survival": [Path(p.splits_dir) / "survival.csv"]}[study]
    if study == "survival":
        fs = params.tune.survival_feature_set
        need.append({"segmentation_volumes": Path("data/features/segmentation_volumes.csv"),
                     "bottleneck": Path("data/features/bottleneck.npz"),
                     "age_only": Path(p.splits_dir) / "survival.csv"}.get(fs, Path("data/features/latents.npz")))
    return [str(x) for x in need if not x.is_file()]


STUDIES: dict[str, StudySpec] = {
    "segmentation": StudySpec("segmentation", "segmentation", "maximize", "val_dice_composite", segmentation_objective, segmentation_params),
    "autoencoder": StudySpec("autoencoder", "autoencoder", "minimize", "val_l1", autoencoder_objective, autoencoder_params),
    "survival": StudySpec("survival", "survival", "maximize", "cv_macro_f1", survival_objective, survival_params),
}
