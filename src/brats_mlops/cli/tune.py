"""`brats-mlops tune <study>`: the one entry point of the Optuna studies (tune/dvc.yaml calls it too)."""

from __future__ import annotations

import os
import sys
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
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes on this machine sharing the study (use a PostgreSQL --storage for more than one; each worker's torch gets its share of the idle cores). The best params are written once, when all have stopped.")] = 1,
    worker: Annotated[bool, typer.Option("--worker", hidden=True, help="Run as one of --workers' processes (the launcher writes the best params).")] = False,
    quota: Annotated[Optional[int], typer.Option("--quota", hidden=True, min=0, help="With --worker: the number of trials this worker runs.")] = None,
) -> None:
    """Run or resume an Optuna study; each trial is a nested MLflow run under the study's run. Start the same command
    in several shells (or machines, with a shared --storage) to add workers. The best params land in
    params/tuned/<study>.yaml; apply them with `dvc exp run $(cat params/tuned/<study>.args)`."""
    from brats_mlops.config.schema import ParamsError, load_params, parse_params
    from brats_mlops.tracking import real_project_root
    from brats_mlops.tuning.objectives import STUDIES, missing_inputs
    from brats_mlops.tuning.study import run_study, run_workers
    from brats_mlops.utils.threads import ENV as THREADS_ENV, configure_threads, resolve_threads
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
    spec = STUDIES[study.value]
    if workers > 1:
        if params.tune.storage is None or params.tune.storage.startswith("sqlite"):
            console.print("[yellow]note: several workers on SQLite serialise on its file lock; PostgreSQL (--storage) is the shared storage Optuna recommends[/yellow]")
        argv = [sys.executable, "-m", "brats_mlops.cli.main", "tune", study.value, "--worker"] + (["--storage", storage] if storage else [])
        env_threads = max(1, resolve_threads(params.runtime.threads) // workers)
        os.environ.setdefault(THREADS_ENV, str(env_threads))   # the workers split the idle cores
        s = run_workers(spec, params, workers, n_trials, argv)
    else:
        configure_threads(params.runtime.threads)
        s = run_study(spec, params, n_trials, write=not worker, quota=quota if worker else None)
        if worker:
            return
    done = [t for t in s.trials if t.state.name == "COMPLETE"]
    if done:
        console.print(f"study {study.value}: best {STUDIES[study.value].metric} {s.best_value:.4f} (trial {s.best_trial.number}); "
                      f"{len(done)} complete, {sum(t.state.name == 'PRUNED' for t in s.trials)} pruned, {sum(t.state.name == 'FAIL' for t in s.trials)} failed")
        console.print(f"apply: dvc exp run $(cat params/tuned/{study.value}.args)")
