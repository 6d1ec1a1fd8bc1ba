"""DVC stage `report_2d` (slices/dvc.yaml): reports/slices_2d.html — the 2-D slice systems beside the 3-D reference
and seed 001's slice-split leak beside the honest patient split."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.names import STAGE_REPORT_2D
from brats_mlops.reporting.slices_html import build_slices_page
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_REPORT_2D)
    params = load_params()
    reports, metrics = Path(params.paths.reports_dir), Path(params.paths.metrics_dir)
    with stage_run(STAGE_REPORT_2D, params, ["paths"]) as run:
        out = reports / "slices_2d.html"
        out.write_text(build_slices_page(reports, metrics))
        run.log_artifact(out, "report")
        log.info("wrote %s", out)


if __name__ == "__main__":
    run_stage(main, STAGE_REPORT_2D)
