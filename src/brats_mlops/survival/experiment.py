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

from brats_mlops.survival import features as F
from brats_mlops.survival.grids import make_pipeline
from brats_mlops.survival.stats import MACRO_F1_SCORER, accuracy, bootstrap_ci, macro_f1

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


LATENT_FEATURES = {
    "f0": lambda e: F.channel_means(e)[0:1],
    "f1": lambda e: F.channel_means(e)[1:2],
    "f2": lambda e: F.channel_means(e)[2:3],
    "channel_means": F.channel_means,
    "channel_stats": F.channel_stats,
    "coronal_profile": lambda e: F.slice_profile(e, "coronal"),
    "sagittal_profile": lambda e: F.slice_profile(e, "sagittal"),
    "axial_profile": lambda e: F.slice_profile(e, "axial"),
    "flattened_latent": F.flattened,
}


def feature_matrix(name: str, with_age: bool, cohort: pd.DataFrame, seg_volumes: pd.DataFrame | None,
                   bottleneck: dict[str, np.ndarray] | None, latents: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Rows in ``cohort`` order; age (if any) is the last column. Raises ``KeyError`` naming the cases a
    feature source lacks."""
    ids = cohort.case_id.tolist()
    age = cohort[["age"]].to_numpy(dtype=float)
    if name == "age_only":
        return age

    def need(source: dict | None, what: str) -> dict:
        if source is None:
            raise KeyError(f"feature set {name} needs {what}")
        missing = sorted(set(ids) - set(source))
        if missing:
            raise KeyError(f"feature set {name}: no {what} for cases {missing}")
        return source

    if name == "segmentation_volumes":
        if seg_volumes is None:
            raise KeyError("segmentation_volumes needs data/features/segmentation_volumes.csv")
        sv = need({c: r for c, r in zip(seg_volumes.case_id, seg_volumes[SEG_VOLUME_COLUMNS].to_numpy(dtype=float))},
                  "data/features/segmentation_volumes.csv")
        X = np.stack([sv[c] for c in ids])
    elif name == "bottleneck":
        bn = need(bottleneck, "data/features/bottleneck.npz")
        X = np.stack([bn[c] for c in ids]).astype(float)
    elif name in LATENT_FEATURES:
        lat = need(latents, "data/features/latents.npz")
        X = np.stack([LATENT_FEATURES[name](lat[c]) for c in ids]).astype(float)
    else:
        raise KeyError(f"unknown feature set {name!r}")
    return np.hstack([X, age]) if with_age else X


def pca_setting(name: str, bottleneck_pca: int, flattened_pca: int, profile_variance: float) -> int | float | None:
    """PCA of a feature set (fitted inside the folds): components (int), variance share (float) or none."""
    if name == "bottleneck":
        return bottleneck_pca
    if name == "flattened_latent":
        return flattened_pca
    if name.endswith("_profile"):
        return profile_variance
    return None


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
                    X_all: np.ndarray, y_all: np.ndarray, models: list[str], grid: str | dict, folds: int, repeats: int,
                    pca: int | float | None, n_boot: int, seed: int, n_jobs: int) -> SetResult:
    """Search every model's grid by CV on the training split, refit the best, score it once on the test split.

    With ``pca`` and age, PCA reduces only the imaging columns (age is the last column and passes through).
    """
    counts = np.bincount(y_train)
    if (counts[counts > 0] < folds).any() or len(counts[counts > 0]) < 2:
        raise ValueError(f"feature set {name}: {folds}-fold stratified CV needs >= {folds} training patients per class, "
                         f"got class counts {counts.tolist()}; lower survival.cv_folds or use more cases")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    best: tuple[float, str, GridSearchCV] | None = None
    per_model = {}
    for model in models:
        n_img = X_train.shape[1] - (1 if with_age else 0)
        k = pca if pca is None or isinstance(pca, float) else min(pca, n_img, int(len(y_train) * (folds - 1) / folds) - 1)
        pipe, params = make_pipeline(model, seed, pca=k, grid=grid, pca_columns=n_img if (with_age and pca is not None) else None)
        gs = GridSearchCV(pipe, params, cv=cv, scoring=MACRO_F1_SCORER, n_jobs=n_jobs, refit=True).fit(X_train, y_train)
        per_model[model] = float(gs.best_score_)
        if best is None or gs.best_score_ > best[0] + 1e-12:
            best = (float(gs.best_score_), model, gs)
    assert best is not None
    score, model, gs = best
    y_pred = gs.predict(X_test)
    classes = sorted(set(y_all.tolist()))
    rcv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    rep = cross_val_score(clone(gs.best_estimator_), X_all, y_all, cv=rcv, scoring=MACRO_F1_SCORER, n_jobs=n_jobs)
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
