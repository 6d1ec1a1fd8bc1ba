"""Running an Optuna study as a tracked, resumable, multi-worker job.

* Storage: ``tune.storage`` (any SQLAlchemy URL; PostgreSQL lets workers on several machines share a study),
  default ``sqlite:///<project root>/optuna.db``. Several ``brats-mlops tune <study>`` processes on one
  storage cooperate on the same study.
* Heartbeats: a running trial beats every ``tune.heartbeat_interval`` s; a trial whose worker was killed goes
  stale after ``tune.grace_period`` s, is marked FAIL (never left RUNNING) and re-queued with the same params
  (``RetryHeartbeatStaleTrialCallback``, up to ``tune.max_retry`` times) — the next worker runs it.
* Workers: ``brats-mlops tune <study> --workers N`` starts N worker processes on this machine (each runs the
  same study; Optuna hands each trial to exactly one) and writes the best params once, when all have stopped.
  Workers on other machines join with ``brats-mlops tune <study>`` and the same PostgreSQL ``tune.storage``.
  The worker that creates the study also creates its MLflow parent run; the others wait for its id, so all
  trials nest under one parent however many workers start at once.
* Resume: the study is loaded if it exists and runs until ``n_trials`` trials are COMPLETE or PRUNED in total,
  so a restarted study continues where it stopped.
* MLflow: the study is one parent run (experiment of its branch, tagged ``brats.study``), reopened on resume
  (its id is a study user attribute); each trial is a nested run tagged with the study and trial number, with
  the trial's params, intermediate values as a metric history, and its result.
* Output: the best params as ``params/tuned/<study>.yaml`` (dotted keys → values) and
  ``params/tuned/<study>.args`` (``-S key=value ...``), so ``dvc exp run $(cat params/tuned/<study>.args)``
  applies them in one command.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import optuna
import yaml

from brats_mlops.config.schema import Params
from brats_mlops.tracking import child_run, real_project_root, stage_run
from brats_mlops.utils.db import check_database
from brats_mlops.names import TAG_RETRY_OF_TRIAL, TAG_STUDY, TAG_STUDY_STORAGE, TAG_TRIAL, TAG_TRIAL_STATE, TAG_WORKER

log = logging.getLogger(__name__)
# heartbeat retries are "experimental" in Optuna 5 (stable since 2.8); the warning on every trial is noise
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
TUNED_DIR = Path("params/tuned")


@dataclass
class StudySpec:
    """One study: how a trial suggests params, how they map onto params.yaml, and the objective."""

    name: str
    branch: str  # MLflow experiment (segmentation | autoencoder | survival)
    direction: str  # "maximize" | "minimize"
    metric: str  # name of the objective (e.g. val_dice_composite)
    objective: Callable[[optuna.Trial, Params], float]  # returns the value; may report + raise TrialPruned
    to_params: Callable[[dict[str, Any]], dict[str, Any]]  # trial params → dotted params.yaml keys


def storage_url(params: Params) -> str:
    if params.tune.storage:
        return params.tune.storage
    return f"sqlite:///{real_project_root() / 'optuna.db'}"


def make_storage(params: Params) -> optuna.storages.RDBStorage:
    """The study's storage; a server database that cannot be reached is one clear error within seconds (naming
    host and port, not the password) instead of SQLAlchemy's retries and a traceback."""
    t = params.tune
    check_database(storage_url(params))
    return optuna.storages.RDBStorage(
        storage_url(params), heartbeat_interval=t.heartbeat_interval, grace_period=t.grace_period,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=t.max_retry),
        engine_kwargs={"connect_args": {"timeout": 60}} if storage_url(params).startswith("sqlite") else None)


def _counted(study: optuna.Study) -> int:
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=done))


def write_best(spec: StudySpec, study: optuna.Study, out_dir: Path = TUNED_DIR) -> tuple[Path, Path]:
    best = study.best_trial
    dotted = spec.to_params(best.params)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"study": spec.name, "objective": spec.metric, "direction": spec.direction, "best_value": best.value,
           "best_trial": best.number, "params": dotted}
    y = out_dir / f"{spec.name}.yaml"
    y.write_text(f"# best params of study {spec.name}; apply with:  dvc exp run $(cat {out_dir / (spec.name + '.args')})\n"
                 + yaml.safe_dump(doc, sort_keys=False))
    a = out_dir / f"{spec.name}.args"
    a.write_text(" ".join(f"-S {k}={json.dumps(v) if isinstance(v, (list, bool)) or v is None else v}" for k, v in dotted.items()) + "\n")
    return y, a


def make_pruner(params: Params) -> optuna.pruners.BasePruner:
    t = params.tune
    if t.pruner == "none":
        return optuna.pruners.NopPruner()
    if t.pruner == "percentile":
        return optuna.pruners.PercentilePruner(t.pruner_percentile, n_startup_trials=2, n_warmup_steps=t.pruner_warmup_steps)
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=t.pruner_warmup_steps)


def _open_study(spec: StudySpec, params: Params, storage: optuna.storages.RDBStorage) -> tuple[optuna.Study, bool]:
    """The study, and whether this process created it (exactly one concurrent worker does)."""
    kw = dict(study_name=spec.name, storage=storage, sampler=optuna.samplers.TPESampler(seed=params.seed), pruner=make_pruner(params))
    try:
        return optuna.create_study(direction=spec.direction, load_if_exists=False, **kw), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(**kw), False


def _parent_run_id(study: optuna.Study, created: bool, wait_s: float = 120.0) -> str | None:
    """The study's MLflow parent run id; a worker that did not create the study waits for the creator's."""
    deadline = time.monotonic() + (0 if created else wait_s)
    while True:
        rid = study.user_attrs.get("mlflow_run_id")
        if rid or time.monotonic() >= deadline:
            return rid
        time.sleep(0.5)


def worker_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class StopAtCount:
    """Stop a worker once complete + pruned + running trials reach ``n`` (running ones of other workers count, so
    concurrent workers do not start more trials than the study needs)."""

    def __init__(self, n: int):
        self.n = n

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        busy = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
        if len(study.get_trials(deepcopy=False, states=busy)) >= self.n:
            study.stop()


def run_study(spec: StudySpec, params: Params, n_trials: int | None = None, write: bool = True,
              quota: int | None = None) -> optuna.Study:
    """Run (or resume) ``spec`` until ``n_trials`` trials are complete or pruned; returns the study.

    ``write``: write the best params (``params/tuned/<study>.*``) when this worker stops; the ``--workers``
    launcher passes False to its workers and writes once itself. ``quota``: run at most this many trials (the
    launcher splits the remaining trials between its workers, so together they run exactly ``n_trials``)."""
    n_trials = n_trials or getattr(params.tune.n_trials, spec.name)
    storage = make_storage(params)
    study, created = _open_study(spec, params, storage)
    parent_id = _parent_run_id(study, created)
    already = _counted(study)
    log.info("study %s on %s: %d/%d trials done%s", spec.name, storage_url(params).split("@")[-1], already, n_trials,
             " (resuming)" if already else "")
    with stage_run(f"tune_{spec.name}", params, ["tune"], branch=spec.branch, run_id=parent_id,
                   tags={TAG_STUDY: spec.name, TAG_STUDY_STORAGE: storage_url(params).split("@")[-1]}) as run:
        if parent_id is None:
            study.set_user_attr("mlflow_run_id", run.run_id)

        def objective(trial: optuna.Trial) -> float:
            frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
            retried = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(frozen)
            tags = {TAG_STUDY: spec.name, TAG_TRIAL: trial.number, TAG_WORKER: worker_tag(),
                    **({TAG_RETRY_OF_TRIAL: retried} if retried is not None else {})}
            with child_run(f"{spec.name}-trial-{trial.number}", tags=tags) as child:
                try:
                    value = spec.objective(trial, params)
                except optuna.TrialPruned:
                    child.set_tags({TAG_TRIAL_STATE: "PRUNED"})
                    raise
                child.log_metrics({spec.metric: value})
                child.set_tags({TAG_TRIAL_STATE: "COMPLETE"})
                child.log_params(trial.params)
                return value

        remaining = n_trials - already
        if remaining > 0 and quota != 0:
            # a failed trial (e.g. a killed worker's, retried) does not count: leave room for max_retry of them
            study.optimize(objective, callbacks=[StopAtCount(n_trials)], timeout=params.tune.timeout_s,
                           n_trials=min(remaining, quota) if quota is not None else remaining + params.tune.max_retry)
        if write:
            finish(spec, study, run)
    return study


def finish(spec: StudySpec, study: optuna.Study, run: Any) -> Path | None:
    """Write the best params and log the study's summary to its parent run (``run``); None without a complete trial."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        return None
    y, a = write_best(spec, study)
    run.log_metrics({f"best_{spec.metric}": study.best_value, "trials_complete": len(complete), "trials_counted": _counted(study),
                     "trials_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.get_trials(deepcopy=False))})
    run.log_artifact(y, "tuned")
    log.info("study %s: best %s %.4f (trial %d) -> %s; apply: dvc exp run $(cat %s)", spec.name, spec.metric,
             study.best_value, study.best_trial.number, y, a)
    return y


def run_workers(spec: StudySpec, params: Params, workers: int, n_trials: int | None, argv: list[str]) -> optuna.Study:
    """``workers`` local processes on one study (``argv``: the worker command), then the best params once."""
    storage = make_storage(params)
    study, created = _open_study(spec, params, storage)   # created here, so no worker races to create it
    if _parent_run_id(study, created) is None:
        with stage_run(f"tune_{spec.name}", params, ["tune"], branch=spec.branch,
                       tags={TAG_STUDY: spec.name, TAG_STUDY_STORAGE: storage_url(params).split("@")[-1]}) as run:
            study.set_user_attr("mlflow_run_id", run.run_id)
    n = n_trials or getattr(params.tune.n_trials, spec.name)
    remaining = max(0, n - _counted(study))
    quotas = [remaining // workers + (i < remaining % workers) for i in range(workers)]
    log.info("study %s: %d trials to run by %d workers %s on %s", spec.name, remaining, workers, quotas,
             storage_url(params).split("@")[-1])
    procs = [subprocess.Popen([*argv, "--quota", str(q), "--n-trials", str(n)]) for q in quotas]
    codes = [p.wait() for p in procs]
    failed = [i for i, c in enumerate(codes) if c != 0]
    if failed:
        log.warning("workers %s exited with %s; their trials are retried here", failed, [codes[i] for i in failed])
    study = optuna.load_study(study_name=spec.name, storage=storage)
    if _counted(study) < n:   # a worker died or trials failed: finish the study in this process
        study = run_study(spec, params, n, write=False)
    with stage_run(f"tune_{spec.name}", params, ["tune"], branch=spec.branch, run_id=study.user_attrs["mlflow_run_id"]) as run:
        finish(spec, study, run)
    return study
