"""DVC stage `report_nnunet` (nnunet/dvc.yaml): reports/nnunet.html — nnU-Net v2 beside the platform's 3-D model (and
the 2-D slice model when `dvc repro slices/dvc.yaml` has run) on the same held-out cases, from their newest MLflow
evaluation runs: intervals, paired tests, training time."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.analysis.compare import bar_chart, compare_runs, newest_per_group, table_rows
from brats_mlops.config import load_params
from brats_mlops.names import STAGE_REPORT_NNUNET
from brats_mlops.nnunet.trainer import fold_folder
from brats_mlops.reporting.nnunet_html import build_nnunet_page
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_REPORT_NNUNET)
    params = load_params()
    p = params.paths
    reports, metrics = Path(p.reports_dir), Path(p.metrics_dir)
    groups = list(dict.fromkeys([params.segmentation.ablation_group, params.slices2d.ablation_group, params.nnunet.ablation_group]))
    with stage_run(STAGE_REPORT_NNUNET, params, ["nnunet"]) as run:
        runs = newest_per_group(groups)
        df = compare_runs(runs) if runs else None
        chart = None if df is None else bar_chart(df.assign(run=df["network"]), reports / "nnunet" / "comparison.png",
                                                  "newest run per model, held-out test cases")
        progress = fold_folder(p, params.nnunet, params.nnunet.folds[0]) / "progress.png"
        shown = reports / "nnunet" / "progress.png"
        if progress.is_file():
            shown.parent.mkdir(parents=True, exist_ok=True)
            shown.write_bytes(progress.read_bytes())
        out = reports / "nnunet.html"
        out.write_text(build_nnunet_page(table_rows(df) if df is not None else [], chart, shown, metrics, reports))
        run.log_artifact(out, "report")
        log.info("wrote %s (%d models side by side)", out, len(runs))


if __name__ == "__main__":
    run_stage(main, STAGE_REPORT_NNUNET)
