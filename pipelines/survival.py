"""DVC stage `survival`: feature sets × age × Appendix A grids; Table 7 with intervals; permutation test;
time-to-event models (c-index); the selected latent-feature pipeline registered as brats-survival@challenger."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import dump_json
from brats_mlops.data.splits import survival_skip_reason
from brats_mlops.names import (
    AUTOENCODER_CHECKPOINTS,
    MODEL_AUTOENCODER,
    STAGE_SURVIVAL,
    TAG_AE_RUN,
    TAG_AE_VERSION,
    TAG_GIT_COMMIT,
    TAG_TRAIN_RUN,
)
from brats_mlops.registry.common import data_validation_tag
from brats_mlops.registry.survival import class_names, log_and_register
from brats_mlops.survival.experiment import (
    LATENT_FEATURES,
    feature_matrix,
    pca_setting,
    render_table,
    results_table,
    run_feature_set,
)
from brats_mlops.survival.grids import with_probabilities
from brats_mlops.survival.stats import paired_permutation_test
from brats_mlops.survival.time_to_event import evaluate_tte
from brats_mlops.tracking import child_run, git_commit, real_project_root, stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger

SEG_VOLUMES = Path("data/features/segmentation_volumes.csv")
BOTTLENECK = Path("data/features/bottleneck.npz")
LATENTS = Path("data/features/latents.npz")
AE_CHECKPOINTS = Path(AUTOENCODER_CHECKPOINTS)
TABLE_COLUMNS = ["feature_set", "age", "model", "cv_macro_f1", "macro_f1", "macro_f1_lo", "macro_f1_hi", "accuracy",
                 "accuracy_lo", "accuracy_hi", "repeated_cv_macro_f1", "repeated_cv_macro_f1_std"]
TTE_COLUMNS = ["feature_set", "model", "cv_c_index", "cv_c_index_std", "test_c_index", "patients", "deaths", "test_patients"]


def _npz_dict(path: Path, key: str) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    z = np.load(path)
    return dict(zip(z["case_ids"].tolist(), z[key]))


def autoencoder_version(run_id: str | None) -> str | None:
    """The registered brats-autoencoder version trained by ``run_id`` (the one the survival model needs)."""
    from mlflow.tracking import MlflowClient

    if not run_id:
        return None
    for mv in MlflowClient().search_model_versions(f"name='{MODEL_AUTOENCODER}'"):
        if mv.tags.get(TAG_TRAIN_RUN) == run_id:
            return str(mv.version)
    return None


def write_skipped(reason: str, reports: Path, metrics: Path) -> None:
    """The stage's declared outputs when the survival branch is off: the status and reason, no numbers."""
    reports.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns=TABLE_COLUMNS).to_csv(reports / "survival_table.csv", index=False)
    pd.DataFrame(columns=TTE_COLUMNS).to_csv(reports / "survival_time_to_event.csv", index=False)
    (reports / "survival_table.md").write_text(f"# Survival classification\n\n**Skipped**: {reason}\n")
    dump_json({"status": "skipped", "reason": reason}, metrics / "survival.json")


def main() -> None:
    log = stage_logger(STAGE_SURVIVAL)
    params = load_params()
    cfg, p = params.survival, params.paths
    skipped = survival_skip_reason(p.splits_dir)
    if skipped:
        with stage_run(STAGE_SURVIVAL, params, ["survival", "split"], deps=[p.splits_dir]) as run:
            write_skipped(skipped, Path(p.reports_dir), Path(p.metrics_dir))
            run.set_status(skipped)
            log.warning("skipped (survival branch off): %s", skipped)
        return
    cohort = pd.read_csv(Path(p.splits_dir) / "survival.csv")
    tte = pd.read_csv(Path(p.splits_dir) / "survival_tte.csv")
    split_info = json.loads((Path(p.splits_dir) / "survival.json").read_text())
    seg = pd.read_csv(SEG_VOLUMES) if SEG_VOLUMES.is_file() else None
    bn, lat = _npz_dict(BOTTLENECK, "features"), _npz_dict(LATENTS, "latents")
    train, test = cohort[cohort.subset == "train"], cohort[cohort.subset == "test"]
    y_all, y_tr, y_te = (d.label.to_numpy(dtype=int) for d in (cohort, train, test))
    classes = sorted(set(y_all.tolist()))
    log.info("survival cohort: %d train / %d test patients, classes %s; %d feature sets; grid %s",
             len(train), len(test), classes, len(cfg.feature_sets), cfg.grid)
    grid = cfg.tuned if cfg.grid == "tuned" else cfg.grid
    results = []
    with stage_run(STAGE_SURVIVAL, params, ["survival", "split"],
                   deps=[p.splits_dir, SEG_VOLUMES, BOTTLENECK, LATENTS, AE_CHECKPOINTS]) as run:
        for name in cfg.feature_sets:
            for with_age in ((False,) if name == "age_only" else cfg.with_age):
                X = {k: feature_matrix(name, with_age, d, seg, bn, lat) for k, d in (("all", cohort), ("train", train), ("test", test))}
                pca = pca_setting(name, cfg.bottleneck_pca, cfg.flattened_pca, cfg.profile_variance)
                r = run_feature_set(name, with_age, X["train"], y_tr, X["test"], y_te, X["all"], y_all, list(cfg.models),
                                    grid, cfg.cv_folds, cfg.cv_repeats, pca, cfg.n_boot, params.seed, cfg.n_jobs)
                results.append(r)
                with child_run(r.label, params={"feature_set": name, "with_age": with_age, "model": r.model, "n_features": X["train"].shape[1], **r.best_params},
                               tags={"brats.feature_set": name, "brats.with_age": with_age}) as child:
                    child.log_metrics({"cv_macro_f1": r.cv_macro_f1, **{f"test_{k}": v for k, v in r.test.items()},
                                       "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0],
                                       **{f"cv_macro_f1.{m}": v for m, v in r.per_model_cv.items()}})
                log.info("%-28s %-20s CV %.3f  test macro-F1 %.3f [%.3f, %.3f]  rep. CV %.3f", r.label, r.model, r.cv_macro_f1,
                         r.test["macro_f1"], r.test["macro_f1_lo"], r.test["macro_f1_hi"], r.repeated_cv_macro_f1[0])
        df = results_table(results, classes)
        by = {r.label: r for r in results}
        imaging = [r for r in results if r.feature_set != "age_only"]
        selected = max(imaging or results, key=lambda r: r.cv_macro_f1)  # selection by CV, never by test
        best_test = max(results, key=lambda r: r.test["macro_f1"])
        age = by.get("age_only")
        out_dir = Path(p.reports_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_dir / "survival_table.csv", index=False)
        (out_dir / "survival_table.md").write_text(render_table(df, classes, (best_test.feature_set, "yes" if best_test.with_age or best_test.feature_set == "age_only" else "no"), len(test), len(train)))

        def summary(r) -> dict:
            return {"feature_set": r.label, "model": r.model, "cv_macro_f1": r.cv_macro_f1, "macro_f1": r.test["macro_f1"],
                    "macro_f1_ci": [r.test["macro_f1_lo"], r.test["macro_f1_hi"]], "accuracy": r.test["accuracy"],
                    "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0], "repeated_cv_macro_f1_std": r.repeated_cv_macro_f1[1]}

        m: dict = {"status": "ok", "n_train": len(train), "n_test": len(test), "classes": classes, "selected": summary(selected),
                   "best_test": summary(best_test)}
        if age is not None:
            m["age_only"] = summary(age)
            diff, pval = paired_permutation_test(y_te, selected.y_pred, age.y_pred, n_perm=cfg.n_perm, seed=params.seed)
            m["selected_vs_age_only"] = {"macro_f1_difference": diff, "permutation_p_value": pval}
        chance = 1.0 / len(classes)
        seg_runs = [r for r in results if r.feature_set == "segmentation_volumes"]
        latent_runs = [r for r in results if r.feature_set in LATENT_FEATURES]
        if seg_runs:
            m["segmentation_volumes"] = summary(max(seg_runs, key=lambda r: r.cv_macro_f1))
        if latent_runs:
            m["best_latent"] = summary(max(latent_runs, key=lambda r: r.cv_macro_f1))
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
        # ---- time-to-event (censoring-aware), on every patient with a survival time
        tte_sets = [("age_only", False)] + ([("segmentation_volumes", True)] if seg is not None else [])
        if latent_runs:
            b = max(latent_runs, key=lambda r: r.cv_macro_f1)
            tte_sets.append((b.feature_set, b.with_age))
        tte_rows = []
        for name, with_age in tte_sets:
            X = feature_matrix(name, with_age, tte, seg, bn, lat)
            pca = pca_setting(name, cfg.bottleneck_pca, cfg.flattened_pca, cfg.profile_variance)
            if isinstance(pca, int):
                pca = min(pca, X.shape[1], int(len(X) * (cfg.cv_folds - 1) / cfg.cv_folds) - 1)
            for model in cfg.time_to_event:
                t = evaluate_tte(model, X, tte.survival_days.to_numpy(), tte.event.to_numpy(), (tte.subset == "test").to_numpy(),
                                 params.seed, cfg.cv_folds, cfg.cv_repeats, pca)
                label = name if name == "age_only" else f"{name}{' + age' if with_age else ''}"
                tte_rows.append({"feature_set": label, "model": t.model, "cv_c_index": t.cv_c_index, "cv_c_index_std": t.cv_c_index_std,
                                 "test_c_index": t.test_c_index, "patients": t.n_patients, "deaths": t.n_events, "test_patients": t.n_test})
                log.info("time-to-event %-28s %-4s CV c-index %.3f ± %.3f, test %.3f (%d patients, %d deaths)", label, model,
                         t.cv_c_index, t.cv_c_index_std, t.test_c_index, t.n_patients, t.n_events)
        tdf = pd.DataFrame(tte_rows)
        tdf.to_csv(out_dir / "survival_time_to_event.csv", index=False)
        m["time_to_event"] = tte_rows
        run.log_metrics({"selected_macro_f1": selected.test["macro_f1"], "selected_cv_macro_f1": selected.cv_macro_f1,
                         **({"age_only_macro_f1": age.test["macro_f1"]} if age else {}),
                         **{f"c_index.{r['feature_set'].replace(' + ', '_')}.{r['model']}": r["cv_c_index"] for r in tte_rows}})
        # ---- register the selected latent pipeline (autoencoder features → scaler/PCA → classifier)
        if latent_runs and (AE_CHECKPOINTS / "best.pt").is_file():
            r = max(latent_runs, key=lambda r: r.cv_macro_f1)
            pipe = with_probabilities(r.estimator).fit(feature_matrix(r.feature_set, r.with_age, train, seg, bn, lat), y_tr)
            ae_run = torch.load(AE_CHECKPOINTS / "last.pt", map_location="cpu", weights_only=False).get("run_id")
            ae_version = autoencoder_version(ae_run)
            meta = {"feature_set": r.feature_set, "with_age": r.with_age, "model": r.model, "best_params": r.best_params,
                    "classes": classes, "class_names": class_names(split_info["target"], split_info["edges"]),
                    "target": split_info["target"], "edges": split_info["edges"], "autoencoder_version": ae_version}
            sha, _ = git_commit(real_project_root())
            with tempfile.TemporaryDirectory() as tmp:
                uri, version = log_and_register(AE_CHECKPOINTS / "best.pt", pipe, meta,
                                                {"macro_f1": r.test["macro_f1"], "cv_macro_f1": r.cv_macro_f1,
                                                 "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0]},
                                                {TAG_AE_VERSION: str(ae_version), TAG_AE_RUN: str(ae_run), TAG_GIT_COMMIT: sha,
                                                 TAG_TRAIN_RUN: run.run_id, "brats.feature_set": r.label,
                                                 **data_validation_tag(p.metrics_dir)}, Path(tmp))
            m["registered"] = {"feature_set": r.label, "model": r.model, "version": version, "autoencoder_version": ae_version}
            log.info("registered %s (%s, %s) as brats-survival version %s @challenger; needs brats-autoencoder version %s",
                     uri, r.label, r.model, version, ae_version)
        else:
            log.info("no latent feature set in survival.feature_sets (or no autoencoder): nothing registered")
        run.set_status()
        dump_json(m, Path(p.metrics_dir) / "survival.json")
        for f in (out_dir / "survival_table.md", out_dir / "survival_table.csv", out_dir / "survival_time_to_event.csv"):
            run.log_artifact(f, "survival")
        log.info("selected (by CV): %s / %s; table: %s", selected.label, selected.model, out_dir / "survival_table.md")


if __name__ == "__main__":
    run_stage(main, "survival")
