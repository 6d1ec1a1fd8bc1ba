"""DVC stage `split`: patient-level segmentation split (train / val / test) and the survival cohort's stratified split.

The segmentation split is made whatever the clinical data. The survival branch runs only when the cohort supports
its split and CV (``survival.enabled: auto``); otherwise ``data/splits/survival.json`` says ``skipped`` with the
reason, and every survival-side stage reads that and records the same status.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans, dump_json
from brats_mlops.data.splits import read_clinical, segmentation_split, survival_cohort, time_to_event_cohort
from brats_mlops.errors import StageError
from brats_mlops.names import STAGE_SPLIT, TAG_STATUS_REASON, TAG_SURVIVAL_STATUS
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def exclusion_summary(cases: pd.DataFrame, excluded: list[dict]) -> str:
    """'3 no row in survival_info.csv; 1 Age is empty ...' over labelled, passed cases outside the cohort."""
    why: Counter = Counter()
    lab = cases[(cases.role == "labelled") & (cases.verdict == "passed") & ~cases.survival_cohort.astype(bool)]
    for r in lab.clinical_reasons.fillna(""):
        why[str(r).split(" | ")[0].split("] ")[-1] or "no survival data"] += 1
    for e in excluded:
        why[e["reason"].split(" (")[0]] += 1
    return "; ".join(f"{n} {reason}" for reason, n in why.most_common()) or "none"


def main() -> None:
    log = stage_logger(STAGE_SPLIT)
    params = load_params()
    p, cfg = params.paths, params.split
    out = Path(p.splits_dir)
    metrics = Path(p.metrics_dir) / "split.json"
    with stage_run(STAGE_SPLIT, params, ["split", "survival"], deps=[Path(p.validation_dir) / "cases.csv", Path(p.validation_dir) / "clinical.csv", Path(p.preprocessed_dir) / "plans.json"]) as run:
        plans = Plans.load(p.preprocessed_dir)
        seg = segmentation_split(plans.labelled_ids(), cfg.val_fraction, cfg.seed, cfg.test_fraction)
        cases = pd.read_csv(Path(p.validation_dir) / "cases.csv")
        clinical = read_clinical(Path(p.validation_dir) / "clinical.csv")
        eligible = set(cases.loc[cases.survival_cohort.astype(bool), "case_id"]) & set(plans.cases)
        cohort, excluded, edges, problem = survival_cohort(clinical, eligible, cfg.survival, cfg.seed, params.survival.cv_folds)
        n_labelled = len(plans.labelled_ids())
        enabled = params.survival.enabled
        if enabled is False:
            reason = "survival.enabled: false"
        elif problem:
            reason = (f"{len(cohort)} of {n_labelled} labelled cases have a usable survival class: {problem}. "
                      f"Excluded: {exclusion_summary(cases, excluded)}")
            if enabled is True:
                raise StageError(f"survival.enabled is true but the survival cohort is unusable: {reason}. Add survival data, "
                                 "lower survival.cv_folds or split.survival.test_fraction, or set survival.enabled: auto "
                                 "(skip the survival branch) or false")
        else:
            reason = None
        status = "skipped" if reason else "ok"
        if reason:
            cohort = cohort.iloc[0:0]
        tte = time_to_event_cohort(clinical, eligible if not reason else set(), cohort, cfg.survival.gtr_only)
        out.mkdir(parents=True, exist_ok=True)
        (out / "segmentation.json").write_text(json.dumps(seg, indent=1) + "\n")
        cohort.to_csv(out / "survival.csv", index=False)
        tte.to_csv(out / "survival_tte.csv", index=False)
        info = {"status": status, "reason": reason, "target": cfg.survival.target, "edges": edges, "excluded": excluded}
        (out / "survival.json").write_text(json.dumps(info, indent=1) + "\n")
        m = {
            "seg_train": len(seg["train"]),
            "seg_val": len(seg["val"]),
            "seg_test": len(seg["test"]),
            "survival_status": status,
            "survival_reason": reason,
            "survival_train": int((cohort.subset == "train").sum()),
            "survival_test": int((cohort.subset == "test").sum()),
            "survival_excluded": len(excluded),
            "time_to_event_patients": len(tte),
            "time_to_event_censored": int((tte.event == 0).sum()),
            "survival_classes": {str(k): int(v) for k, v in cohort.label.value_counts().sort_index().items()},
        }
        dump_json(m, metrics)
        run.log_metrics(m)
        run.set_tags({TAG_SURVIVAL_STATUS: status, **({TAG_STATUS_REASON: reason} if reason else {})})
        run.log_artifact(out, "splits")
        log.info("segmentation %d train / %d val / %d test", m["seg_train"], m["seg_val"], m["seg_test"])
        if reason:
            log.warning("survival branch skipped: %s", reason)
        else:
            log.info("survival %d train / %d test (excluded %d)", m["survival_train"], m["survival_test"], m["survival_excluded"])


if __name__ == "__main__":
    run_stage(main, "split")
