"""DVC stage `split`: patient-level segmentation split (train / val / test) and the survival cohort's stratified split.

The segmentation split is made whatever the clinical data. The survival branch runs only when the cohort supports
its split and CV (``survival.enabled: auto``); otherwise ``data/splits/survival.json`` says ``skipped`` with the
reason, and every survival-side stage reads that and records the same status.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans
from brats_mlops.data.splits import make_splits, read_clinical
from brats_mlops.names import STAGE_SPLIT, TAG_STATUS_REASON, TAG_SURVIVAL_STATUS
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_SPLIT)
    params = load_params()
    p = params.paths
    cases_csv, clinical_csv, plans_json = (Path(p.validation_dir) / "cases.csv", Path(p.validation_dir) / "clinical.csv",
                                           Path(p.preprocessed_dir) / "plans.json")
    with stage_run(STAGE_SPLIT, params, ["split", "survival"], deps=[cases_csv, clinical_csv, plans_json]) as run:
        plans = Plans.load(p.preprocessed_dir)
        splits = make_splits(plans.labelled_ids(), set(plans.cases), pd.read_csv(cases_csv), read_clinical(clinical_csv),
                             params.split, params.survival.enabled, params.survival.cv_folds, params.segmentation.folds)
        splits.write(Path(p.splits_dir))
        m = splits.metrics()
        dump_json(m, p.metrics("split"))
        run.log_metrics(m)
        run.set_tags({TAG_SURVIVAL_STATUS: m["survival_status"], **({TAG_STATUS_REASON: splits.reason} if splits.reason else {})})
        run.log_artifact(Path(p.splits_dir), "splits")
        log.info("segmentation %d train / %d val / %d test", m["seg_train"], m["seg_val"], m["seg_test"])
        if splits.reason:
            log.warning("survival branch skipped: %s", splits.reason)
        else:
            log.info("survival %d train / %d test (excluded %d)", m["survival_train"], m["survival_test"], m["survival_excluded"])


if __name__ == "__main__":
    run_stage(main, STAGE_SPLIT)
