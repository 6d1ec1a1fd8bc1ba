"""DVC stage `split`: patient-level segmentation split and the survival cohort's stratified split."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans, dump_json
from brats_mlops.data.splits import segmentation_split, survival_cohort, time_to_event_cohort
from brats_mlops.names import STAGE_SPLIT
from brats_mlops.tracking import stage_run
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_SPLIT)
    params = load_params()
    p, cfg = params.paths, params.split
    out = Path(p.splits_dir)
    metrics = Path(p.metrics_dir) / "split.json"
    with stage_run(STAGE_SPLIT, params, ["split"], deps=[Path(p.validation_dir) / "cases.csv", Path(p.validation_dir) / "clinical.csv", Path(p.preprocessed_dir) / "plans.json"]) as run:
        plans = Plans.load(p.preprocessed_dir)
        seg = segmentation_split(plans.labelled_ids(), cfg.val_fraction, cfg.seed)
        cases = pd.read_csv(Path(p.validation_dir) / "cases.csv")
        clinical = pd.read_csv(Path(p.validation_dir) / "clinical.csv")
        eligible = set(cases.loc[cases.survival_cohort.astype(bool), "case_id"]) & set(plans.cases)
        cohort, excluded, edges = survival_cohort(clinical, eligible, cfg.survival, cfg.seed)
        out.mkdir(parents=True, exist_ok=True)
        (out / "segmentation.json").write_text(json.dumps(seg, indent=1) + "\n")
        cohort.to_csv(out / "survival.csv", index=False)
        tte = time_to_event_cohort(clinical, eligible, cohort, cfg.survival.gtr_only)
        tte.to_csv(out / "survival_tte.csv", index=False)
        (out / "survival.json").write_text(json.dumps({"target": cfg.survival.target, "edges": edges, "excluded": excluded}, indent=1) + "\n")
        m = {
            "seg_train": len(seg["train"]),
            "seg_val": len(seg["val"]),
            "survival_train": int((cohort.subset == "train").sum()),
            "survival_test": int((cohort.subset == "test").sum()),
            "survival_excluded": len(excluded),
            "time_to_event_patients": len(tte),
            "time_to_event_censored": int((tte.event == 0).sum()),
            "survival_classes": {str(k): int(v) for k, v in cohort.label.value_counts().sort_index().items()},
        }
        dump_json(m, metrics)
        run.log_metrics(m)
        run.log_artifact(out, "splits")
        log.info("segmentation %d/%d, survival %d/%d (excluded %d) -> %s", m["seg_train"], m["seg_val"],
                 m["survival_train"], m["survival_test"], m["survival_excluded"], out)


if __name__ == "__main__":
    main()
