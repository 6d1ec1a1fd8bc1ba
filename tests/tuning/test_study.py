"""Optuna studies: nested MLflow runs, the best-params file, and resume after a killed worker."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, n_trials: int, heartbeat: int = 1, grace: int = 3) -> Path:
    """A minimal project: params.yaml (storage in tmp), the survival split and tumour-volume features."""
    rng = np.random.default_rng(0)
    n = 40
    ids = [f"BraTS20_Training_{i:03d}" for i in range(n)]
    label = np.array([0, 1] * (n // 2))
    (tmp_path / "data" / "splits").mkdir(parents=True)
    (tmp_path / "data" / "features").mkdir(parents=True)
    pd.DataFrame({"case_id": ids, "age": rng.uniform(30, 80, n), "label": label, "subset": ["train"] * 32 + ["test"] * 8}
                 ).to_csv(tmp_path / "data" / "splits" / "survival.csv", index=False)
    vol = pd.DataFrame({"case_id": ids, **{c: rng.normal(size=n) + label * (1.5 if c == "wt_cm3" else 0)
                                          for c in ("wt_cm3", "tc_cm3", "et_cm3", "tc_wt", "et_wt", "et_tc")}})
    vol.to_csv(tmp_path / "data" / "features" / "segmentation_volumes.csv", index=False)
    params = {"survival": {"models": ["logistic_regression", "rbf_svm"], "cv_folds": 4},
              "tune": {"storage": f"sqlite:///{tmp_path / 'optuna.db'}", "n_trials": {"survival": n_trials},
                       "heartbeat_interval": heartbeat, "grace_period": grace, "max_retry": 2},
              "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "BRATS_NO_PROGRESS": "1", "PYTHONPATH": str(ROOT)}


def _tune(tmp_path, extra_env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "brats_mlops.cli.main", "tune", "survival"], cwd=tmp_path,
                            env={**_env(tmp_path), **(extra_env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_trials_are_nested_runs_and_best_params_apply(tmp_path):
    from tests.e2e import undeclared_params

    proj = _project(tmp_path, n_trials=5)
    p = _tune(proj, {"BRATS_PARAMS_AUDIT": str(tmp_path / "params_audit")})
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    assert undeclared_params(ROOT, tmp_path / "params_audit") == {}   # tune/dvc.yaml declares what the study reads
    study = optuna.load_study(study_name="survival", storage=f"sqlite:///{proj / 'optuna.db'}")
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 5
    mlflow.set_tracking_uri(f"sqlite:///{proj / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["brats-survival"], output_format="list")
    parents = [r for r in runs if r.data.tags.get("mlflow.parentRunId") is None]
    assert len(parents) == 1 and parents[0].data.tags["brats.study"] == "survival"
    assert study.user_attrs["mlflow_run_id"] == parents[0].info.run_id
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(int(r.data.tags["brats.trial_number"]) for r in children) == [0, 1, 2, 3, 4]
    assert all(r.data.tags["brats.study"] == "survival" and "cv_macro_f1" in r.data.metrics for r in children)
    best = max(children, key=lambda r: r.data.metrics["cv_macro_f1"])
    assert best.data.metrics["cv_macro_f1"] == pytest.approx(study.best_value)
    doc = yaml.safe_load((proj / "params" / "tuned" / "survival.yaml").read_text())
    assert doc["params"]["survival.grid"] == "tuned" and doc["params"]["survival.models"] == [study.best_params["model"]]
    args = (proj / "params" / "tuned" / "survival.args").read_text().split()
    assert args[0] == "-S" and any(a.startswith("survival.tuned.") for a in args)
    # the tuned point is a valid params override (what `dvc exp run -S ...` would apply)
    from brats_mlops.config.schema import parse_params
    from brats_mlops.survival.grids import make_pipeline

    raw = yaml.safe_load((proj / "params.yaml").read_text())
    for k, v in doc["params"].items():
        node = raw
        *path, last = k.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = v
    cfg = parse_params(raw).survival
    pipe, grid = make_pipeline(cfg.models[0], grid=cfg.tuned)
    assert all(len(v) == 1 for v in grid.values())


@pytest.mark.slow
def test_study_resumes_after_its_worker_is_killed(tmp_path):
    proj = _project(tmp_path, n_trials=4)
    storage = f"sqlite:///{proj / 'optuna.db'}"
    p = _tune(proj, {"BRATS_TUNE_HANG_AT_TRIAL": "2"}, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 300:  # wait until trial 2 is running (and hanging)
        try:
            trials = optuna.load_study(study_name="survival", storage=storage).trials
        except Exception:
            trials = []
        if any(t.number == 2 and t.state == optuna.trial.TrialState.RUNNING for t in trials):
            break
        time.sleep(1)
    else:
        p.kill()
        pytest.fail("trial 2 never started: " + p.communicate()[0][-2000:])
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    time.sleep(4)  # longer than the grace period: the trial's heartbeat is stale
    q = _tune(proj)
    out, _ = q.communicate(timeout=600)
    assert q.returncode == 0, out[-3000:]
    study = optuna.load_study(study_name="survival", storage=storage)
    states = {t.number: t.state for t in study.trials}
    assert states[2] == optuna.trial.TrialState.FAIL  # the killed trial is failed, not left RUNNING
    assert not any(s == optuna.trial.TrialState.RUNNING for s in states.values())
    retried = [t for t in study.trials if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == 2]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].params == study.trials[2].params  # the retry ran the same params
    assert sum(s == optuna.trial.TrialState.COMPLETE for s in states.values()) == 4
    # one study run, reopened: the resumed worker's trials nest under the same parent
    mlflow.set_tracking_uri(f"sqlite:///{proj / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["brats-survival"], output_format="list")
    parents = [r for r in runs if r.data.tags.get("mlflow.parentRunId") is None]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    retry_runs = [r for r in runs if r.data.tags.get("brats.retry_of_trial") == "2"]
    assert len(retry_runs) == 1 and retry_runs[0].data.tags["mlflow.parentRunId"] == parents[0].info.run_id


def test_a_study_without_its_inputs_says_what_to_run(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"tune": {"storage": f"sqlite:///{tmp_path / 'o.db'}"}}))
    r = subprocess.run([sys.executable, "-m", "brats_mlops.cli.main", "tune", "survival"], cwd=tmp_path, env=_env(tmp_path),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "data/splits/survival.csv" in r.stderr and "dvc repro" in r.stderr
    assert "Traceback" not in r.stderr
