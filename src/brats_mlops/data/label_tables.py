"""The paper's Tables 1 and 2 from the plans: label distribution before/after the crop and tumour voxels retained
(``reports/label_distribution.{md,csv}``, written by the preprocess stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brats_mlops.data.case import invert_label_map
from brats_mlops.data.preprocessing import Plans


def label_tables(plans: Plans) -> dict[str, Any]:
    """The paper's Table 1 (label distribution before/after crop) and Table 2 (tumour voxels retained)."""
    inv = invert_label_map(plans.raw_label_map)
    lab = [c for c in plans.cases.values() if c.has_seg]
    tumour = [str(k) for k in plans.scheme.labels if k]
    keys = ["air", "healthy", *tumour]
    names = {"air": "air (outside brain)", "healthy": "healthy brain", **{k: plans.scheme.labels[int(k)] for k in tumour}}
    t1, t2 = [], []
    for k in keys:
        orig = [c.label_counts_original[k] / float(np.prod(c.original_shape)) for c in lab]
        crop = [c.label_counts_cropped[k] / float(np.prod(plans.crop_size)) for c in lab]
        raw = inv.get(int(k)) if k.isdigit() else None
        t1.append({"label": k if raw is None else f"{k} (raw {raw})", "description": names[k],
                   "original_pct": 100 * float(np.mean(orig)) if lab else 0.0,
                   "cropped_pct": 100 * float(np.mean(crop)) if lab else 0.0})
    for k in tumour:
        o = float(np.mean([c.label_counts_original[k] for c in lab])) if lab else 0.0
        cr = float(np.mean([c.label_counts_cropped[k] for c in lab])) if lab else 0.0
        t2.append({"label": f"{k} (raw {inv.get(int(k))})", "description": names[k], "original_avg": o,
                   "cropped_avg": cr, "lost_pct": 100 * (1 - cr / o) if o else 0.0, "retained_pct": 100 * cr / o if o else 100.0})
    return {"table1": t1, "table2": t2, "n_cases": len(lab)}


def render_label_tables(tables: dict[str, Any], crop: tuple[int, ...]) -> str:
    lines = [f"# Label distribution and tumour retention (crop {'×'.join(map(str, crop))}, {tables['n_cases']} labelled cases)", "",
             "## Table 1 — average voxel-wise label distribution", "", "| label | description | original % | cropped % |", "|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['description']} | {r['original_pct']:.2f}% | {r['cropped_pct']:.2f}% |" for r in tables["table1"]]
    lines += ["", "## Table 2 — tumour voxels retained by the crop", "", "| label | description | original avg | cropped avg | lost % | retained % |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['description']} | {r['original_avg']:,.0f} | {r['cropped_avg']:,.0f} | {r['lost_pct']:.2f}% | {r['retained_pct']:.2f}% |" for r in tables["table2"]]
    return "\n".join(lines) + "\n"


def write_label_tables(tables: dict[str, Any], crop: tuple[int, ...], report_md: Path) -> None:
    report_md.parent.mkdir(parents=True, exist_ok=True)
    report_md.write_text(render_label_tables(tables, crop))
    import csv

    with report_md.with_suffix(".csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["table", "label", "description", "original", "cropped", "lost_pct", "retained_pct"])
        for r in tables["table1"]:
            w.writerow(["1", r["label"], r["description"], f"{r['original_pct']:.4f}", f"{r['cropped_pct']:.4f}", "", ""])
        for r in tables["table2"]:
            w.writerow(["2", r["label"], r["description"], f"{r['original_avg']:.1f}", f"{r['cropped_avg']:.1f}", f"{r['lost_pct']:.4f}", f"{r['retained_pct']:.4f}"])


def tables_metrics(tables: dict[str, Any]) -> dict[str, float]:
    m = {}
    for r in tables["table2"]:
        k = r["label"].split()[0]
        m[f"retained_pct_label{k}"] = round(r["retained_pct"], 4)
    for r in tables["table1"]:
        k = r["label"].split()[0]
        m[f"cropped_pct_{k}"] = round(r["cropped_pct"], 4)
    return m
