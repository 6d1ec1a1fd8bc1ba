"""DVC stage `survival`: feature sets × age × Appendix A grids; Table 7 with intervals; permutation test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import dump_json
from brats_mlops.names import STAGE_SURVIVAL
from brats_mlops.survival.experiment import feature_matrix, render_table, results_table, run_feature_set
from brats_mlops.survival.stats import paired_permutation_test
from brats_mlops.tracking import child_run, stage_run
from brats_mlops.utils.logs import stage_logger

SEG_VOLUMES = Path("data/features/segmentation_volumes.csv")
BOTTLENECK = Path("data/features/bottleneck.npz")


def main() -> None:
    log = stage_logger(STAGE_SURVIVAL)
    params = load_params()
    cfg, p = params.survival, params.paths
    cohort = pd.read_csv(Path(p.splits_dir) / "survival.csv")
    seg = pd.read_csv(SEG_VOLUMES) if SEG_VOLUMES.is_file() else None
    bn = None
    if BOTTLENECK.is_file():
        z = np.load(BOTTLENECK)
        bn = dict(zip(z["case_ids"].tolist(), z["features"]))
    train, test = cohort[cohort.subset == "train"], cohort[cohort.subset == "test"]
    y_all, y_tr, y_te = (d.label.to_numpy(dtype=int) for d in (cohort, train, test))
    classes = sorted(set(y_all.tolist()))
    log.info("survival cohort: %d train / %d test patients, classes %s; feature sets %s; grid %s",
             len(train), len(test), classes, list(cfg.feature_sets), cfg.grid)
    results = []
    with stage_run(STAGE_SURVIVAL, params, ["survival", "split"],
                   deps=[Path(p.splits_dir) / "survival.csv", SEG_VOLUMES, BOTTLENECK]) as run:
        for name in cfg.feature_sets:
            for with_age in ((False,) if name == "age_only" else cfg.with_age):
                X = {k: feature_matrix(name, with_age, d, seg, bn) for k, d in (("all", cohort), ("train", train), ("test", test))}
                pca = cfg.bottleneck_pca if name == "bottleneck" else None
                r = run_feature_set(name, with_age, X["train"], y_tr, X["test"], y_te, X["all"], y_all, list(cfg.models),
                                    cfg.grid, cfg.cv_folds, cfg.cv_repeats, pca, cfg.n_boot, params.seed, cfg.n_jobs)
                results.append(r)
                with child_run(r.label, params={"feature_set": name, "with_age": with_age, "model": r.model, **r.best_params},
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

        m: dict = {"n_train": len(train), "n_test": len(test), "classes": classes, "selected": summary(selected),
                   "best_test": summary(best_test)}
        if age is not None:
            m["age_only"] = summary(age)
            diff, pval = paired_permutation_test(y_te, selected.y_pred, age.y_pred, n_perm=cfg.n_perm, seed=params.seed)
            m["selected_vs_age_only"] = {"macro_f1_difference": diff, "permutation_p_value": pval}
        seg_runs = [r for r in results if r.feature_set == "segmentation_volumes"]
        if seg_runs:
            seg_best = max(seg_runs, key=lambda r: r.cv_macro_f1)
            m["segmentation_volumes"] = summary(seg_best)
            if age is not None:
                m["known_answer"] = {
                    "segmentation_volumes_beat_age_only_repeated_cv": seg_best.repeated_cv_macro_f1[0] > age.repeated_cv_macro_f1[0],
                    "segmentation_volumes_repeated_cv_macro_f1": seg_best.repeated_cv_macro_f1[0],
                    "age_only_repeated_cv_macro_f1": age.repeated_cv_macro_f1[0],
                    "chance_macro_f1": 1.0 / len(classes) if len(classes) > 2 else 0.5,
                }
        dump_json(m, Path(p.metrics_dir) / "survival.json")
        run.log_metrics({"selected_macro_f1": selected.test["macro_f1"], "selected_cv_macro_f1": selected.cv_macro_f1,
                         **({"age_only_macro_f1": age.test["macro_f1"]} if age else {})})
        for f in (out_dir / "survival_table.md", out_dir / "survival_table.csv"):
            run.log_artifact(f, "survival")
        log.info("selected (by CV): %s / %s; table: %s", selected.label, selected.model, out_dir / "survival_table.md")


if __name__ == "__main__":
    main()
