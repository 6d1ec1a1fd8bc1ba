"""Survival classification experiment: feature sets × age × Appendix A grids, CV selection, honest test scores.

For every feature set (with and without age) each model's grid is searched by stratified k-fold CV on the
training split (macro-F1); the model with the best CV score is the feature set's selection, refitted on the
whole training split and scored once on the held-out test split, with bootstrap intervals. Because one
47-patient test split is noisy (the paper's own limit), each selected pipeline is also scored by repeated
stratified CV on the whole cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold, cross_val_score

from brats_mlops.survival.grids import make_pipeline
from brats_mlops.survival.stats import accuracy, bootstrap_ci, macro_f1

SEG_VOLUME_COLUMNS = ["wt_cm3", "tc_cm3", "et_cm3", "tc_wt", "et_wt", "et_tc"]


@dataclass
class SetResult:
    feature_set: str
    with_age: bool
    model: str
    cv_macro_f1: float
    best_params: dict[str, Any]
    test: dict[str, float]
    repeated_cv_macro_f1: tuple[float, float]
    y_pred: np.ndarray
    per_model_cv: dict[str, float] = field(default_factory=dict)
    estimator: Any = None

    @property
    def label(self) -> str:
        return self.feature_set if self.feature_set == "age_only" else f"{self.feature_set}{' + age' if self.with_age else ''}"


def feature_matrix(name: str, with_age: bool, cohort: pd.DataFrame, seg_volumes: pd.DataFrame | None,
                   bottleneck: dict[str, np.ndarray] | None) -> np.ndarray:
    """Rows in ``cohort`` order. Raises ``KeyError`` naming the cases a feature source lacks."""
    ids = cohort.case_id.tolist()
    age = cohort[["age"]].to_numpy(dtype=float)
    if name == "age_only":
        return age
    if name == "segmentation_volumes":
        if seg_volumes is None:
            raise KeyError("segmentation_volumes needs data/features/segmentation_volumes.csv")
        sv = seg_volumes.set_index("case_id")
        missing = sorted(set(ids) - set(sv.index))
        if missing:
            raise KeyError(f"no segmentation volumes for cases {missing}")
        X = sv.loc[ids, SEG_VOLUME_COLUMNS].to_numpy(dtype=float)
    elif name == "bottleneck":
        if bottleneck is None:
            raise KeyError("bottleneck needs data/features/bottleneck.npz")
        missing = sorted(set(ids) - set(bottleneck))
        if missing:
            raise KeyError(f"no bottleneck features for cases {missing}")
        X = np.stack([bottleneck[c] for c in ids]).astype(float)
    else:
        raise KeyError(f"unknown feature set {name!r}")
    return np.hstack([X, age]) if with_age else X


def test_scores(y_true: np.ndarray, y_pred: np.ndarray, classes: list[int], n_boot: int, seed: int) -> dict[str, float]:
    acc, acc_lo, acc_hi = bootstrap_ci(y_true, y_pred, accuracy, n_boot=n_boot, seed=seed)
    f1, f1_lo, f1_hi = bootstrap_ci(y_true, y_pred, macro_f1, n_boot=n_boot, seed=seed)
    out = {
        "accuracy": acc, "accuracy_lo": acc_lo, "accuracy_hi": acc_hi,
        "macro_f1": f1, "macro_f1_lo": f1_lo, "macro_f1_hi": f1_hi,
        "precision": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
    }
    per_class = f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    out.update({f"f1_class{c}": float(v) for c, v in zip(classes, per_class)})
    return out


def run_feature_set(name: str, with_age: bool, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                    X_all: np.ndarray, y_all: np.ndarray, models: list[str], grid: str, folds: int, repeats: int,
                    pca: int | float | None, n_boot: int, seed: int, n_jobs: int) -> SetResult:
    counts = np.bincount(y_train)
    if (counts[counts > 0] < folds).any() or len(counts[counts > 0]) < 2:
        raise ValueError(f"feature set {name}: {folds}-fold stratified CV needs >= {folds} training patients per class, "
                         f"got class counts {counts.tolist()}; lower survival.cv_folds or use more cases")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    best: tuple[float, str, GridSearchCV] | None = None
    per_model = {}
    for model in models:
        k = pca if pca is None or isinstance(pca, float) else min(pca, X_train.shape[1], int(len(y_train) * (folds - 1) / folds) - 1)
        pipe, params = make_pipeline(model, seed, pca=k, grid=grid)
        gs = GridSearchCV(pipe, params, cv=cv, scoring="f1_macro", n_jobs=n_jobs, refit=True).fit(X_train, y_train)
        per_model[model] = float(gs.best_score_)
        if best is None or gs.best_score_ > best[0] + 1e-12:
            best = (float(gs.best_score_), model, gs)
    assert best is not None
    score, model, gs = best
    y_pred = gs.predict(X_test)
    classes = sorted(set(y_all.tolist()))
    rcv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    rep = cross_val_score(clone(gs.best_estimator_), X_all, y_all, cv=rcv, scoring="f1_macro", n_jobs=n_jobs)
    return SetResult(name, with_age, model, score, {k.removeprefix("clf__"): v for k, v in gs.best_params_.items()},
                     test_scores(y_test, y_pred, classes, n_boot, seed), (float(rep.mean()), float(rep.std())),
                     y_pred, per_model, gs.best_estimator_)


def results_table(results: list[SetResult], classes: list[int]) -> pd.DataFrame:
    """The paper's Table 7 with intervals: one row per feature set × age."""
    rows = []
    for r in results:
        t = r.test
        rows.append({
            "feature_set": r.feature_set, "age": "yes" if (r.with_age or r.feature_set == "age_only") else "no",
            "model": r.model, "cv_macro_f1": r.cv_macro_f1,
            "accuracy": t["accuracy"], "accuracy_lo": t["accuracy_lo"], "accuracy_hi": t["accuracy_hi"],
            "macro_f1": t["macro_f1"], "macro_f1_lo": t["macro_f1_lo"], "macro_f1_hi": t["macro_f1_hi"],
            "precision": t["precision"], "recall": t["recall"],
            **{f"f1_class{c}": t[f"f1_class{c}"] for c in classes},
            "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0], "repeated_cv_macro_f1_std": r.repeated_cv_macro_f1[1],
            "best_params": str(r.best_params),
        })
    return pd.DataFrame(rows)


def render_table(df: pd.DataFrame, classes: list[int], best_label: tuple[str, str], n_test: int, n_train: int) -> str:
    lines = [f"# Survival classification (Table 7 with 95% bootstrap intervals; {n_train} training, {n_test} test patients)", "",
             "Selection by 5-fold stratified CV macro-F1 on the training split; test scores on the held-out split with",
             "percentile-bootstrap 95% intervals; `rep. CV` is the selected pipeline's repeated stratified CV macro-F1",
             "(mean ± sd) on the whole cohort. **Bold**: best test macro-F1.", "",
             "| feature set | age | model | accuracy [95% CI] | macro-F1 [95% CI] | precision | recall | "
             + " | ".join(f"F1 class {c}" for c in classes) + " | rep. CV macro-F1 |",
             "|---|---|---|---|---|---|---|" + "---|" * len(classes) + "---|"]
    for r in df.itertuples():
        bold = (r.feature_set, r.age) == best_label
        f1 = f"{r.macro_f1:.3f} [{r.macro_f1_lo:.3f}, {r.macro_f1_hi:.3f}]"
        lines.append(
            f"| {r.feature_set} | {r.age} | {r.model} | {r.accuracy:.3f} [{r.accuracy_lo:.3f}, {r.accuracy_hi:.3f}] | "
            + (f"**{f1}**" if bold else f1) + f" | {r.precision:.3f} | {r.recall:.3f} | "
            + " | ".join(f"{getattr(r, f'f1_class{c}'):.3f}" for c in classes)
            + f" | {r.repeated_cv_macro_f1:.3f} ± {r.repeated_cv_macro_f1_std:.3f} |")
    return "\n".join(lines) + "\n"
