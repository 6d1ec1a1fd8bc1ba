"""Verdicts for a whole dataset: passed, or quarantined with reasons; clinical problems leave the survival cohort."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from brats_mlops.config.schema import ValidateParams
from brats_mlops.data.readers import DatasetIndex
from brats_mlops.data.validation.expectations import CLINICAL_CHECKS, IMAGING_CHECKS, gx_run
from brats_mlops.data.validation.profile import profile_job
from brats_mlops.errors import UserError
from brats_mlops.utils.progress import progress

log = logging.getLogger(__name__)


class DataValidationError(UserError, RuntimeError):
    """Raised with ``validate.on_failure: stop``; the message names each case, file and problem."""


@dataclass
class ValidationResult:
    cases: pd.DataFrame  # one row per discovered case: verdict, reasons, survival cohort, profile
    clinical: pd.DataFrame  # one row per survival-table row (incl. orphans)
    gx: dict[str, Any]
    metrics: dict[str, Any]
    source: str
    root: str
    modalities: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> pd.DataFrame:
        return self.cases[self.cases.verdict == "quarantined"]

    def passed_ids(self) -> list[str]:
        return self.cases.loc[self.cases.verdict == "passed", "case_id"].tolist()

    def entries(self) -> list[dict[str, Any]]:
        """One entry per case id and per orphan CSV row: verdict and reasons (for ``--report-json``)."""
        out = []
        for r in self.cases.itertuples():
            out.append(
                {
                    "id": r.case_id,
                    "kind": "case",
                    "role": r.role,
                    "verdict": r.verdict,
                    "reasons": split_reasons(r.reasons),
                    "survival_cohort": bool(r.survival_cohort),
                    "clinical_reasons": split_reasons(r.clinical_reasons),
                }
            )
        for r in self.clinical[~self.clinical.has_case_folder].itertuples():
            out.append(
                {
                    "id": r.case_id,
                    "kind": "csv_row",
                    "role": None,
                    "verdict": "quarantined",
                    "reasons": split_reasons(r.reasons),
                    "survival_cohort": False,
                    "clinical_reasons": split_reasons(r.reasons),
                }
            )
        return out


def split_reasons(s: str | float | None) -> list[str]:
    if s is None or (isinstance(s, float) and math.isnan(s)) or s == "":
        return []
    return str(s).split(" | ")


def validate_dataset(
    index: DatasetIndex, params: ValidateParams, modalities: tuple[str, ...], num_workers: int = 1
) -> ValidationResult:
    """Profile every case of ``index``, judge it with Great Expectations, and return the verdicts."""
    jobs = [(c, modalities, params.affine_atol) for c in index.cases]
    if num_workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(num_workers) as pool:
            rows = list(progress(pool.map(profile_job, jobs, chunksize=1), total=len(jobs), desc="validate"))
    else:
        rows = [profile_job(j) for j in progress(jobs, desc="validate")]
    details = [r.pop("_detail") for r in rows]
    for r in rows:
        r.pop("_nonzero", None)
    cases = pd.DataFrame(rows)
    if cases.empty:
        cases = pd.DataFrame(columns=["case_id", "role", *[c for c, *_ in IMAGING_CHECKS.values()]])
    img_fail, img_gx = gx_run(
        cases, IMAGING_CHECKS, "brats_cases", {"images_not_empty": params.min_nonzero_fraction}
    )
    reasons: list[list[str]] = [[] for _ in rows]
    fail_counts = {k: len(v) for k, v in img_fail.items()}
    for check, idxs in img_fail.items():
        for i in idxs:
            msgs = details[i].get(check) or []
            if check == "images_not_empty":
                msgs = [f"{m} < validate.min_nonzero_fraction={params.min_nonzero_fraction} (all-zero or nearly empty image)"
                        for frac, m in msgs if frac < params.min_nonzero_fraction]
            if check == "case_id_unique":
                msgs = [f"case id {rows[i]['case_id']} occurs more than once under {index.root}"]
            reasons[i] += [f"[{check}] {m}" for m in (msgs or [IMAGING_CHECKS[check][2] + ": failed"])]
    cases["verdict"] = ["quarantined" if r else "passed" for r in reasons]
    cases["reasons"] = [" | ".join(r) for r in reasons]

    # clinical table: every row of the survival tables (duplicates included), matched to folders
    by_id = index.by_id()
    clin = pd.DataFrame(
        [
            {
                "case_id": rec.case_id,
                "has_case_folder": rec.case_id in by_id,
                "role": role if rec.case_id in by_id else None,
                "age": rec.age,
                "survival_raw": rec.survival_raw,
                "survival_days": rec.survival_days,
                "event": rec.event,
                "survival_parse_ok": (None if role == "unlabelled" else rec.survival_days is not None),
                "resection": rec.resection,
            }
            for rec, role in index.clinical_rows
        ],
        columns=["case_id", "has_case_folder", "role", "age", "survival_raw", "survival_days", "event",
                 "survival_parse_ok", "resection"],
    )
    clin_gx_df = clin
    clin_fail, clin_gx = gx_run(
        clin_gx_df.astype({"has_case_folder": object}),
        CLINICAL_CHECKS,
        "brats_clinical",
        {"age_in_range": params.age_range, "resection_known": params.resection_values},
    )
    clin_reasons: dict[str, list[str]] = {}
    for check, idxs in clin_fail.items():
        for i in idxs:
            r = clin_gx_df.iloc[i]
            cid = r.case_id
            msg = {
                "row_id_unique": f"duplicate id {cid} in the survival table ({index.duplicates.get(cid, 2)} rows)",
                "row_has_case_folder": f"survival-table row {cid} has no case folder under {index.root}",
                "age_present": f"Age is empty for {cid}",
                "age_in_range": f"Age {r.age} of {cid} is outside validate.age_range={list(params.age_range)}",
                "survival_parsed": f"Survival_days {r.survival_raw!r} of {cid} is neither a number of days nor 'ALIVE (N days later)'",
                "resection_known": f"Extent_of_Resection {r.resection!r} of {cid} is not in {list(params.resection_values)}",
            }[check]
            lst = clin_reasons.setdefault(cid, [])
            if f"[{check}] {msg}" not in lst:
                lst.append(f"[{check}] {msg}")
    clin_fail_counts = {k: len(v) for k, v in clin_fail.items()}
    clin["reasons"] = [" | ".join(clin_reasons.get(cid, [])) for cid in clin.case_id]
    clin["usable"] = [
        not clin_reasons.get(r.case_id) and r.role == "labelled" and r.has_case_folder for r in clin.itertuples()
    ]

    # survival cohort per case
    cohort, creasons = [], []
    for c, verdict in zip(index.cases, cases.verdict):
        rs: list[str] = []
        if c.role != "labelled":
            rs.append("unlabelled case: no survival data")
        elif c.clinical is None:
            table = index.clinical_table_of_role.get(c.role)
            rs.append(f"no row in {table.name if table else 'a survival table'}" + ("" if table and table.is_file() else " (table missing)"))
        else:
            rs += clin_reasons.get(c.case_id, [])
        if verdict != "passed":
            rs.append("quarantined for imaging problems")
        cohort.append(not rs)
        creasons.append(" | ".join(rs))
    cases.insert(2, "verdict", cases.pop("verdict"))
    cases.insert(3, "reasons", cases.pop("reasons"))
    cases.insert(4, "survival_cohort", cohort)
    cases.insert(5, "clinical_reasons", creasons)

    n_q = int((cases.verdict == "quarantined").sum())
    metrics = {
        "source": index.source,
        "cases_seen": int(len(cases)),
        "labelled": int((cases.role == "labelled").sum()),
        "unlabelled": int((cases.role == "unlabelled").sum()),
        "passed": int(len(cases) - n_q),
        "quarantined": n_q,
        "survival_rows": int(len(clin)),
        "survival_cohort": int(sum(cohort)),
        "orphan_rows": int((~clin.has_case_folder).sum()) if len(clin) else 0,
        "duplicate_ids": len(index.duplicates),
        "failures": {**{k: v for k, v in fail_counts.items()}, **{f"clinical.{k}": v for k, v in clin_fail_counts.items()}},
    }
    return ValidationResult(cases, clin, {"cases": img_gx, "clinical": clin_gx}, metrics, index.source,
                            str(index.root), modalities, notes=list(index.notes))


def stop_message(result: ValidationResult) -> str:
    lines = [f"data validation failed for {len(result.quarantined)} case(s) (validate.on_failure=stop):"]
    for r in result.quarantined.itertuples():
        lines.append(f"  {r.case_id} ({r.folder}):")
        lines += [f"    - {m}" for m in split_reasons(r.reasons)]
    lines.append("Fix or remove these cases, or set validate.on_failure: quarantine to exclude them and continue.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- outputs
