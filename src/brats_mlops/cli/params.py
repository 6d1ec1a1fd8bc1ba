"""`brats-mlops preset | check-params | where | status`: params, where the results are, and whether they are current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from brats_mlops.cli.common import app, console, fail, preset_app


@preset_app.command("list")
def preset_list() -> None:
    """List the available presets."""
    from brats_mlops.config.presets import list_presets, preset_dir
    from brats_mlops.config.schema import find_project_root

    root = find_project_root()
    names = list_presets(root)
    if not names:
        fail(f"no presets in {preset_dir(root)}: run from the project root (the folder holding params.yaml)")
    for name in names:
        print(name)


@preset_app.command("apply")
def preset_apply(name: Annotated[str, typer.Argument(help="Preset name (see `brats-mlops preset list`).")]) -> None:
    """Merge a preset into params.yaml (validated first; comments kept). Review with `git diff params.yaml`."""
    from brats_mlops.config.presets import apply_preset
    from brats_mlops.config.schema import ParamsError, find_project_root

    try:
        path = apply_preset(find_project_root(), name)
    except ParamsError as err:
        fail(str(err))
    console.print(f"applied preset {name!r} to {path}; `git diff {path.name}` shows the change, `dvc repro` runs it")


@app.command("check-params")
def check_params(params: Annotated[Optional[Path], typer.Option(help="params file (default: the project's)")] = None) -> None:
    """Validate params.yaml and print the resolved values."""
    from brats_mlops.config.schema import ParamsError, load_params

    try:
        p = load_params(params)
    except ParamsError as err:
        fail(str(err))
    print(json.dumps(p.dump(), indent=1))


@app.command()
def where() -> None:
    """Print where the pipeline's results are and how to open them in the MLflow UI."""
    from brats_mlops.config.schema import load_params
    from brats_mlops.tracking import real_project_root, tracking_uri

    root = real_project_root()
    p = load_params(root / "params.yaml")
    uri = tracking_uri(p)
    fresh, status = _freshness(root)
    lines = [
        "Status (dvc status, in words):" if fresh else "WARNING: some results below are stale (dvc status):",
        *status,
        "Results:",
        f"  report   : {root / p.paths.reports_dir / 'index.html'}  (everything below on one page, with MLflow run ids)",
        f"  reports  : {root / p.paths.reports_dir}/  (data_validation.md, segmentation/, autoencoder/, survival_table.md, ...)",
        f"  metrics  : {root / p.paths.metrics_dir}/  (`brats-mlops metrics`: one table per stage; training curves are in the report)",
        f"  data     : {root / p.paths.preprocessed_dir}/, {root / p.paths.splits_dir}/",
        f"  models   : {root / p.paths.models_dir}/  (checkpoints); registry: brats-segmentation, brats-autoencoder, brats-survival "
        "@challenger (`brats-mlops models`)",
        f"  tracking : {uri}",
        "Open the MLflow UI on them with:",
        "  make ui                      (foreground), or  .venv/bin/brats-mlops server start   (background; `server stop`)",
        "  then browse http://127.0.0.1:5000",
        "Next: brats-mlops promote brats-segmentation | predict --case DIR --out DIR --age 61 | tune survival | compare --group NAME",
    ]
    print("\n".join(lines))


def _freshness(root: Path) -> tuple[bool, list[str]]:
    from brats_mlops.utils.freshness import pipeline_status, report

    try:
        return report(pipeline_status(root))
    except Exception as err:  # not a DVC repository (a copy without .dvc/), a broken lock file: say so, go on
        return True, [f"  could not run dvc status here: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"]


@app.command()
def status() -> None:
    """Say whether this checkout's metrics and reports still match its code, params and data (every pipeline's
    `dvc status`, in words). Exit 1 when a built pipeline is stale: its metrics describe an older state."""
    from brats_mlops.config.schema import load_params
    from brats_mlops.tracking import real_project_root

    root = real_project_root()
    load_params(root / "params.yaml")   # outside a project: the usual one-line error
    fresh, lines = _freshness(root)
    print("\n".join(lines))
    if not fresh:
        raise typer.Exit(1)
