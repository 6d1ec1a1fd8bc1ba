"""DVC stage `report`: reports/index.html — validation, segmentation, PCA, autoencoder, survival: the current run's
results, from the stages' declared outputs only (a committed DVC output must not depend on the local MLflow store).
The MLflow run ids go to reports/runs.js (git-ignored); history across runs is `brats-mlops compare` and the UI."""

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
        out = reports / "index.html"
        out.write_text(build_index(real_project_root(), reports, metrics, runs))
        (reports / RUNS_JS).write_text(runs_js(runs))
        run.log_artifact(out, "report")
        run.log_artifact(reports / RUNS_JS, "report")
        log.info("wrote %s (%d sections with run ids)", out, len(runs))


if __name__ == "__main__":
    run_stage(main, "report")
