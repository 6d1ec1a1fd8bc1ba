"""The ``survival`` stage: feature sets × age × Appendix A grids (one nested MLflow run each); Table 7 with intervals;
permutation test; time-to-event models (c-index); the selected latent-feature pipeline registered as
brats-survival@challenger. On a cohort without survival data the stage records why it is skipped."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config.schema import Params
from brats_mlops.data.splits import survival_skip_reason
from brats_mlops.names import STAGE_SURVIVAL, TAG_AE_VERSION, TAG_FEATURE_SET, TAG_REGISTERED_VERSION, TAG_WITH_AGE
from brats_mlops.survival import branch
from brats_mlops.tracking import child_run, stage_run
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def run_survival(params: Params) -> None:
    log = stage_logger(STAGE_SURVIVAL)
    cfg, p = params.survival, params.paths
    reports, skipped = Path(p.reports_dir), survival_skip_reason(p.splits_dir)
    if skipped:
        with stage_run(STAGE_SURVIVAL, params, ["survival", "split"], deps=[p.splits_dir]) as run:
            dump_json(branch.write_skipped(skipped, reports), p.metrics("survival"))
            run.set_status(skipped)
            log.warning("skipped (survival branch off): %s", skipped)
        return
    data = branch.SurvivalInputs.load(p)
    log.info("survival cohort: %d train / %d test patients; %d feature sets; grid %s", len(data.train), len(data.test),
             len(cfg.feature_sets), cfg.grid)
    with stage_run(STAGE_SURVIVAL, params, ["survival", "split"], deps=[p.splits_dir, p.segmentation_volumes, p.bottleneck_features,
                                                                        p.latents, p.autoencoder_checkpoints]) as run:
        def logged(r: branch.SetResult, n_features: int) -> None:
            with child_run(r.label, params={"feature_set": r.feature_set, "with_age": r.with_age, "model": r.model,
                                            "n_features": n_features, **r.best_params},
                           tags={TAG_FEATURE_SET: r.feature_set, TAG_WITH_AGE: r.with_age}) as child:
                child.log_metrics({"cv_macro_f1": r.cv_macro_f1, **{f"test_{k}": v for k, v in r.test.items()},
                                   "repeated_cv_macro_f1": r.repeated_cv_macro_f1[0], **{f"cv_macro_f1.{m}": v for m, v in r.per_model_cv.items()}})
            log.info("%-28s %-20s CV %.3f  test macro-F1 %.3f [%.3f, %.3f]  rep. CV %.3f", r.label, r.model, r.cv_macro_f1,
                     r.test["macro_f1"], r.test["macro_f1_lo"], r.test["macro_f1_hi"], r.repeated_cv_macro_f1[0])

        results = branch.classify(cfg, data, params.seed, on_result=logged)
        tables = branch.write_tables(results, data, reports)
        m = branch.summarise(cfg, data, results, params.seed)
        m["time_to_event"] = branch.time_to_event(cfg, data, results, params.seed, on_row=lambda t: log.info(
            "time-to-event %-28s %-4s CV c-index %.3f ± %.3f, test %.3f (%d patients, %d deaths)", t["feature_set"], t["model"],
            t["cv_c_index"], t["cv_c_index_std"], t["test_c_index"], t["patients"], t["deaths"]))
        tables.append(branch.write_time_to_event(m["time_to_event"], reports))
        run.log_metrics(branch.stage_metrics(results, m["time_to_event"]))
        sel = branch.registrable(data, results)
        if sel is not None and (p.autoencoder_checkpoints / "best.pt").is_file():
            from brats_mlops.registry.survival import register_selected  # MLflow and torch: imported when it registers

            uri, version, ae_version = register_selected(sel, run.run_id, p)
            m["registered"] = {"feature_set": sel.result.label, "model": sel.result.model}  # version numbers depend on the store: tags
            run.set_tags({TAG_REGISTERED_VERSION: version, TAG_AE_VERSION: ae_version})
            log.info("registered %s (%s, %s) as brats-survival version %s @challenger; needs brats-autoencoder version %s",
                     uri, sel.result.label, sel.result.model, version, ae_version)
        else:
            log.info("no latent feature set in survival.feature_sets (or no autoencoder): nothing registered")
        run.set_status()
        dump_json(m, p.metrics("survival"))
        for f in tables:
            run.log_artifact(f, "survival")
        log.info("selected (by CV): %s / %s; table: %s", m["selected"]["feature_set"], m["selected"]["model"], reports / branch.TABLE_MD)

