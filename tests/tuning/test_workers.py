"""Optuna at scale: `tune <study> --workers 2` on a real PostgreSQL server — every trial runs once, all trials nest
under one MLflow parent run, the best params are written once; a tiny segmentation study prunes."""

import json
import sqlite3
import subprocess
import sys
import uuid

import mlflow
import optuna
import pytest
import yaml

from tests.mlflow_server.conftest import postgres_url  # noqa: F401  (the session's PostgreSQL server)
from tests.training.test_kill_resume_stage import _project as seg_project
from tests.tuning.test_study import _env, _project


def _fresh_db(url: str) -> str:
    """A new empty database on the test server (one per study: study names are fixed)."""
    import sqlalchemy

    name = f"optuna_{uuid.uuid4().hex[:8]}"
    with sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    return url.rsplit("/", 1)[0] + "/" + name


def _tune(proj, study, storage, env, *extra):
    cmd = [sys.executable, "-m", "brats_mlops.cli.main", "tune", study, "--workers", "2", "--storage", storage, *extra]
    r = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    return r.stdout + r.stderr


def _runs(uri: str, experiment: str):
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    parents = [r for r in runs if r.data.tags.get("mlflow.parentRunId") is None]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") is not None]
    return parents, children


@pytest.mark.slow
@pytest.mark.xdist_group("postgres")
def test_two_workers_share_one_postgres_study(tmp_path, postgres_url):  # noqa: F811
    proj = _project(tmp_path, n_trials=12)
    storage = _fresh_db(postgres_url)
    out = _tune(proj, "survival", storage, _env(proj))
    study = optuna.load_study(study_name="survival", storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 12 and len({t.number for t in study.trials}) == len(study.trials)
    parents, children = _runs(f"sqlite:///{proj / 'mlflow.db'}", "brats-survival")
    assert len(parents) == 1 and study.user_attrs["mlflow_run_id"] == parents[0].info.run_id
    assert all(c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children)
    numbers = sorted(int(c.data.tags["brats.trial_number"]) for c in children)
    assert numbers == sorted(t.number for t in study.trials)            # each trial ran once, in one worker
    assert len({c.data.tags["brats.worker"] for c in children}) == 2     # both workers took trials
    assert out.count("-> params/tuned/survival.yaml") == 1               # the best params, written once
    doc = yaml.safe_load((proj / "params" / "tuned" / "survival.yaml").read_text())
    assert doc["best_value"] == pytest.approx(study.best_value)
    assert parents[0].data.metrics["trials_complete"] == 12


@pytest.mark.slow
@pytest.mark.xdist_group("postgres")
def test_tiny_segmentation_study_prunes_with_two_workers(tiny_preprocessed, tmp_path, postgres_url):  # noqa: F811
    proj, env = seg_project(tmp_path, tiny_preprocessed)
    p = yaml.safe_load((proj / "params.yaml").read_text())
    # a pruner built to prune: after 2 finished trials, a trial below the 90th percentile at any epoch stops
    p["tune"] = {"n_trials": {"segmentation": 5}, "segmentation_epochs": 3, "pruner": "percentile", "pruner_percentile": 90.0,
                 "pruner_warmup_steps": 0}
    (proj / "params.yaml").write_text(yaml.safe_dump(p))
    storage = _fresh_db(postgres_url)
    _tune(proj, "segmentation", storage, {**env, "BRATS_THREADS": "1", "BRATS_PARAMS_AUDIT": str(tmp_path / "params_audit")})
    from tests.e2e import ROOT, undeclared_params

    assert undeclared_params(ROOT, tmp_path / "params_audit") == {}   # tune/dvc.yaml declares what the study reads
    study = optuna.load_study(study_name="segmentation", storage=storage)
    states = [t.state for t in study.trials]
    assert sum(s == optuna.trial.TrialState.PRUNED for s in states) >= 1
    assert sum(s in (optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE) for s in states) == 5
    with sqlite3.connect(proj / "mlflow.db") as db:
        pruned = db.execute("select count(*) from tags where key = 'brats.trial_state' and value = 'PRUNED'").fetchone()[0]
    assert pruned == sum(s == optuna.trial.TrialState.PRUNED for s in states)
    assert json.loads(json.dumps(study.best_params))                     # a best trial exists and was written
    assert (proj / "params" / "tuned" / "segmentation.yaml").is_file()
