"""The survival branch of the pipeline (the ``survival`` stage): every feature set × age through the Appendix A
grids (Table 7 with intervals), selection by CV, the permutation test against age alone, the known answer on
the synthetic data, time-to-event models, and the latent pipeline to register.

No tracking here: the stage passes ``on_result`` to log each feature set as it finishes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.pipeline import Pipeline

from brats_mlops.config.schema import PathsParams, SurvivalParams
from brats_mlops.survival.experiment import (
    LATENT_FEATURES,
    SetResult,
    feature_matrix,
    pca_setting,
    render_table,
    results_table,
    run_feature_set,
)
from brats_mlops.survival.grids import with_probabilities
from brats_mlops.survival.stats import paired_permutation_test
from brats_mlops.survival.time_to_event import evaluate_tte

TABLE_COLUMNS = ["feature_set", "age", "model", "cv_macro_f1", "macro_f1", "macro_f1_lo", "macro_f1_hi", "accuracy",
                 "accuracy_lo", "accuracy_hi", "repeated_cv_macro_f1", "repeated_cv_macro_f1_std"]
TTE_COLUMNS = ["feature_set", "model", "cv_c_index", "cv_c_index_std", "test_c_index", "patients", "deaths", "test_patients"]
TABLE_CSV, TABLE_MD, TTE_CSV = "survival_table.csv", "survival_table.md", "survival_time_to_event.csv"


def _npz_dict(path: Path, key: str) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    z = np.load(path)
    return dict(zip(z["case_ids"].tolist(), z[key]))


@dataclass
class SurvivalInputs:
    """The split stage's cohorts and the feature stages' outputs (a feature file that is absent is None)."""

    cohort: pd.DataFrame  # classification cohort, ``subset`` train | test, ``label``
    tte: pd.DataFrame  # every patient with a survival time (time-to-event)
    split_info: dict[str, Any]  # target, edges, ...
    seg: pd.DataFrame | None
    bottleneck: dict[str, np.ndarray] | None
    latents: dict[str, np.ndarray] | None

    @classmethod
    def load(cls, p: PathsParams, classification_only: bool = False) -> "SurvivalInputs":
        """Read the inputs; ``classification_only`` (a survival study) skips the time-to-event cohort and split info."""
        tte = pd.DataFrame() if classification_only else pd.read_csv(p.survival_tte)
        info = {} if classification_only else json.loads(p.survival_info.read_text())
        return cls(pd.read_csv(p.survival_cohort), tte, info,
                   pd.read_csv(p.segmentation_volumes) if p.segmentation_volumes.is_file() else None,
                   _npz_dict(p.bottleneck_features, "features"), _npz_dict(p.latents, "latents"))

    @property
    def train(self) -> pd.DataFrame:
        return self.cohort[self.cohort.subset == "train"]

    @property
    def test(self) -> pd.DataFrame:
        return self.cohort[self.cohort.subset == "test"]

    def features(self, name: str, with_age: bool, rows: pd.DataFrame) -> np.ndarray:
        return feature_matrix(name, with_age, rows, self.seg, self.bottleneck, self.latents)


def write_skipped(reason: str, reports: Path) -> dict[str, str]:
    """The stage's declared reports when the survival branch is off; returns the metrics (status and reason)."""
    reports.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns=TABLE_COLUMNS).to_csv(reports / TABLE_CSV, index=False)
    pd.DataFrame(columns=TTE_COLUMNS).to_csv(reports / TTE_CSV, index=False)
    (reports / TABLE_MD).write_text(f"# Survival classification\n\n**Skipped**: {reason}\n")
    return {"status": "skipped", "reason": reason}


def classify(cfg: SurvivalParams, data: SurvivalInputs, seed: int, on_result: Callable[[SetResult, int], None] | None = None) -> list[SetResult]:
    """Every feature set (with and without age) through the grids; ``on_result(result, n_features)`` after each, in order.

    The feature sets are independent, so with ``survival.n_jobs`` > 1 they run in that many processes (each
    search single-process inside): a set's search is seconds of work, large enough to amortise a worker, while
    the single fits inside it (milliseconds) are not. Results are the same as with one process.
    """
    grid = cfg.tuned if cfg.grid == "tuned" else cfg.grid
    y_all, y_tr, y_te = (d.label.to_numpy(dtype=int) for d in (data.cohort, data.train, data.test))
    jobs = []
    for name in cfg.feature_sets:
        for with_age in ((False,) if name == "age_only" else cfg.with_age):
            X = {k: data.features(name, with_age, d) for k, d in (("all", data.cohort), ("train", data.train), ("test", data.test))}
            pca = pca_setting(name, cfg.bottleneck_pca, cfg.flattened_pca, cfg.profile_variance)
            jobs.append((X["train"].shape[1], (name, with_age, X["train"], y_tr, X["test"], y_te, X["all"], y_all, list(cfg.models),
                                               grid, cfg.cv_folds, cfg.cv_repeats, pca, cfg.n_boot, seed, 1)))
    n_jobs = max(1, min(cfg.n_jobs, len(jobs)))
    if n_jobs == 1:
        stream = (run_feature_set(*args) for _, args in jobs)
    else:
        stream = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(run_feature_set)(*args) for _, args in jobs)
    results = []
    for (n_features, _), r in zip(jobs, stream):
        results.append(r)
        if on_result:
            on_result(r, n_features)
    return results


def _summary(r: SetResult) -> dict[str, Any]:
    return {"feature_set": r.label, "model": r.model, "cv_macro_f1": r.cv_macro_f1, "macro_f1": r.test["macro_f1"],
            "macro_f1_ci": [r.test["macro_f1_lo"], r.test["macro_f1_hi"]], "accuracy": r.test["accuracy"],
            "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0], "repeated_cv_macro_f1_std": r.repeated_cv_macro_f1[1]}


def latent_results(results: list[SetResult]) -> list[SetResult]:
    return [r for r in results if r.feature_set in LATENT_FEATURES]


def selected(results: list[SetResult]) -> SetResult:
    """The imaging feature set with the best CV score (selection by CV, never by test)."""
    imaging = [r for r in results if r.feature_set != "age_only"]
    return max(imaging or results, key=lambda r: r.cv_macro_f1)


def summarise(cfg: SurvivalParams, data: SurvivalInputs, results: list[SetResult], seed: int) -> dict[str, Any]:
    """``metrics/survival.json`` (without time-to-event): selection, best test, age alone and the permutation test,
    the best segmentation-volume and latent sets, and the known answer."""
    classes = sorted(set(data.cohort.label.to_numpy(dtype=int).tolist()))
    by = {r.label: r for r in results}
    imaging = [r for r in results if r.feature_set != "age_only"]
    sel, best_test, age = selected(results), max(results, key=lambda r: r.test["macro_f1"]), by.get("age_only")
    m: dict[str, Any] = {"status": "ok", "n_train": len(data.train), "n_test": len(data.test), "classes": classes,
                         "selected": _summary(sel), "best_test": _summary(best_test)}
    if age is not None:
        m["age_only"] = _summary(age)
        diff, pval = paired_permutation_test(data.test.label.to_numpy(dtype=int), sel.y_pred, age.y_pred, n_perm=cfg.n_perm, seed=seed)
        m["selected_vs_age_only"] = {"macro_f1_difference": diff, "permutation_p_value": pval}
    chance = 1.0 / len(classes)
    seg_runs = [r for r in results if r.feature_set == "segmentation_volumes"]
    if seg_runs:
        m["segmentation_volumes"] = _summary(max(seg_runs, key=lambda r: r.cv_macro_f1))
    if latent_results(results):
        m["best_latent"] = _summary(max(latent_results(results), key=lambda r: r.cv_macro_f1))
    if age is not None and seg_runs:
        best_img = max(imaging, key=lambda r: r.repeated_cv_macro_f1[0])
        seg_best = max(seg_runs, key=lambda r: r.cv_macro_f1)
        m["known_answer"] = {
            "segmentation_volumes_beat_age_only_repeated_cv": seg_best.repeated_cv_macro_f1[0] > age.repeated_cv_macro_f1[0],
            "segmentation_volumes_repeated_cv_macro_f1": seg_best.repeated_cv_macro_f1[0],
            "age_only_repeated_cv_macro_f1": age.repeated_cv_macro_f1[0],
            "best_imaging_feature_set": best_img.label,
            "best_imaging_repeated_cv_macro_f1": best_img.repeated_cv_macro_f1[0],
            "chance_macro_f1": chance,
            "best_imaging_beats_chance_by_0_1": best_img.repeated_cv_macro_f1[0] > chance + 0.1,
        }
    return m


def write_tables(results: list[SetResult], data: SurvivalInputs, reports: Path) -> list[Path]:
    """Table 7 as CSV and Markdown (the best test row marked)."""
    classes = sorted(set(data.cohort.label.to_numpy(dtype=int).tolist()))
    df = results_table(results, classes)
    best_test = max(results, key=lambda r: r.test["macro_f1"])
    reports.mkdir(parents=True, exist_ok=True)
    df.to_csv(reports / TABLE_CSV, index=False)
    best = (best_test.feature_set, "yes" if best_test.with_age or best_test.feature_set == "age_only" else "no")
    (reports / TABLE_MD).write_text(render_table(df, classes, best, len(data.test), len(data.train)))
    return [reports / TABLE_MD, reports / TABLE_CSV]


def time_to_event(cfg: SurvivalParams, data: SurvivalInputs, results: list[SetResult], seed: int,
                  on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Censoring-aware models (c-index) on every patient with a survival time: age alone, tumour volumes + age,
    and the best latent set."""
    tte = data.tte
    sets = [("age_only", False)] + ([("segmentation_volumes", True)] if data.seg is not None else [])
    if latent_results(results):
        b = max(latent_results(results), key=lambda r: r.cv_macro_f1)
        sets.append((b.feature_set, b.with_age))
    tasks = []
    for name, with_age in sets:
        X = data.features(name, with_age, tte)
        pca = pca_setting(name, cfg.bottleneck_pca, cfg.flattened_pca, cfg.profile_variance)
        if isinstance(pca, int):
            pca = min(pca, X.shape[1], int(len(X) * (cfg.cv_folds - 1) / cfg.cv_folds) - 1)
        label = name if name == "age_only" else f"{name}{' + age' if with_age else ''}"
        for model in cfg.time_to_event:
            tasks.append((label, (model, X, tte.survival_days.to_numpy(), tte.event.to_numpy(), (tte.subset == "test").to_numpy(),
                                  seed, cfg.cv_folds, cfg.cv_repeats, pca)))
    n_jobs = max(1, min(cfg.n_jobs, len(tasks)))   # independent fits (a forest's CV is seconds): one process each
    stream = ((evaluate_tte(*a) for _, a in tasks) if n_jobs == 1 else
              Parallel(n_jobs=n_jobs, return_as="generator")(delayed(evaluate_tte)(*a) for _, a in tasks))
    rows = []
    for (label, _), t in zip(tasks, stream):
        rows.append({"feature_set": label, "model": t.model, "cv_c_index": t.cv_c_index, "cv_c_index_std": t.cv_c_index_std,
                     "test_c_index": t.test_c_index, "patients": t.n_patients, "deaths": t.n_events, "test_patients": t.n_test})
        if on_row:
            on_row(rows[-1])
    return rows


def write_time_to_event(rows: list[dict[str, Any]], reports: Path) -> Path:
    reports.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(reports / TTE_CSV, index=False)
    return reports / TTE_CSV


def stage_metrics(results: list[SetResult], tte_rows: list[dict[str, Any]]) -> dict[str, float]:
    """The headline numbers logged to the stage's MLflow run."""
    sel, age = selected(results), {r.label: r for r in results}.get("age_only")
    return {"selected_macro_f1": sel.test["macro_f1"], "selected_cv_macro_f1": sel.cv_macro_f1,
            **({"age_only_macro_f1": age.test["macro_f1"]} if age else {}),
            **{f"c_index.{r['feature_set'].replace(' + ', '_')}.{r['model']}": r["cv_c_index"] for r in tte_rows}}


@dataclass
class Registrable:
    """The selected latent pipeline (autoencoder features → scaler/PCA → classifier) refitted on the training split."""

    result: SetResult
    pipeline: Pipeline
    meta: dict[str, Any]
    metrics: dict[str, float]


def registrable(data: SurvivalInputs, results: list[SetResult]) -> Registrable | None:
    """The best latent feature set's pipeline to register, or None when no latent set ran."""
    lat = latent_results(results)
    if not lat:
        return None
    r = max(lat, key=lambda r: r.cv_macro_f1)
    pipe = with_probabilities(r.estimator).fit(data.features(r.feature_set, r.with_age, data.train), data.train.label.to_numpy(dtype=int))
    classes = sorted(set(data.cohort.label.to_numpy(dtype=int).tolist()))
    info = data.split_info
    meta = {"feature_set": r.feature_set, "with_age": r.with_age, "model": r.model, "best_params": r.best_params,
            "classes": classes, "target": info["target"], "edges": info["edges"]}
    return Registrable(r, pipe, meta, {"macro_f1": r.test["macro_f1"], "cv_macro_f1": r.cv_macro_f1,
                                       "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0]})
