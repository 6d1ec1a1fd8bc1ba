import mlflow
import pytest

from brats_mlops.config.schema import parse_params
from brats_mlops.names import EXPERIMENTS, STAGE_VALIDATE, TAG_DATA_HASH_PREFIX, TAG_ERROR, TAG_GIT_COMMIT
from brats_mlops.tracking import flatten, real_project_root, stage_run, tracking_uri


def test_root_resolves_past_dvc_temp_copies(tmp_path):
    real = tmp_path / "proj"
    temp = real / ".dvc" / "tmp" / "exps" / "tmpab12"
    temp.mkdir(parents=True)
    (real / "params.yaml").write_text("{}")
    (temp / "params.yaml").write_text("{}")
    assert real_project_root(temp) == real
    assert real_project_root(real) == real


def test_tracking_uri_default_env_and_params(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("{}")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = parse_params({"tracking": {"uri": "sqlite:///elsewhere.db"}})
    assert tracking_uri(p, tmp_path) == f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(p, tmp_path) == "http://127.0.0.1:5000"


def test_flatten():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": 1, "a.c": "1,2", "d": None}


def test_stage_run_logs_params_lineage_metrics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    dep = tmp_path / "dep.txt"
    dep.write_text("hello")
    params = parse_params({})
    with stage_run(STAGE_VALIDATE, params, ["validate"], deps=[dep]) as run:
        run.log_metrics({"passed": 3, "failures": {"x": 1}, "name": "not a number"})
    r = mlflow.get_run(run.run_id)
    assert r.info.status == "FINISHED"
    assert r.data.params["validate.on_failure"] == "quarantine"
    assert r.data.metrics == {"passed": 3.0, "failures.x": 1.0}
    assert r.data.tags[f"{TAG_DATA_HASH_PREFIX}{dep.as_posix()}"] == "5d41402abc4b2a76b9719d911017c592"
    assert TAG_GIT_COMMIT in r.data.tags
    assert mlflow.get_experiment(r.info.experiment_id).name == EXPERIMENTS["data"]


def test_stage_run_failed_on_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    with pytest.raises(RuntimeError, match="boom"):
        with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]) as run:
            raise RuntimeError("boom")
    r = mlflow.get_run(run.run_id)
    assert r.info.status == "FAILED" and r.data.tags[TAG_ERROR] == "RuntimeError: boom"
