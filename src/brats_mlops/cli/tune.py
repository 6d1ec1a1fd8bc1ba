"""`brats-mlops tune <study>`: the one entry point of the Optuna studies (tune/dvc.yaml calls it too)."""

from __future__ import annotations

import os
from enum import Enum
from typing import Annotated, Optional

import typer

from brats_mlops.cli.common import app, console, fail


class StudyName(str, Enum):
    segmentation = "segmentation"
    autoencoder = "autoencoder"
    survival = "survival"


@app.command()
def tune(
    study: Annotated[StudyName, typer.Argument(help="segmentation (loss weights) | autoencoder (loss weights) | survival (classifier spaces)")],
    n_trials: Annotated[Optional[int], typer.Option("--n-trials", min=1, help="Trials (complete or pruned) the study should reach (default: tune.n_trials).")] = None,
    storage: Annotated[Optional[str], typer.Option("--storage", help="SQLAlchemy URL of the Optuna storage (default: tune.storage, else sqlite:///<root>/optuna.db). Workers on one storage share the study.")] = None,
) -> None:
    """Run or resume an Optuna study; each trial is a nested MLflow run under the study's run. Start the same command
    in several shells (or machines, with a shared --storage) to add workers. The best params land in
    params/tuned/<study>.yaml; apply them with `dvc exp run $(cat params/tuned/<study>.args)`."""
    from brats_mlops.config.schema import ParamsError, load_params, parse_params
    from brats_mlops.tracking import real_project_root
    from brats_mlops.tuning.objectives import STUDIES, missing_inputs
    from brats_mlops.tuning.study import run_study
    from brats_mlops.utils.logs import stage_logger

    os.chdir(real_project_root())
    try:
        params = load_params()
        if storage:
            raw = params.dump()
            raw["tune"]["storage"] = storage
            params = parse_params(raw)
    except ParamsError as err:
        fail(str(err))
    missing = missing_inputs(study.value, params)
    if missing:
        fail(f"study {study.value} needs {', '.join(missing)}: run `dvc repro` (or `make run`) first")
    stage_logger(f"tune_{study.value}")
    s = run_study(STUDIES[study.value], params, n_trials)
    done = [t for t in s.trials if t.state.name == "COMPLETE"]
    if done:
        console.print(f"study {study.value}: best {STUDIES[study.value].metric} {s.best_value:.4f} (trial {s.best_trial.number}); "
                      f"{len(done)} complete, {sum(t.state.name == 'PRUNED' for t in s.trials)} pruned, {sum(t.state.name == 'FAIL' for t in s.trials)} failed")
        console.print(f"apply: dvc exp run $(cat params/tuned/{study.value}.args)")
