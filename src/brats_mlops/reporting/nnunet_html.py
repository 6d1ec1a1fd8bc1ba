"""``reports/nnunet.html``: nnU-Net v2 beside the platform's 3-D model on the same held-out cases — mean [95% bootstrap
CI] per region, a paired Wilcoxon test against the best — and what its CPU default is (and is not). Nothing on the page
depends on the tracking store or the machine (no run ids, no wall times): it is a committed DVC output."""

from __future__ import annotations

import html
from pathlib import Path

from brats_mlops.reporting.html import CSS, _json, _table

NOTE = ("On this CPU nnU-Net runs at about the training time of the platform's 3-D model (<code>nnunet.epochs</code> × "
        "<code>nnunet.iterations_per_epoch</code>), a tiny fraction of its own schedule (1000 × 250 iterations): the row shows "
        "that nnU-Net runs, is tracked and is scored like the platform's models on the same cases — not how it ranks. "
        "Its own settings are the preset <code>nnunet_gpu</code> (docs/nnunet.md).")


def build_nnunet_page(rows: list[dict], chart: Path | None, metrics: Path, reports: Path) -> str:
    """``rows``: ``analysis.compare.table_rows`` of the models' per-case files; ``chart``: the bar chart to show."""
    train = _json(metrics / "nnunet_train.json")

    def img(p: Path | None) -> str:
        return f'<img src="{html.escape(p.relative_to(reports).as_posix())}" alt="">' if p and p.is_file() else ""

    shown = [{k: v for k, v in r.items() if k not in ("run", "best", "MLflow run", "train min")} for r in rows]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nnU-Net v2</title><style>{CSS}</style></head><body>",
             "<h1>nnU-Net v2 beside the platform's models</h1>",
             "<p>Made by <code>dvc repro nnunet/dvc.yaml</code>. Back to the <a href='index.html'>main report</a>. The same "
             "held-out test cases and the official BraTS 2023 metrics for every model; mean [95% bootstrap CI] over cases; "
             "<i>p vs best</i>: paired Wilcoxon signed-rank test of the per-case composite Dice against the best model. "
             "Training times, the 2-D model and every earlier run: <code>brats-mlops compare --group default --group nnunet "
             "--group slices2d</code> or the MLflow UI (<code>make ui</code>); nnU-Net's progress plot is an artifact of the "
             "<code>nnunet_train</code> run.</p>",
             _table(shown) if shown else "<p><i>no evaluation runs yet</i></p>", f"<p>{NOTE}</p>"]
    if train:
        parts.append(f"<p>nnU-Net training: {train.get('epochs')} epochs of {train.get('iterations_per_epoch')} iterations, "
                     f"folds {train.get('folds')}.</p>")
    parts += ["<div class='grid'>" + img(chart) + "</div>", "</body></html>"]
    return "\n".join(parts)
