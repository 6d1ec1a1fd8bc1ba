"""A stage's MLflow run is opened when the stage first touches it (tracking/opening.py), dated from the stage's start."""

import sys
import time

import mlflow
import pytest

from brats_mlops import tracking
from brats_mlops.config.schema import parse_params
from brats_mlops.names import EXPERIMENTS, STAGE_VALIDATE, TAG_ERROR, TAG_STAGE
from brats_mlops.tracking import child_run, stage_run


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    return tmp_path


def _runs_of(stage):
    exp = mlflow.get_experiment_by_name(EXPERIMENTS["data"])
    return [] if exp is None else mlflow.search_runs([exp.experiment_id], f"tags.`{TAG_STAGE}` = '{stage}'",
                                                     output_format="list")


def test_the_run_opens_on_first_use_dated_from_the_stages_start_and_records_it_all(project, monkeypatch):
    opened = []
    real = tracking.ensure_experiment
    monkeypatch.setattr(tracking, "ensure_experiment", lambda *a, **k: opened.append(time.time()) or real(*a, **k))
    t0 = time.time()
    with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
        time.sleep(0.3)                  # the stage's work, before it logs anything
        assert not opened and not run._run and not _runs_of(STAGE_VALIDATE)
        run.log_metrics({"passed": 2})   # the first use opens the run and logs to it
        assert len(opened) == 1
        with child_run("inner") as inner:
            inner.log_metrics({"x": 1})
    r = mlflow.get_run(run.run_id)
    assert r.info.status == "FINISHED" and r.data.metrics == {"passed": 2.0}
    assert r.info.start_time >= t0 * 1000 - 1
    assert opened[0] * 1000 - r.info.start_time >= 300, "the run starts when the stage did, not when it opened"
    assert r.data.params["validate.on_failure"] == "quarantine" and r.data.tags[TAG_STAGE] == STAGE_VALIDATE
    assert r.data.tags["mlflow.runName"] == STAGE_VALIDATE and "mlflow.user" in r.data.tags
    assert mlflow.get_run(inner.run_id).data.tags["mlflow.parentRunId"] == run.run_id
    assert len(opened) == 1


def test_a_stage_that_fails_before_touching_its_run_still_has_a_failed_run(project):
    with pytest.raises(RuntimeError, match="boom"):
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
            raise RuntimeError("boom")
    r = mlflow.get_run(run.run_id)
    assert r.info.status == "FAILED" and r.data.tags[TAG_ERROR] == "RuntimeError: boom"
    assert mlflow.active_run() is None


def test_a_run_that_cannot_open_fails_the_stage_with_the_reason_logged(project, monkeypatch, caplog):
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
    with pytest.raises(ValueError, match="the stage's"):   # the stage's own error wins over the opening's
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]):
            raise ValueError("the stage's")
    with pytest.raises(PermissionError):                  # raised where the stage first touches its run
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
            run.log_metrics({"x": 1})


def test_reading_the_store_inside_a_stage_opens_its_run_first(project):
    with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
        active = tracking.active_run()
        assert active is not None and active.run_id == run.run_id


def test_a_stage_starts_its_work_without_importing_mlflow(project, tmp_path):
    """What makes the stage's start cheap: nothing before the first use of its run imports MLflow."""
    import subprocess

    code = ("import sys; from brats_mlops.config.schema import parse_params; from brats_mlops.tracking import stage_run\n"
            "with stage_run('validate', parse_params({}), ['validate']) as run:\n"
            "    print('mlflow' in sys.modules, flush=True)\n"
            "    run.log_metrics({'x': 1})\n"
            "    print('mlflow' in sys.modules, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    assert out.stdout.split() == ["False", "True"]


def test_a_stage_process_says_when_its_work_started_and_tags_its_run(project, tmp_path):
    import os
    import subprocess

    from brats_mlops.names import TAG_STARTUP

    code = ("from brats_mlops.config.schema import parse_params; from brats_mlops.tracking import stage_run\n"
            "from brats_mlops.utils.entry import run_stage\n"
            "def main():\n"
            "    with stage_run('validate', parse_params({}), ['validate']) as run:\n"
            "        print(run.run_id, flush=True)\n"
            "run_stage(main, 'validate')\n")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    assert "stage validate: work starts" in out.stderr
    startup = float(mlflow.MlflowClient(uri).get_run(out.stdout.split()[-1]).data.tags[TAG_STARTUP])
    assert 0 < startup < 120
