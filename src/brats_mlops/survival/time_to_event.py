"""Time-to-event models (scikit-survival): Cox proportional hazards and random survival forest, scored by
Harrell's concordance index. ``ALIVE (...)`` entries are censored (``event`` 0), never counted as deaths.

Evaluation: repeated K-fold CV c-index on every patient with a survival time (scaler, PCA and model fitted
inside the folds), and the c-index on the classification test split after fitting on everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import RepeatedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.ensemble import RandomSurvivalForest
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored
from sksurv.util import Surv


def survival_target(days: np.ndarray, event: np.ndarray) -> np.ndarray:
    """scikit-survival's structured target: ``event`` True only for observed deaths (censored → False)."""
    ev = np.asarray(event, dtype=float)
    if np.isnan(ev).any():
        raise ValueError("event flags must be 0 (censored) or 1 (death), found missing values")
    return Surv.from_arrays(event=ev.astype(bool), time=np.asarray(days, dtype=float))


def make_tte_pipeline(model: str, seed: int, pca: int | float | None = None) -> Pipeline:
    steps: list = [("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", PCA(n_components=pca, random_state=seed)))
    if model == "cox":
        est = CoxPHSurvivalAnalysis(alpha=1.0, ties="efron")  # ridge penalty: stable with few patients
    elif model == "rsf":
        est = RandomSurvivalForest(n_estimators=200, min_samples_leaf=3, random_state=seed, n_jobs=1)
    else:
        raise ValueError(f"unknown time-to-event model {model!r}; valid: cox, rsf")
    steps.append(("model", est))
    return Pipeline(steps)


def c_index(y: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: the share of comparable pairs whose predicted risk orders their times (censoring-aware)."""
    return float(concordance_index_censored(y["event"], y["time"], risk)[0])


@dataclass
class TTEResult:
    model: str
    cv_c_index: float
    cv_c_index_std: float
    test_c_index: float
    n_patients: int
    n_events: int
    n_test: int


def evaluate_tte(model: str, X: np.ndarray, days: np.ndarray, event: np.ndarray, test_mask: np.ndarray, seed: int,
                 folds: int = 5, repeats: int = 5, pca: int | float | None = None) -> TTEResult:
    y = survival_target(days, event)
    pipe = make_tte_pipeline(model, seed, pca)
    scores = []
    for tr, te in RepeatedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(X):
        if y["event"][te].sum() == 0 or y["event"][tr].sum() == 0:
            continue  # no comparable pair / nothing to fit
        m = clone(pipe).fit(X[tr], y[tr])
        scores.append(c_index(y[te], m.predict(X[te])))
    tm = np.asarray(test_mask, bool)
    test = float("nan")
    if tm.any() and (~tm).any() and y["event"][tm].any():
        m = clone(pipe).fit(X[~tm], y[~tm])
        test = c_index(y[tm], m.predict(X[tm]))
    return TTEResult(model, float(np.mean(scores)) if scores else float("nan"), float(np.std(scores)) if scores else float("nan"),
                     test, len(y), int(y["event"].sum()), int(tm.sum()))
