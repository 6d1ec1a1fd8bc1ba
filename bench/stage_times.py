"""Per-stage wall time of the latest full `dvc repro` (issue 13's profile), from the stages' MLflow runs.

    python -m bench.stage_times [--wall SECONDS]

For each stage of dvc.yaml: its latest FINISHED run's duration (MLflow start → end: the stage's own work after its
imports), and the gap before it (Python start-up and imports of the stage, DVC saving the previous stage's outputs).
``--wall`` (the measured `time dvc repro -f`) adds the total. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wall", type=float, default=None)
    args = ap.parse_args()
    stages = [s for s, spec in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items()
              if str(spec.get("cmd", "")).startswith("python -m pipelines.")]   # not `code`: it logs no MLflow run
    top = ("not exists (select 1 from tags t where t.run_uuid = r.run_uuid and t.key = 'mlflow.parentRunId') "
           "and r.status = 'FINISHED'")
    with sqlite3.connect(ROOT / "mlflow.db") as db:   # the runs of the latest complete repro: after the last `synthesize`
        first = db.execute(f"select max(r.start_time) from runs r where r.name = ? and {top}", (stages[0],)).fetchone()[0] or 0
        rows = {}
        for s in stages:
            r = db.execute(f"select r.start_time, r.end_time from runs r where r.name = ? and r.start_time >= ? and {top} "
                           "order by r.start_time limit 1", (s, first)).fetchone()
            if r:
                rows[s] = (r[0] / 1000, r[1] / 1000)
    order = sorted(rows, key=lambda s: rows[s][0])
    print("| stage | stage run (s) | start-up before it (s) |\n|---|---|---|")
    prev_end = None
    total_run = total_gap = 0.0
    for s in order:
        start, end = rows[s]
        gap = start - prev_end if prev_end is not None else float("nan")
        total_run += end - start
        total_gap += 0 if prev_end is None else gap
        print(f"| `{s}` | {end - start:.1f} | {'' if prev_end is None else f'{gap:.1f}'} |")
        prev_end = end
    print(f"| **sum** | **{total_run:.0f}** | **{total_gap:.0f}** (+ the first stage's) |")
    if args.wall:
        print(f"\n`time dvc repro -f`: **{args.wall:.0f} s** ({args.wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
