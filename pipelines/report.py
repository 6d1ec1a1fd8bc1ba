"""DVC stage `report`: reports/index.html — validation, segmentation, PCA, autoencoder, survival, each with its
MLflow run id; plus the ablation table of the current `segmentation.ablation_group` when it has several runs."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.names import (
    STAGE_BOTTLENECK_PCA,
    STAGE_EVAL_SEG,
    STAGE_EXTRACT_LATENTS,
    STAGE_REPORT,
    STAGE_SURVIVAL,
    STAGE_TRAIN_AE,
    STAGE_TRAIN_SEG,
    STAGE_VALIDATE,
)
from brats_mlops.reporting.html import RUNS_JS, build_index, runs_js
from brats_mlops.tracking import latest_stage_runs, real_project_root, stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_REPORT)
    params = load_params()
    p = params.paths
    reports, metrics = Path(p.reports_dir), Path(p.metrics_dir)
    with stage_run(STAGE_REPORT, params, ["paths"]) as run:
        runs = latest_stage_runs([STAGE_VALIDATE, STAGE_TRAIN_SEG, STAGE_EVAL_SEG, STAGE_BOTTLENECK_PCA, STAGE_TRAIN_AE,
                            STAGE_EXTRACT_LATENTS, STAGE_SURVIVAL])
        ablation = None
        try:
            from brats_mlops.analysis.compare import compare_runs, load_group, table_rows

            group = load_group(params.segmentation.ablation_group)
            if len(group) > 1:
                ablation = (params.segmentation.ablation_group, table_rows(compare_runs(group)))
        except LookupError:
            pass
        out = reports / "index.html"
        out.write_text(build_index(real_project_root(), reports, metrics, runs, ablation))
        (reports / RUNS_JS).write_text(runs_js(runs))
        run.log_artifact(out, "report")
        run.log_artifact(reports / RUNS_JS, "report")
        log.info("wrote %s (%d sections with run ids)", out, len(runs))


if __name__ == "__main__":
    run_stage(main, "report")
