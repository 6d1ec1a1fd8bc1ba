"""DVC stage `preprocess`: crops, masked z-score, label remap, autoencoder inputs, plans.json, Tables 1-2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.preprocess_run import preprocess_dataset
from brats_mlops.data.label_tables import label_tables, tables_metrics, write_label_tables
from brats_mlops.data.readers import discover
from brats_mlops.names import STAGE_PREPROCESS
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_PREPROCESS)
    params = load_params()
    p, cfg = params.paths, params.preprocess
    out = Path(p.preprocessed_dir)
    report = Path(p.reports_dir) / "label_distribution.md"
    metrics = Path(p.metrics_dir) / "preprocess.json"
    verdicts = pd.read_csv(Path(p.validation_dir) / "cases.csv")
    passed = set(verdicts.loc[verdicts.verdict == "passed", "case_id"])
    log.info("preprocessing %d passed cases (%d quarantined skipped): crop %s %s -> %s",
             len(passed), int((verdicts.verdict != "passed").sum()), cfg.crop, cfg.crop_size, out)
    with stage_run(STAGE_PREPROCESS, params, ["data", "preprocess"], deps=[p.raw_manifest, Path(p.validation_dir) / "cases.csv"]) as run:
        index = discover(params.data.source, params.data.root, params.data.modalities)
        cases = [c for c in index.cases if c.case_id in passed]
        plans = preprocess_dataset(cases, params.data.modalities, cfg, out, num_workers=params.data.num_workers)
        tables = label_tables(plans)
        write_label_tables(tables, cfg.crop_size, report)
        m = {"cases": len(plans.cases), "labelled": len(plans.labelled_ids()), "quarantined": len(plans.quarantined),
             **tables_metrics(tables)}
        if plans.quarantined:   # each with its reason in plans.json (data/preprocess_run.py) and the log above
            log.warning("%d case(s) quarantined by preprocessing: %s", len(plans.quarantined), ", ".join(plans.quarantined))
        dump_json(m, metrics)
        run.log_metrics(m)
        for f in (report, report.with_suffix(".csv"), out / "plans.json", metrics):
            run.log_artifact(f, "preprocess")


if __name__ == "__main__":
    run_stage(main, "preprocess")
