"""The Markdown validation report (``reports/data_validation.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from brats_mlops.data.validation.expectations import CLINICAL_CHECKS, IMAGING_CHECKS
from brats_mlops.data.validation.verdicts import ValidationResult, split_reasons


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
            f"| {r.case_id} | {r.role} | {verdict} | {_md_escape('<br>'.join(split_reasons(r.reasons)))} | "
            f"{'yes' if r.survival_cohort else 'no'} | {_md_escape('<br>'.join(split_reasons(r.clinical_reasons)))} |"
        )
    orphans = result.clinical[~result.clinical.has_case_folder] if len(result.clinical) else result.clinical
    if len(orphans):
        lines += ["", "## Survival-table rows without a case folder", ""]
        lines += [f"- {r.case_id}: {_md_escape(r.reasons)}" for r in orphans.itertuples()]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


VOLATILE_KEYS = {"id", "ge_load_time", "run_id", "run_time", "validation_time", "validation_id"}  # GX fields that differ on every run


def _stable(obj: Any) -> Any:
    """GX results without the random ids and load times GX records per run: the file (a DVC output) is then the
    same on every run and machine for the same data."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def write_outputs(result: ValidationResult, out_dir: Path, report: Path, metrics_path: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    result.cases.to_csv(out_dir / "cases.csv", index=False)
    result.clinical.to_csv(out_dir / "clinical.csv", index=False)
    (out_dir / "gx_results.json").write_text(json.dumps(_stable(result.gx), indent=1, default=str))
    (out_dir / "verdicts.json").write_text(json.dumps(result.entries(), indent=1))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render_report(result))
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(result.metrics, indent=2) + "\n")
