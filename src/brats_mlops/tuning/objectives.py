"""The three studies: segmentation loss weights, autoencoder loss weights, survival classifier spaces.

Each objective trains/evaluates with the project's own code (the same trainers and pipelines as the DVC
stages) on a short budget from ``tune.*`` params; per-epoch values are reported to Optuna for pruning and
logged to the trial's nested MLflow run.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from brats_mlops.config.schema import Params, parse_params
from brats_mlops.tracking import active_run
from brats_mlops.training.autoencoder import train_autoencoder
from brats_mlops.training.segmentation import train_segmentation
from brats_mlops.tuning.study import StudySpec


class PruningTracker:
    """The training loop's tracker in a study: reports ``key`` to the trial (pruning) and every value to the
    trial's nested MLflow run (the active run)."""

    def __init__(self, trial: optuna.Trial, key: str):
        self.trial, self.key = trial, key
        self.run = active_run()

    def start(self, resume_run_id: str | None) -> str | None:
        return self.run.run_id if self.run else None

    def log_epoch(self, record: dict[str, float], step: int) -> None:
        if self.run is not None:
            self.run.log_metrics({k: v for k, v in record.items() if k != "epoch" and v is not None}, step=step)
        if record.get(self.key) is not None:
            self.trial.report(float(record[self.key]), step)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {step}: {self.key}={record[self.key]:.4f}")

    def logged_epochs(self) -> set[int]:
        return set()


def _override(params: Params, section: str, values: dict[str, Any]) -> Params:
    """``params`` with ``values`` merged into ``section`` (validated like params.yaml)."""
    raw = params.dump()
    raw[section] = {**raw[section], **values}
    return parse_params(raw)


def _maybe_hang(trial: optuna.Trial) -> None:
    """Test hook: ``BRATS_TUNE_HANG_AT_TRIAL=N`` makes trial N hang (so a test can kill its worker)."""
    if os.environ.get("BRATS_TUNE_HANG_AT_TRIAL") == str(trial.number):
        time.sleep(3600)


# ----------------------------------------------------------------------------------------------- segmentation
def segmentation_objective(trial: optuna.Trial, params: Params) -> float:
    """Loss weights (and region thresholds) → best validation composite Dice of a short training."""
    cfg = params.segmentation
    over: dict[str, Any] = {"loss": {"dice": trial.suggest_float("dice", 0.5, 1.5), "ce_beta": trial.suggest_float("ce_beta", 0.0, 1.0),
                                     "focal": trial.suggest_float("focal", 0.0, 1.0), "edge": trial.suggest_float("edge", 0.0, 0.1)},
                            "epochs": params.tune.segmentation_epochs, "val_every": 1}
    if cfg.mode == "region":  # one threshold per region of the data's label scheme (WT, TC, ET; + RC; MEN-RT: GTV)
        over["region_thresholds"] = [trial.suggest_float(f"threshold_{r}", 0.3, 0.7) for r in _regions(params)]
    _maybe_hang(trial)
    from brats_mlops.workflows.train import resolve_parent

    with tempfile.TemporaryDirectory() as ck:
        trained = train_segmentation(_override(params, "segmentation", over), PruningTracker(trial, "val_dice_composite"), Path(ck),
                                     parent=resolve_parent(cfg.init_from))
    return float(trained.metrics["best_val_dice_composite"])


def segmentation_params(best: dict[str, Any]) -> dict[str, Any]:
    out = {f"segmentation.loss.{k}": round(float(best[k]), 6) for k in ("dice", "ce_beta", "focal", "edge")}
    regions = [r for r in ("wt", "tc", "et", "rc", "gtv") if f"threshold_{r}" in best]
    if regions:
        out["segmentation.region_thresholds"] = [round(float(best[f"threshold_{r}"]), 4) for r in regions]
    return out


def _regions(params: Params) -> list[str]:
    from brats_mlops.data.preprocessing import Plans

    try:
        return list(Plans.load(params.paths.preprocessed_dir).scheme.regions)
    except FileNotFoundError:
        return ["wt", "tc", "et"]


# ----------------------------------------------------------------------------------------------- autoencoder
def autoencoder_objective(trial: optuna.Trial, params: Params) -> float:
    """KL / adversarial (/ perceptual) weights → best validation L1 of a short training."""
    cfg = params.autoencoder
    loss = cfg.loss.model_dump(mode="json")
    loss["kl"] = trial.suggest_float("kl", 1e-8, 1e-4, log=True)
    loss["adversarial"] = trial.suggest_float("adversarial", 1e-3, 1e-1, log=True)
    if cfg.loss.perceptual_cache_dir:  # only when the perceptual network's weights are on disk
        loss["perceptual"] = trial.suggest_float("perceptual", 1e-4, 1e-2, log=True)
    _maybe_hang(trial)
    over = {"loss": loss, "epochs": params.tune.autoencoder_epochs, "val_every": 1}
    with tempfile.TemporaryDirectory() as ck:
        trained = train_autoencoder(_override(params, "autoencoder", over), PruningTracker(trial, "val_l1"), Path(ck))
    return float(trained.metrics["best_val_l1"])


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
    """The training split's feature matrix of ``tune.survival_feature_set`` and its labels (as the survival stage)."""
    from brats_mlops.survival.branch import SurvivalInputs

    data, ts = SurvivalInputs.load(params.paths, classification_only=True), params.tune
    return data.features(ts.survival_feature_set, ts.survival_with_age, data.train), data.train.label.to_numpy(dtype=int)


def survival_objective(trial: optuna.Trial, params: Params) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from brats_mlops.survival.experiment import pca_setting
    from brats_mlops.survival.grids import make_pipeline
    from brats_mlops.survival.stats import MACRO_F1_SCORER

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
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(s.cv_folds, shuffle=True, random_state=params.seed), scoring=MACRO_F1_SCORER)
    run = active_run()
    for i, v in enumerate(scores):
        if run is not None:
            run.log_metrics({"fold_macro_f1": float(v)}, step=i)
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
    need = {"segmentation": [Path(p.preprocessed_dir) / "plans.json", p.segmentation_split],
            "autoencoder": [Path(p.preprocessed_dir) / "plans.json"],
            "survival": [p.survival_cohort]}[study]
    if study == "survival":
        fs = params.tune.survival_feature_set
        need.append({"segmentation_volumes": p.segmentation_volumes, "bottleneck": p.bottleneck_features,
                     "age_only": p.survival_cohort}.get(fs, p.latents))
    return [str(x) for x in need if not x.is_file()]


STUDIES: dict[str, StudySpec] = {
    "segmentation": StudySpec("segmentation", "segmentation", "maximize", "val_dice_composite", segmentation_objective, segmentation_params),
    "autoencoder": StudySpec("autoencoder", "autoencoder", "minimize", "val_l1", autoencoder_objective, autoencoder_params),
    "survival": StudySpec("survival", "survival", "maximize", "cv_macro_f1", survival_objective, survival_params),
}
