"""DVC stage `survival_2d` (slices/dvc.yaml): seed 001's ResNet50 survival bins on mask slices + age, scored per
slice, per non-empty slice and per patient (majority vote) on ground-truth and predicted masks, with the
slice-level-split ablation; the combined pipeline registered as brats-survival-2d@challenger."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.names import STAGE_SURVIVAL_2D, TAG_REGISTERED_VERSION
from brats_mlops.survival.branch2d import run_survival_2d
from brats_mlops.survival.slices2d_eval import ACC_KEYS
from brats_mlops.tracking import stage_run
from brats_mlops.tracking.epochs import PrefixedEpochs
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_SURVIVAL_2D)
    params = load_params()
    cfg, p = params.survival2d, params.paths
    reports = Path(p.reports_dir) / "survival_2d"
    for d in (reports, p.survival2d_checkpoints):  # declared outputs, also when the stage has nothing to do on this data
        d.mkdir(parents=True, exist_ok=True)
    with stage_run(STAGE_SURVIVAL_2D, params, ["seed", "survival2d"], deps=[p.preprocessed_dir, p.segmentation_split,
                                                                          p.slices2d_checkpoints]) as run:
        if cfg.enabled is False:
            res_metrics = {"status": "skipped", "reason": "survival2d.enabled is false"}
            result = None
        else:
            result = run_survival_2d(params, {"patient": PrefixedEpochs(run, ""), "slice": PrefixedEpochs(run, "slice_split.")}, reports)
            res_metrics = result.metrics
        if res_metrics["status"] != "ok":
            if cfg.enabled is True:
                raise ValueError(f"survival2d.enabled is true but the data cannot support it: {res_metrics['reason']}")
            run.set_status(res_metrics["reason"])
            dump_json(res_metrics, p.metrics("survival_2d"))
            log.warning("skipped: %s", res_metrics["reason"])
            return
        result.predictions.to_csv(reports / "slice_predictions.csv", index=False)
        dump_json(res_metrics, p.metrics("survival_2d"))
        run.log_metrics(res_metrics)
        for f in [*result.figures, reports / "slice_predictions.csv"]:
            run.log_artifact(f, "survival_2d")
        key = {k: res_metrics[k] for k in ACC_KEYS}
        from brats_mlops.registry.survival2d import register_survival_2d  # MLflow: imported when it registers

        uri, version = register_survival_2d(result.trainer.ckdir / "best.pt", p.slices2d_checkpoints / "best.pt", key, run.run_id, p)
        run.set_tags({TAG_REGISTERED_VERSION: version})
        m, leak = res_metrics, res_metrics.get("slice_split_gt_masks", {})
        log.info("predicted masks: slice acc %.3f, non-empty %.3f, patient majority %.3f [%.3f, %.3f] (%d test patients); "
                 "slice-split (leaky) patient majority %s; registered %s version %s @challenger", m["slice_accuracy"],
                 m["slice_accuracy_nonempty"], m["patient_majority_accuracy"], m["patient_majority_accuracy_lo"],
                 m["patient_majority_accuracy_hi"], m["patients"]["test"], f"{leak['patient_majority_accuracy']:.3f}" if leak else "-",
                 uri, version)


if __name__ == "__main__":
    run_stage(main, STAGE_SURVIVAL_2D)
