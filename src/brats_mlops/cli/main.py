"""`brats-mlops`: check a dataset, make synthetic data, apply presets, find results."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

app = typer.Typer(
    help="brats_mlops: a reproducible, tracked BraTS pipeline. The pipeline itself runs with `dvc repro`; "
    "these commands check data, make synthetic data, apply presets and find results.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
preset_app = typer.Typer(help="Named params presets (params/presets/*.yaml).", no_args_is_help=True)
app.add_typer(preset_app, name="preset")
console = Console(stderr=True)


class SourceOpt(str, Enum):
    synthetic = "synthetic"
    brats2020 = "brats2020"
    brats2023 = "brats2023"
    msd = "msd"


class OnFailure(str, Enum):
    quarantine = "quarantine"
    stop = "stop"


def _fail(msg: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _parse_modalities(text: str) -> tuple[str, ...]:
    from brats_mlops.names import MODALITIES

    mods = tuple(m.strip().lower() for m in text.replace(" ", ",").split(",") if m.strip())
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods:
        _fail(f"--modalities: unknown {bad or 'empty list'}; valid: {', '.join(MODALITIES)} (comma separated)")
    return tuple(m for m in MODALITIES if m in mods)


@app.command()
def validate(
    root: Annotated[Path, typer.Option("--root", help="Dataset root folder (layout given by --source).")],
    source: Annotated[SourceOpt, typer.Option("--source", help="Layout of the data under --root.")] = SourceOpt.brats2020,
    modalities: Annotated[str, typer.Option("--modalities", help="Comma-separated modalities to require.")] = "t1,t1ce,t2,flair",
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Optional[Path], typer.Option("--report-json", help="Write one verdict per case id / orphan CSV row (JSON) here.")] = None,
    on_failure: Annotated[OnFailure, typer.Option("--on-failure", help="quarantine: list failing cases and exit 0; stop: exit 1 if any case fails.")] = OnFailure.quarantine,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes reading images.")] = 2,
    min_nonzero_fraction: Annotated[float, typer.Option(help="A modality with fewer non-zero voxels counts as empty.")] = 0.01,
) -> None:
    """Check a dataset before a long run (like nnU-Net's --verify_dataset_integrity).

    Every case gets a verdict: passed, or quarantined with reasons naming the file and the problem.
    Clinical-table problems never quarantine a case; they take it out of the survival cohort.
    """
    from brats_mlops.config.schema import ValidateParams
    from brats_mlops.data.readers import DatasetLayoutError, discover
    from brats_mlops.data.validation import render_report, stop_message, validate_dataset

    mods = _parse_modalities(modalities)
    try:
        index = discover(source.value, root, mods)
    except DatasetLayoutError as err:
        _fail(str(err))
    result = validate_dataset(index, ValidateParams(min_nonzero_fraction=min_nonzero_fraction), mods, workers)
    table = Table(title=f"{source.value} at {root}: {len(result.cases)} cases", show_lines=False)
    for col in ("case", "role", "verdict", "reasons", "survival cohort"):
        table.add_column(col, overflow="fold")
    for e in result.entries():
        colour = "green" if e["verdict"] == "passed" else "red"
        why = "\n".join(e["reasons"]) if e["verdict"] != "passed" else "\n".join(e["clinical_reasons"])
        table.add_row(e["id"] + (" (csv row)" if e["kind"] == "csv_row" else ""), e["role"] or "-",
                      f"[{colour}]{e['verdict']}[/]", escape(why), "yes" if e["survival_cohort"] else "no")
    Console(width=max(140, Console().width)).print(table)
    m = result.metrics
    console.print(f"passed {m['passed']}, quarantined {m['quarantined']}, survival cohort {m['survival_cohort']}, "
                  f"orphan CSV rows {m['orphan_rows']}, duplicate ids {m['duplicate_ids']}")
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_report(result))
        console.print(f"report: {report}")
    if report_json:
        report_json.parent.mkdir(parents=True, exist_ok=True)
        report_json.write_text(json.dumps({"source": source.value, "root": str(root), "metrics": m, "entries": result.entries()}, indent=1))
        console.print(f"verdicts: {report_json}")
    if on_failure == OnFailure.stop and m["quarantined"]:
        console.print(escape(stop_message(result)), highlight=False)
        raise typer.Exit(1)


@app.command()
def synthesize(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the BraTS 2020-layout dataset into.")],
    n_train: Annotated[int, typer.Option(min=2, help="Labelled cases.")] = 10,
    n_validation: Annotated[int, typer.Option(min=0, help="Unlabelled cases.")] = 2,
    shape: Annotated[tuple[int, int, int], typer.Option(help="Volume shape, e.g. 240 240 155.")] = (96, 96, 64),
    spacing: Annotated[tuple[float, float, float], typer.Option(help="Voxel spacing in mm.")] = (2.5, 2.5, 2.42),
    seed: Annotated[int, typer.Option(help="Seed; the data are a deterministic function of it.")] = 2020,
    workers: Annotated[int, typer.Option(min=1)] = 2,
) -> None:
    """Write synthetic BraTS 2020-layout data (brains, tumours, survival table) without any download."""
    from brats_mlops.config.schema import ParamsError, SyntheticParams
    from brats_mlops.data.synthetic import generate_dataset

    try:
        cfg = SyntheticParams(n_train=n_train, n_validation=n_validation, shape=shape, spacing=spacing, seed=seed)
    except (ParamsError, ValueError) as err:
        _fail(str(err))
    generate_dataset(out, cfg, num_workers=workers)
    console.print(f"wrote {n_train} labelled + {n_validation} unlabelled cases to {out}")


@preset_app.command("list")
def preset_list() -> None:
    """List the available presets."""
    from brats_mlops.config.presets import list_presets
    from brats_mlops.config.schema import find_project_root

    for name in list_presets(find_project_root()):
        print(name)


@preset_app.command("apply")
def preset_apply(name: Annotated[str, typer.Argument(help="Preset name (see `brats-mlops preset list`).")]) -> None:
    """Merge a preset into params.yaml (validated first; comments kept). Review with `git diff params.yaml`."""
    from brats_mlops.config.presets import apply_preset
    from brats_mlops.config.schema import ParamsError, find_project_root

    try:
        path = apply_preset(find_project_root(), name)
    except ParamsError as err:
        _fail(str(err))
    console.print(f"applied preset {name!r} to {path}; `git diff {path.name}` shows the change, `dvc repro` runs it")


@app.command("check-params")
def check_params(params: Annotated[Optional[Path], typer.Option(help="params file (default: the project's)")] = None) -> None:
    """Validate params.yaml and print the resolved values."""
    from brats_mlops.config.schema import ParamsError, load_params

    try:
        p = load_params(params)
    except ParamsError as err:
        _fail(str(err))
    print(json.dumps(p.dump(), indent=1))


@app.command()
def where() -> None:
    """Print where the pipeline's results are and how to open them in the MLflow UI."""
    from brats_mlops.config.schema import load_params
    from brats_mlops.tracking import real_project_root, tracking_uri

    root = real_project_root()
    p = load_params(root / "params.yaml")
    uri = tracking_uri(p)
    lines = [
        "Results:",
        f"  reports  : {root / p.paths.reports_dir}/  (data_validation.md, label_distribution.md, segmentation/: overlays, curves, scree plot)",
        f"  metrics  : {root / p.paths.metrics_dir}/  (`dvc metrics show`; training curves: `dvc plots show`)",
        f"  data     : {root / p.paths.preprocessed_dir}/, {root / p.paths.splits_dir}/",
        f"  models   : {root / 'models'}/  (checkpoints); registry: models:/brats-segmentation@challenger",
        f"  tracking : {uri}",
        "Open the MLflow UI on them with:",
        "  make ui        (= .venv/bin/python -m mlflow_server.ui, then browse http://127.0.0.1:5000)",
    ]
    print("\n".join(lines))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
