"""`brats-mlops metrics [STAGE ...]`: the pipeline's metrics, one readable table per stage.

``dvc metrics show`` prints every key of every file in one row (thousands of characters wide); this command reads
the same ``metrics/*.json`` and prints, per stage, the per-region figures (WT/TC/ET, raw and post-processed) as a
region table and every other value as a key/value table. ``--json`` prints the raw files instead.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from brats_mlops.cli.common import app, fail

REGIONS = ("wt", "tc", "et")
_REGION_KEY = re.compile(r"^(?P<name>.+)_(?P<region>wt|tc|et)(?P<suffix>_post|_std)?$")


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _flatten(d: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Scalars (dotted keys) and lists of records (shown as their own tables)."""
    flat: dict[str, Any] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            f, r = _flatten(v, key + ".")
            flat |= f
            records |= r
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            records[key] = v
        else:
            flat[key] = v
    return flat, records


def stage_tables(stage: str, data: dict[str, Any]) -> list[Table]:
    flat, records = _flatten(data)
    by_region: dict[str, dict[str, Any]] = {}
    rest: dict[str, Any] = {}
    for k, v in flat.items():
        m = _REGION_KEY.match(k)
        if m and "." not in k:
            by_region.setdefault(m["name"] + (m["suffix"] or ""), {})[m["region"]] = v
        else:
            rest[k] = v
    tables = []
    if by_region:
        t = Table(title=f"{stage}: per region", title_justify="left")
        t.add_column("metric")
        for r in REGIONS:
            t.add_column(r.upper(), justify="right")
        for name, vals in by_region.items():
            t.add_row(name, *(_fmt(vals.get(r, "")) for r in REGIONS))
        tables.append(t)
    if rest:
        t = Table(title=stage if not by_region else f"{stage}: other", title_justify="left")
        t.add_column("key")
        t.add_column("value", justify="right", overflow="fold")
        for k, v in rest.items():
            t.add_row(k, _fmt(v))
        tables.append(t)
    for key, rows in records.items():
        t = Table(title=f"{stage}: {key}", title_justify="left")
        cols = list(dict.fromkeys(c for r in rows for c in r))
        for c in cols:
            t.add_column(c, justify="right" if isinstance(rows[0].get(c), (int, float)) else "left")
        for r in rows:
            t.add_row(*(_fmt(r.get(c, "")) for c in cols))
        tables.append(t)
    return tables


@app.command()
def metrics(
    stages: Annotated[Optional[list[str]], typer.Argument(help="Stages to show (file names in metrics/ without .json); default: all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON instead of tables.")] = False,
) -> None:
    """Show the pipeline's metrics (metrics/*.json), one readable table per stage."""
    from brats_mlops.config.schema import load_params
    from brats_mlops.tracking import real_project_root

    root = real_project_root()
    folder = root / load_params(root / "params.yaml").paths.metrics_dir
    available = sorted(p.stem for p in folder.glob("*.json"))
    if not available:
        fail(f"no metrics in {folder}: run the pipeline first (`make run` or `dvc repro`)")
    unknown = sorted(set(stages or []) - set(available))
    if unknown:
        fail(f"no metrics for {', '.join(unknown)}; available: {', '.join(available)}")
    out = Console(width=160)
    for stage in stages or available:
        data = json.loads((folder / f"{stage}.json").read_text())
        if as_json:
            print(json.dumps({stage: data}, indent=1))
            continue
        for t in stage_tables(stage, data):
            out.print(t)
