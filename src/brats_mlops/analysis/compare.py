"""Ablation comparison across MLflow runs (the paper's Tables 4 and 5, with intervals and paired tests).

Runs are the ``evaluate_segmentation`` (3-D), ``evaluate_segmentation_2d`` (2-D slice models) and ``nnunet_evaluate``
(nnU-Net v2) runs tagged ``brats.ablation_group = <group>`` (several groups can be compared together, e.g. ``default``
and ``slices2d``: 2-D beside 3-D, or ``default`` and ``nnunet``, on the same held-out cases); each carries its
per-case held-out metrics (artifact ``evaluation/cases.csv``) and points at its training run
(``brats.train_run_id``), whose params tell the runs apart and whose ``train_time_s`` is the training wall time
(``train min``). For every run and metric: the mean over cases
with a 95 % percentile-bootstrap interval; the best run (highest composite Dice ``dice_brats``) is marked;
every other run is compared with the best by a paired Wilcoxon signed-rank test on the per-case composite Dice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from brats_mlops.metrics.profiles import DEFAULT_PROFILE
from brats_mlops.families import families
from brats_mlops.names import TAG_ABLATION_GROUP, TAG_DATA_HASH_PREFIX, TAG_DVC_EXP, TAG_METRIC_PROFILE, TAG_STAGE, TAG_TRAIN_RUN
from brats_mlops.tracking import download_artifact, find_runs, run_params

log = logging.getLogger(__name__)

METRICS = ("dice_wt", "dice_tc", "dice_et", "dice_brats", "hd95_wt", "hd95_tc", "hd95_et")
PRIMARY = "dice_brats"


@dataclass
class RunCases:
    run_id: str
    label: str
    cases: pd.DataFrame  # one row per case: case_id + METRICS
    params: dict[str, str]


def bootstrap_mean_ci(x: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(x.mean()), float(lo), float(hi)


def list_groups() -> list[dict[str, object]]:
    """Every ablation group with finished evaluation runs: its name, run count and latest run time (for `compare`)."""
    runs = _eval_runs("attributes.status = 'FINISHED'")
    groups: dict[str, dict[str, object]] = {}
    for r in runs:
        g = r.data.tags.get(TAG_ABLATION_GROUP) or "(none)"
        e = groups.setdefault(g, {"group": g, "runs": 0})
        e["runs"] = int(e["runs"]) + 1
        e["latest"] = pd.Timestamp(r.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M")
    return sorted(groups.values(), key=lambda e: str(e["group"]))


def _eval_runs(filt: str) -> list[Any]:
    """Finished evaluation runs of every family (3-D, 2-D, nnU-Net, ...) matching ``filt``, oldest first."""
    runs = [r for st in (f.eval_stage for f in families()) for r in find_runs("segmentation", f"tags.`{TAG_STAGE}` = '{st}' and {filt}")]
    return sorted(runs, key=lambda r: r.info.start_time)


def _data_signature(run: Any) -> tuple[tuple[str, str], ...]:
    """What an evaluation run's numbers are comparable by: the hashes of the data it scored (its ``brats.data_hash.*``
    tags: dataset root, split — except the checkpoint folder, which is what an ablation varies) and the official metric
    profile it was scored with (``brats.metric_profile``; runs from before profiles existed were scored with 2023-GLI)."""
    from brats_mlops.config.schema import Params

    models = tuple(f"/{f.checkpoint_dir(Params()).name}" for f in families())  # the model folders: what an ablation varies
    hashes = tuple(sorted((k, v) for k, v in run.data.tags.items()
                          if k.startswith(TAG_DATA_HASH_PREFIX) and not k.endswith(models)))
    return hashes + ((TAG_METRIC_PROFILE, run.data.tags.get(TAG_METRIC_PROFILE, DEFAULT_PROFILE)),)


def same_data_as_newest(runs: list[Any], group: str) -> list[Any]:
    """The runs (oldest first) evaluated on the same data and split as the newest one; the others are left out with a
    warning — per-case scores of different cases or different data cannot be paired or ranked."""
    if not runs:
        return runs
    ref = _data_signature(runs[-1])
    kept = [r for r in runs if _data_signature(r) == ref]
    if len(kept) < len(runs):
        log.warning("ablation group %r: left out %d of %d runs evaluated on other data, another split or with another metric "
                    "profile than the newest run (brats.data_hash.* or brats.metric_profile tags differ): their numbers "
                    "cannot be paired or ranked with its; use a new ablation group after changing any of them",
                    group, len(runs) - len(kept), len(runs))
    return kept


def load_group(group: str | list[str]) -> list[RunCases]:
    """The finished evaluation runs (3-D and 2-D) of one or more groups, newest last, with per-case metrics and their
    training params."""
    groups = [group] if isinstance(group, str) else list(group)
    if not find_runs("segmentation", "attributes.status = 'FINISHED'", max_results=1):
        raise LookupError("no segmentation runs in the tracking store yet: run `dvc repro` first")
    runs = sorted([r for g in groups for r in _eval_runs(f"tags.`{TAG_ABLATION_GROUP}` = '{g}' and attributes.status = 'FINISHED'")],
                  key=lambda r: r.info.start_time)
    runs = same_data_as_newest(runs, "+".join(groups))
    out = []
    for r in runs:
        local = download_artifact(r.info.run_id, "evaluation/cases.csv")
        train_id = r.data.tags.get(TAG_TRAIN_RUN)
        # the evaluation run's own params (evaluate.tta, and segmentation.* for a run whose training run is unknown, e.g.
        # a `dvc exp run --temp` that only re-evaluated), overridden by its training run's
        params = {**dict(r.data.params), **(run_params(train_id, metrics=True) if train_id and train_id != "None" else {})}
        label = r.data.tags.get(TAG_DVC_EXP) or r.info.run_id[:8]
        stage = r.data.tags.get(TAG_STAGE)
        params["network"] = next(f for f in families() if f.eval_stage == stage).network(params)
        out.append(RunCases(r.info.run_id, label, pd.read_csv(local), params))
    return out


def from_cases_files(models: dict[str, Path]) -> list[RunCases]:
    """The models' held-out per-case metrics from the evaluate stages' own outputs (``reports/<kind>/cases.csv``,
    DVC outputs): ``{network label: cases.csv}``, the files that exist. A committed report built from these is a
    function of its declared inputs; the MLflow store's history is ``compare``'s business."""
    return [RunCases("", label, pd.read_csv(path), {"network": label}) for label, path in models.items() if Path(path).is_file()]


def distinguishing_params(runs: list[RunCases]) -> list[str]:
    """``network`` (3-D or 2-D and which), then the segmentation (or 2-D) and evaluation params whose values differ between the runs
    that have them (what the ablation varied; a 2-D and a 3-D run differ by ``network``, not by each other's params)."""
    sections = tuple(f"{s}." for s in {"evaluate", *(f.section for f in families())})
    keys = sorted({k for r in runs for k in r.params if k.startswith(sections)
                   and not k.endswith(".ablation_group")})

    def varied(k: str) -> bool:
        vals = [r.params[k] for r in runs if k in r.params]
        return len(vals) >= 2 and len(set(vals)) > 1

    return ["network"] + [k for k in keys if varied(k)]


def compare_runs(runs: list[RunCases], n_boot: int = 2000) -> pd.DataFrame:
    """One row per run: the varied params, mean and 95 % CI per metric, best flag, paired p-value vs the best."""
    if not runs:
        raise LookupError("no runs to compare")
    varied = distinguishing_params(runs)
    rows = []
    for r in runs:
        row: dict = {"run": r.label, "run_id": r.run_id, "cases": len(r.cases), **{k.removeprefix("segmentation."): r.params.get(k, "") for k in varied}}
        seconds = r.params.get("metric.train_time_s")
        row["train min"] = f"{float(seconds) / 60:.1f}" if seconds is not None else ""
        for m in METRICS:
            if m in r.cases:
                row[m], row[f"{m}_lo"], row[f"{m}_hi"] = bootstrap_mean_ci(r.cases[m].to_numpy(), n_boot)
        rows.append(row)
    df = pd.DataFrame(rows)
    best = int(df[PRIMARY].idxmax())
    df["best"] = False
    df.loc[best, "best"] = True
    ref = runs[best].cases.set_index("case_id")[PRIMARY]
    pvals = []
    for i, r in enumerate(runs):
        if i == best:
            pvals.append(float("nan"))
            continue
        other = r.cases.set_index("case_id")[PRIMARY]
        common = ref.index.intersection(other.index)
        a, b = ref.loc[common].to_numpy(), other.loc[common].to_numpy()
        pvals.append(float(wilcoxon(a, b).pvalue) if len(common) >= 2 and np.any(a != b) else 1.0)
    df[f"p_vs_best_{PRIMARY}"] = pvals
    return df


def table_rows(df: pd.DataFrame) -> list[dict[str, str]]:
    """One formatted row per run (varied params, mean [95% CI] per metric, p vs best, run id): the ablation table
    shared by the Markdown of ``compare`` and the HTML report. ``best`` marks the row with the best ``PRIMARY``."""
    varied = [c for c in df.columns if c not in {"run", "run_id", "cases", "best", f"p_vs_best_{PRIMARY}"}
              and not any(c.startswith(m) for m in METRICS)]
    cols = ["dice_wt", "dice_tc", "dice_et", "dice_brats", "hd95_wt", "hd95_tc", "hd95_et"]
    rows = []
    for r in df.to_dict("records"):
        row = {"run": r["run"], **{v: str(r.get(v)) for v in varied}}
        for m in cols:
            if m not in r or r[m] is None or (isinstance(r[m], float) and np.isnan(r[m])):
                row[m] = "-"
            elif m.startswith("dice"):
                row[m] = f"{r[m]:.3f} [{r[m + '_lo']:.3f}, {r[m + '_hi']:.3f}]"
            else:
                row[m] = f"{r[m]:.1f} [{r[m + '_lo']:.1f}, {r[m + '_hi']:.1f}]"
        p = r[f"p_vs_best_{PRIMARY}"]
        row |= {"p vs best": "best" if r["best"] else f"{p:.3g}", "MLflow run": r["run_id"][:8], "best": bool(r["best"])}
        rows.append(row)
    return rows


def render_markdown(df: pd.DataFrame, group: str) -> str:
    rows = table_rows(df)
    cols = [c for c in rows[0] if c != "best"] if rows else []
    lines = [f"# Ablation group `{group}`: held-out metrics (mean [95% bootstrap CI] over cases)", "",
             f"**Bold**: best composite Dice (`{PRIMARY}`). p: paired Wilcoxon signed-rank test of per-case `{PRIMARY}` against the best.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        bold = {"run", PRIMARY} if r["best"] else set()
        lines.append("| " + " | ".join(f"**{r[c]}**" if c in bold else r[c] for c in cols) + " |")
    return "\n".join(lines) + "\n"


def bar_chart(df: pd.DataFrame, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regions = ["dice_wt", "dice_tc", "dice_et", "dice_brats"]
    x = np.arange(len(regions))
    w = 0.8 / max(1, len(df))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(df) + 4), 3.8))
    for i, r in enumerate(df.to_dict("records")):
        means = [r[m] for m in regions]
        err = [[r[m] - r[m + "_lo"] for m in regions], [r[m + "_hi"] - r[m] for m in regions]]
        ax.bar(x + i * w, means, w, yerr=err, capsize=3, label=("★ " if r["best"] else "") + r["run"])
    ax.set_xticks(x + w * (len(df) - 1) / 2, ["WT", "TC", "ET", "composite"])
    ax.set_ylabel("Dice (mean, 95% CI)")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def write_comparison(group: str | list[str], out_dir: Path, n_boot: int = 2000) -> tuple[pd.DataFrame, str, Path]:
    group = "+".join([group] if isinstance(group, str) else group)
    runs = load_group(group.split("+"))
    if not runs:
        raise LookupError(f"no finished evaluate_segmentation runs tagged {TAG_ABLATION_GROUP}={group!r}; "
                          "run the ablation with `dvc exp run --queue -S segmentation.ablation_group=<group> ...` first")
    df = compare_runs(runs, n_boot)
    md = render_markdown(df, group)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{group}.md").write_text(md)
    df.to_csv(out_dir / f"{group}.csv", index=False)
    fig = bar_chart(df, out_dir / f"{group}.png", f"ablation group {group}")
    return df, md, fig
