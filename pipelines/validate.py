"""DVC stage `validate`: judge every input case with Great Expectations; quarantine or stop."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.data.manifest import write_raw_manifest
from brats_mlops.data.readers import discover
from brats_mlops.data.validation import DataValidationError, stop_message, validate_dataset, write_outputs
from brats_mlops.names import STAGE_VALIDATE
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_VALIDATE)
    params = load_params()
    p = params.paths
    out_dir, report = Path(p.validation_dir), Path(p.reports_dir) / "data_validation.md"
    metrics = Path(p.metrics_dir) / "data_validation.json"
    log.info("validating %s data at %s (modalities %s) -> %s, %s", params.data.source, params.data.root,
             ",".join(params.data.modalities), out_dir, report)
    with stage_run(STAGE_VALIDATE, params, ["data", "validate"], deps=[params.data.root]) as run:
        index = discover(params.data.source, params.data.root, params.data.modalities)
        result = validate_dataset(index, params.validate_, params.data.modalities, params.data.num_workers)
        write_outputs(result, out_dir, report, metrics)
        write_raw_manifest(params.data.root, p.raw_manifest)  # what the later stages depend on instead of the raw folder
        run.log_metrics(result.metrics)
        for f in (report, metrics, out_dir / "cases.csv", out_dir / "gx_results.json"):
            run.log_artifact(f, "validation")
        m = result.metrics
        log.info("%d cases: %d passed, %d quarantined; survival cohort %d. Report: %s",
                 m["cases_seen"], m["passed"], m["quarantined"], m["survival_cohort"], report)
        if m["quarantined"] and params.validate_.on_failure == "stop":
            raise DataValidationError(stop_message(result))


if __name__ == "__main__":
    run_stage(main, "validate")
