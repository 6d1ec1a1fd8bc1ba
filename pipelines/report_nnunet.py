"""DVC stage `report_nnunet` (nnunet/dvc.yaml): reports/nnunet.html — nnU-Net v2 beside the platform's 3-D model on the
same held-out cases, from the two evaluate stages' per-case files (DVC outputs, so the page is a function of its
declared inputs): intervals and paired tests. Training time and every run in the store: `brats-mlops compare`."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.analysis.compare import bar_chart, compare_runs, from_cases_files, table_rows
from brats_mlops.config import load_params
from brats_mlops.names import STAGE_REPORT_NNUNET
from brats_mlops.reporting.nnunet_html import build_nnunet_page
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_REPORT_NNUNET)
    params = load_params()
    p = params.paths
    reports, metrics = Path(p.reports_dir), Path(p.metrics_dir)
    models = {f"3-D {params.segmentation.model}": reports / "segmentation" / "cases.csv",
              f"nnU-Net v2 {params.nnunet.configuration}": reports / "segmentation_nnunet" / "cases.csv"}
    with stage_run(STAGE_REPORT_NNUNET, params, ["nnunet"]) as run:
        runs = from_cases_files(models)
        df = compare_runs(runs) if runs else None
        chart = None if df is None else bar_chart(df, reports / "nnunet" / "comparison.png", "held-out test cases")
        out = reports / "nnunet.html"
        out.write_text(build_nnunet_page(table_rows(df) if df is not None else [], chart, metrics, reports))
        run.log_artifact(out, "report")
        log.info("wrote %s (%d models side by side)", out, len(runs))


if __name__ == "__main__":
    run_stage(main, STAGE_REPORT_NNUNET)
