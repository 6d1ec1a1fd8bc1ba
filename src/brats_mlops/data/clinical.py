"""Survival tables (BraTS 2020 ``survival_info.csv`` / ``survival_evaluation.csv``), parsed with their quirks."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from brats_mlops.data.case import ClinicalRecord
from brats_mlops.errors import UserError

_ALIVE = re.compile(r"^\s*ALIVE\s*\(\s*(\d+(?:\.\d+)?)\s*days?\s+later\s*\)\s*$", re.IGNORECASE)

ID_COLUMNS = ("Brats20ID", "BraTS20ID", "BraTS_2020_subject_ID")
RESECTION_COLUMNS = ("Extent_of_Resection", "ResectionStatus")


class ClinicalTableError(UserError, ValueError):
    """The survival table cannot be read at all (no id column, not a CSV)."""


def parse_survival(raw: str | None) -> tuple[float | None, int | None, str | None]:
    """Parse a ``Survival_days`` cell.

    Returns ``(days, event, problem)``: ``event`` is 1 for an observed death, 0 for a censored
    ``ALIVE (N days later)`` entry; ``problem`` is a message when the cell cannot be used.
    """
    if raw is None or str(raw).strip() == "":
        return None, None, "Survival_days is empty"
    text = str(raw).strip()
    m = _ALIVE.match(text)
    if m:
        return float(m.group(1)), 0, None
    try:
        days = float(text)
    except ValueError:
        return None, None, f"Survival_days {text!r} is neither a number of days nor 'ALIVE (N days later)'"
    if days < 0:
        return None, None, f"Survival_days {text!r} is negative"
    return days, 1, None


def parse_age(raw: str | None) -> tuple[float | None, str | None]:
    if raw is None or str(raw).strip() == "":
        return None, "Age is empty"
    try:
        return float(str(raw).strip()), None
    except ValueError:
        return None, f"Age {str(raw).strip()!r} is not a number"


def read_clinical_table(path: Path, with_survival: bool = True) -> tuple[list[ClinicalRecord], dict[str, int]]:
    """Read a survival table into records; returns ``(records, duplicates)``.

    ``duplicates`` maps each id that occurs more than once to its row count; every record of such an id
    carries a problem, so it leaves the survival cohort (which row is right is unknowable).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
            fields = rows[0].keys() if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ClinicalTableError(f"{path}: cannot read survival table: {err}") from None
    id_col = next((c for c in ID_COLUMNS if c in fields), None)
    if rows and id_col is None:
        raise ClinicalTableError(f"{path}: no id column; expected one of {list(ID_COLUMNS)}, found {list(fields)}")
    res_col = next((c for c in RESECTION_COLUMNS if c in fields), None)
    records: list[ClinicalRecord] = []
    for row in rows:
        cid = (row.get(id_col) or "").strip()
        if not cid:
            continue
        problems: list[str] = []
        age, age_problem = parse_age(row.get("Age"))
        if age_problem:
            problems.append(f"{age_problem} in {path.name}")
        days = event = None
        raw_surv = row.get("Survival_days") if with_survival else None
        if with_survival:
            days, event, surv_problem = parse_survival(raw_surv)
            if surv_problem:
                problems.append(f"{surv_problem} in {path.name}")
        resection = (row.get(res_col) or "").strip() if res_col else ""
        records.append(
            ClinicalRecord(
                case_id=cid,
                age=age,
                survival_raw=raw_surv,
                survival_days=days,
                event=event,
                resection=resection or None,
                problems=problems,
            )
        )
    counts = Counter(r.case_id for r in records)
    duplicates = {k: n for k, n in counts.items() if n > 1}
    for r in records:
        if r.case_id in duplicates:
            r.problems.append(f"duplicate id in {path.name} ({duplicates[r.case_id]} rows)")
    return records, duplicates
