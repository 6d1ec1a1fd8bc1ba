"""Data validation: a per-case profile and the clinical table, judged by Great Expectations suites.

Python measures (``profile_case``); Great Expectations decides (one expectation per check, run on the
profile table). A case failing any imaging expectation is *quarantined*: kept on disk, listed with its
reasons, excluded downstream. Clinical problems never quarantine a case: it keeps its imaging role and
leaves the survival cohort, with the reason in the report. Every input case appears in the outputs.
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from brats_mlops.config.schema import ValidateParams
from brats_mlops.data.case import Case
from brats_mlops.data.io import ImageReadError, load_image
from brats_mlops.data.readers import DatasetIndex
from brats_mlops.errors import UserError
from brats_mlops.utils.progress import progress

log = logging.getLogger(__name__)

# check name -> (column, kind, description). Order is the report's order.
IMAGING_CHECKS: dict[str, tuple[str, str, str]] = {
    "modalities_present": ("n_missing", "zero", "every configured modality (and, if labelled, the seg) has a file"),
    "files_readable": ("n_unreadable", "zero", "every file opens and decodes"),
    "shapes_agree": ("shapes_agree", "true", "all modalities and the seg have one shape"),
    "affines_agree": ("affines_agree", "true", "all modalities and the seg have one affine"),
    "finite_voxels": ("n_nonfinite", "zero", "no NaN or Inf voxel"),
    "images_not_empty": ("min_nonzero_fraction", "min", "every modality has enough non-zero voxels"),
    "labels_in_scheme": ("n_unexpected_labels", "zero", "seg values are in the source's label scheme"),
    "seg_not_empty": ("seg_empty", "false", "a labelled case's seg contains tumour"),
    "case_id_unique": ("case_id", "unique", "case ids are unique"),
}
CLINICAL_CHECKS: dict[str, tuple[str, str, str]] = {
    "row_id_unique": ("case_id", "unique", "one row per id"),
    "row_has_case_folder": ("has_case_folder", "true", "every row has a case folder"),
    "age_present": ("age", "not_null", "age is given"),
    "age_in_range": ("age", "range", "age within validate.age_range"),
    "survival_parsed": ("survival_parse_ok", "true", "Survival_days is a number or 'ALIVE (N days later)'"),
    "resection_known": ("resection", "set", "Extent_of_Resection in validate.resection_values"),
}


class DataValidationError(UserError, RuntimeError):
    """Raised with ``validate.on_failure: stop``; the message names each case, file and problem."""


# --------------------------------------------------------------------------- profiling
def profile_case(case: Case, modalities: tuple[str, ...], atol: float) -> dict[str, Any]:
    """Measure one case. Never raises: problems land in ``detail_<check>`` messages."""
    row: dict[str, Any] = {
        "case_id": case.case_id,
        "role": case.role,
        "folder": str(case.folder),
        "modalities_present": ",".join(m for m in modalities if m in case.images),
        "n_missing": sum(1 for p in case.problems if p.startswith("missing")),
        "n_unreadable": 0,
        "shapes_agree": None,
        "affines_agree": None,
        "n_nonfinite": None,
        "min_nonzero_fraction": None,
        "n_unexpected_labels": None,
        "seg_empty": None,
        "shape": None,
        "spacing": None,
        "dtype": None,
        "label_values": None,
        "notes": "; ".join(case.notes),
    }
    detail: dict[str, list[str]] = {k: [] for k in IMAGING_CHECKS}
    detail["modalities_present"] += [p for p in case.problems if p.startswith("missing")]
    shapes, affines, nonfinite, nz, files = {}, {}, 0, {}, {}
    dtypes = set()
    for mod in modalities:
        ref = case.images.get(mod)
        if ref is None:
            continue
        try:
            arr, aff, zooms = load_image(ref)
        except ImageReadError as err:
            row["n_unreadable"] += 1
            detail["files_readable"].append(f"{mod}: {err}")
            continue
        shapes[mod], affines[mod], files[mod] = arr.shape, aff, ref.path.name
        row["spacing"] = row["spacing"] or "x".join(f"{z:g}" for z in zooms)
        dtypes.add(str(nib.load(str(ref.path)).get_data_dtype()))  # as stored on disk (header only)
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            detail["finite_voxels"].append(f"{mod}: {ref.path.name} has {bad} NaN/Inf voxels")
        nonfinite += bad
        finite = np.where(np.isfinite(arr), arr, 0.0)
        frac = float(np.count_nonzero(finite)) / finite.size
        nz[mod] = frac
        detail["images_not_empty"].append((frac, f"{mod}: {ref.path.name} has non-zero fraction {frac:.4f}"))
        fg = finite[finite != 0]
        for q in (1, 50, 99):
            row[f"p{q:02d}_{mod}"] = float(np.percentile(fg, q)) if fg.size else 0.0
        row[f"nonzero_fraction_{mod}"] = frac
    if case.seg is not None:
        try:
            seg, saff, _ = load_image(case.seg, dtype=np.float32)
            shapes["seg"], affines["seg"], files["seg"] = seg.shape, saff, case.seg.path.name
            finite_seg = np.isfinite(seg)
            values = np.unique(seg[finite_seg])
            row["label_values"] = ",".join(f"{v:g}" for v in values)
            unexpected = [v for v in values if v not in case.label_map or v != int(v)]
            if not finite_seg.all():
                unexpected.append(float("nan"))
            row["n_unexpected_labels"] = len(unexpected)
            if unexpected:
                detail["labels_in_scheme"].append(
                    f"seg {case.seg.path.name} has values {[float(v) for v in unexpected]} outside the "
                    f"{case.source} scheme {sorted(case.label_map)}"
                )
            row["seg_empty"] = bool(not np.any(seg[finite_seg] != 0))
            if row["seg_empty"]:
                detail["seg_not_empty"].append(f"seg {case.seg.path.name} is empty (no tumour voxel)")
        except ImageReadError as err:
            row["n_unreadable"] += 1
            detail["files_readable"].append(f"seg: {err}")
    if shapes:
        first = next(iter(shapes))
        row["shape"] = "x".join(str(s) for s in shapes[first])
        bad_shapes = {k: v for k, v in shapes.items() if v != shapes[first]}
        row["shapes_agree"] = not bad_shapes
        if bad_shapes:
            detail["shapes_agree"].append(
                "shapes differ: " + ", ".join(f"{k} ({files[k]}) {'x'.join(map(str, v))}" for k, v in shapes.items())
            )
        bad_aff = [k for k, a in affines.items() if not np.allclose(a, affines[first], atol=atol)]
        row["affines_agree"] = not bad_aff
        if bad_aff:
            detail["affines_agree"].append(
                "affine of " + ", ".join(f"{k} ({files[k]})" for k in bad_aff) + f" differs from {first}'s ({files[first]}) by more than {atol}"
            )
    if nz:
        row["n_nonfinite"] = nonfinite
        row["min_nonzero_fraction"] = min(nz.values())
        row["_nonzero"] = nz
    row["dtype"] = ",".join(sorted(dtypes)) or None
    row["_detail"] = detail
    return row


def _profile_job(args: tuple) -> dict[str, Any]:
    return profile_case(*args)


# --------------------------------------------------------------------------- Great Expectations
def _gx_run(df: pd.DataFrame, checks: dict[str, tuple[str, str, str]], suite_name: str, bounds: dict) -> tuple[dict[str, list[str]], dict]:
    """Run one expectation per check on ``df``; returns ``(failing ids per check, GX result json)``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas(f"{suite_name}_source").add_dataframe_asset(suite_name)
    batch = asset.add_batch_definition_whole_dataframe("all_rows")
    suite = ctx.suites.add(gx.ExpectationSuite(name=suite_name))
    E = gx.expectations
    for check, (col, kind, desc) in checks.items():
        meta = {"check": check, "description": desc}
        if kind == "zero":
            exp = E.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=0, meta=meta)
        elif kind == "true":
            exp = E.ExpectColumnValuesToBeInSet(column=col, value_set=[True], meta=meta)
        elif kind == "false":
            exp = E.ExpectColumnValuesToBeInSet(column=col, value_set=[False], meta=meta)
        elif kind == "min":
            exp = E.ExpectColumnValuesToBeBetween(column=col, min_value=bounds[check], max_value=1.0, meta=meta)
        elif kind == "range":
            lo, hi = bounds[check]
            exp = E.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi, meta=meta)
        elif kind == "set":
            exp = E.ExpectColumnValuesToBeInSet(column=col, value_set=list(bounds[check]), meta=meta)
        elif kind == "not_null":
            exp = E.ExpectColumnValuesToNotBeNull(column=col, meta=meta)
        elif kind == "unique":
            exp = E.ExpectColumnValuesToBeUnique(column=col, meta=meta)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        suite.add_expectation(exp)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite))
    data = df.reset_index(drop=True).copy()
    data["_row"] = np.arange(len(data))
    res = vd.run(
        batch_parameters={"dataframe": data},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_row"]},
    )
    failing: dict[str, list[int]] = {}
    for r in res.results:
        check = r.expectation_config.meta["check"]
        rows = [int(u["_row"]) for u in (r.result.get("unexpected_index_list") or [])]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"Great Expectations failed on check {check}: {r.exception_info.get('exception_message')}")
        failing[check] = sorted(set(rows))
    return failing, res.to_json_dict()


# --------------------------------------------------------------------------- the whole dataset
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
                    "reasons": _split(r.reasons),
                    "survival_cohort": bool(r.survival_cohort),
                    "clinical_reasons": _split(r.clinical_reasons),
                }
            )
        for r in self.clinical[~self.clinical.has_case_folder].itertuples():
            out.append(
                {
                    "id": r.case_id,
                    "kind": "csv_row",
                    "role": None,
                    "verdict": "quarantined",
                    "reasons": _split(r.reasons),
                    "survival_cohort": False,
                    "clinical_reasons": _split(r.reasons),
                }
            )
        return out


def _split(s: str | float | None) -> list[str]:
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
            rows = list(progress(pool.map(_profile_job, jobs, chunksize=1), total=len(jobs), desc="validate"))
    else:
        rows = [_profile_job(j) for j in progress(jobs, desc="validate")]
    details = [r.pop("_detail") for r in rows]
    for r in rows:
        r.pop("_nonzero", None)
    cases = pd.DataFrame(rows)
    if cases.empty:
        cases = pd.DataFrame(columns=["case_id", "role", *[c for c, *_ in IMAGING_CHECKS.values()]])
    img_fail, img_gx = _gx_run(
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
    clin_fail, clin_gx = _gx_run(
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
        lines += [f"    - {m}" for m in _split(r.reasons)]
    lines.append("Fix or remove these cases, or set validate.on_failure: quarantine to exclude them and continue.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- outputs
def write_outputs(result: ValidationResult, out_dir: Path, report: Path, metrics_path: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    result.cases.to_csv(out_dir / "cases.csv", index=False)
    result.clinical.to_csv(out_dir / "clinical.csv", index=False)
    (out_dir / "gx_results.json").write_text(json.dumps(result.gx, indent=1, default=str))
    (out_dir / "verdicts.json").write_text(json.dumps(result.entries(), indent=1))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_report(result))
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(result.metrics, indent=2) + "\n")


def _md_escape(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_report(result: ValidationResult) -> str:
    m = result.metrics
    lines = [
        "# Data validation report",
        "",
        f"- source: `{result.source}`, root: `{result.root}`, modalities: {', '.join(result.modalities)}",
        f"- cases seen: **{m['cases_seen']}** ({m['labelled']} labelled, {m['unlabelled']} unlabelled); "
        f"passed **{m['passed']}**, quarantined **{m['quarantined']}**",
        f"- survival-table rows: {m['survival_rows']}; survival cohort: **{m['survival_cohort']}** cases; "
        f"rows without a case folder: {m['orphan_rows']}; duplicate ids: {m['duplicate_ids']}",
        "",
        "Quarantined cases stay on disk and are excluded from every later stage. Clinical problems do not",
        "quarantine a case: it keeps its imaging role and leaves the survival cohort.",
        "",
        "## Checks (Great Expectations)",
        "",
        "| check | what it expects | failing |",
        "|---|---|---|",
    ]
    for k, (_, _, desc) in IMAGING_CHECKS.items():
        lines.append(f"| `{k}` | {desc} | {m['failures'].get(k, 0)} |")
    for k, (_, _, desc) in CLINICAL_CHECKS.items():
        lines.append(f"| `clinical.{k}` | {desc} | {m['failures'].get('clinical.' + k, 0)} |")
    lines += ["", "## Every case", "", "| case | role | verdict | imaging reasons | survival cohort | clinical notes |", "|---|---|---|---|---|---|"]
    for r in result.cases.itertuples():
        verdict = "passed" if r.verdict == "passed" else "**quarantined**"
        lines.append(
            f"| {r.case_id} | {r.role} | {verdict} | {_md_escape('<br>'.join(_split(r.reasons)))} | "
            f"{'yes' if r.survival_cohort else 'no'} | {_md_escape('<br>'.join(_split(r.clinical_reasons)))} |"
        )
    orphans = result.clinical[~result.clinical.has_case_folder] if len(result.clinical) else result.clinical
    if len(orphans):
        lines += ["", "## Survival-table rows without a case folder", ""]
        lines += [f"- {r.case_id}: {_md_escape(r.reasons)}" for r in orphans.itertuples()]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"
