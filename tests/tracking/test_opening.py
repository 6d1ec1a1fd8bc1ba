"""The stage's MLflow run opens on a thread while the stage works (tracking/opening.py)."""

import os
import threading
import time

import mlflow
import pytest

from brats_mlops import tracking
from brats_mlops.config.schema import parse_params
from brats_mlops.names import STAGE_VALIDATE, TAG_ERROR, TAG_STAGE
from brats_mlops.tracking import child_run, stage_run
from brats_mlops.tracking.opening import Opening, wait_all


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    return tmp_path


def _slow_experiment(monkeypatch, seconds, started=None):
    real = tracking.ensure_experiment

    def slow(*a, **k):
        if started is not None:
            started.set()
        time.sleep(seconds)
        return real(*a, **k)

    monkeypatch.setattr(tracking, "ensure_experiment", slow)


def test_the_stage_works_while_its_run_opens_and_the_run_records_it_all(project, monkeypatch):
    _slow_experiment(monkeypatch, 1.5)
    t0 = time.perf_counter()
    with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
        entered = time.perf_counter() - t0
        assert not run._run             # not waited for yet
        run.log_metrics({"passed": 2})  # the first use waits, then logs to the run
        with child_run("inner") as inner:
            inner.log_metrics({"x": 1})
    assert entered < 1.0, f"the stage's body started {entered:.2f} s after stage_run (the opening takes 1.5 s)"
    r = mlflow.get_run(run.run_id)
    assert r.info.status == "FINISHED" and r.data.metrics == {"passed": 2.0}
    assert r.data.params["validate.on_failure"] == "quarantine" and r.data.tags[TAG_STAGE] == STAGE_VALIDATE
    assert r.data.tags["mlflow.runName"] == STAGE_VALIDATE and "mlflow.user" in r.data.tags
    child = mlflow.get_run(inner.run_id)
    assert child.data.tags["mlflow.parentRunId"] == run.run_id


def test_a_stage_that_fails_before_its_run_opened_still_ends_it_failed(project, monkeypatch):
    _slow_experiment(monkeypatch, 1.0)
    with pytest.raises(RuntimeError, match="boom"):
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
            raise RuntimeError("boom")
    r = mlflow.get_run(run.run_id)
    assert r.info.status == "FAILED" and r.data.tags[TAG_ERROR] == "RuntimeError: boom"
    assert mlflow.active_run() is None


def test_a_run_that_cannot_open_fails_the_stage_when_it_ends(project, monkeypatch, caplog):
    def broken(*a, **k):
        raise PermissionError("the store is read-only")

    monkeypatch.setattr(tracking, "ensure_experiment", broken)
    body_ran = []
    with pytest.raises(PermissionError, match="read-only"):
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]):
            body_ran.append(True)
    assert body_ran
    assert "could not be opened" in caplog.text and "read-only" in caplog.text
    assert mlflow.active_run() is None
    # the stage's own error wins over the opening's
    with pytest.raises(ValueError, match="the stage's"):
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]):
            raise ValueError("the stage's")


def test_a_fork_waits_for_a_pending_opening():
    """A process forked while another thread imports can hang on the half-imported module: fork waits first."""
    done = threading.Event()
    Opening(lambda: (time.sleep(1.0), done.set()), "a slow thing")
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    forked_after = done.is_set()
    os.waitpid(pid, 0)
    assert forked_after
    wait_all()


def test_stage_run_activates_in_the_caller_before_other_store_reads(project, monkeypatch):
    """Reading the store (find_runs, active_run) inside a stage first makes the stage's run the active one."""
    _slow_experiment(monkeypatch, 0.5)
    with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
        active = tracking.active_run()
        assert active is not None and active.run_id == run.run_id
