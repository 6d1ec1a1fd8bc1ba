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


def test_stage_runs_tell_the_story_in_the_ui_datasets_descriptions_links(tmp_path, monkeypatch):
    """What the MLflow UI shows (issue 27): the DVC-versioned data a stage read as MLflow dataset inputs (name = its path,
    digest = its DVC hash), the experiment's description, the run's description with its key figures, data, commit
    and a link to the run of the stage that produced its input (from dvc.lock), and nested runs that name their parent."""
    from mlflow.tracking import MlflowClient

    from brats_mlops.names import STAGE_PREPROCESS, STAGE_SPLIT, TAG_DATA_HASH_PREFIX
    from brats_mlops.tracking import child_run
    from brats_mlops.tracking.story import NOTE
    from brats_mlops.utils.hashing import content_hash

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    (tmp_path / "data" / "pre").mkdir(parents=True)
    (tmp_path / "data" / "pre" / "a.npy").write_bytes(b"abc")
    (tmp_path / "raw.txt").write_text("raw")
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  preprocess:\n    cmd: python -m pipelines.preprocess\n"
                                       "    outs:\n    - path: data/pre\n      md5: x.dir\n")
    params = parse_params({})
    with stage_run(STAGE_PREPROCESS, params, ["preprocess"], deps=["raw.txt"]) as pre:
        pre.log_metrics({"cases": 4})
    with stage_run(STAGE_SPLIT, params, ["split"], deps=["data/pre"]) as run:
        run.log_metrics({"n_train": 3, "quarantined": 0})
        run.describe("3 training cases.")
        with child_run("fold 0") as child:
            pass
    client = MlflowClient()
    r = client.get_run(run.run_id)
    digest = content_hash(tmp_path / "data" / "pre")
    assert r.data.tags[f"{TAG_DATA_HASH_PREFIX}data/pre"] == digest and digest.endswith(".dir")
    inputs = r.inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("data/pre", digest)]
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "split"
    note = r.data.tags[NOTE]
    assert "DVC stage `split`" in note and "| `quarantined` | 0 |" in note and "3 training cases." in note
    assert f"`data/pre` (`{digest[:12]}`)" in note and "dvc repro split" in note
    assert f"[preprocess](#/experiments/{pre.run.info.experiment_id}/runs/{pre.run_id})" in note
    exp = client.get_experiment(r.info.experiment_id)
    assert "Data stages of the BraTS pipeline" in exp.tags[NOTE]
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    kid = client.get_run(child.run_id).data.tags[NOTE]
    assert kid.startswith("`fold 0`: one part of the [`split`]") and run.run_id in kid
    # runs can be found by the data they read
    found = client.search_runs([r.info.experiment_id], f"dataset.digest = '{digest}'")
    assert [x.info.run_id for x in found] == [run.run_id]


def test_a_run_is_dirty_for_changed_code_or_params_not_for_what_dvc_repro_rewrites(tmp_path):
    """`dvc repro` rewrites dvc.lock and the git-tracked metrics after each stage: the later stages' runs must not say
    "uncommitted changes" because of that; a changed source or params file still does."""
    import subprocess

    from brats_mlops.tracking import git_commit

    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "metrics").mkdir()
    for f, text in {"params.yaml": "{}", "metrics/seg.json": "{}", "code.py": "x = 1",
                    "dvc.lock": "schema: '2.0'\nstages:\n  evaluate:\n    outs:\n    - path: metrics/seg.json\n      md5: a\n"}.items():
        (tmp_path / f).write_text(text)
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    assert git_commit(tmp_path)[1] is False
    (tmp_path / "metrics" / "seg.json").write_text('{"dice": 1}')
    (tmp_path / "dvc.lock").write_text((tmp_path / "dvc.lock").read_text() + "\n")
    sha, dirty = git_commit(tmp_path)
    assert len(sha) == 40 and dirty is False
    (tmp_path / "code.py").write_text("x = 2")
    assert git_commit(tmp_path)[1] is True


def test_make_ui_prints_each_experiments_runs_in_the_model_training_view(tmp_path, monkeypatch, capsys):
    """`make ui` (mlflow_server/ui.py) prints the URLs that open the runs in MLflow 3's "Model training" view (its
    default is the GenAI view); then it execs `mlflow ui` (replaced here)."""
    import os

    from mlflow_server import ui

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with stage_run(STAGE_VALIDATE, parse_params({}), ["validate"]):
        pass
    exp_id = mlflow.get_experiment_by_name(EXPERIMENTS["data"]).experiment_id
    monkeypatch.setattr(os, "execvpe", lambda *a: None)
    ui.main(["--port", "5123"])
    out = capsys.readouterr().out
    assert f"brats-data           http://127.0.0.1:5123/#/experiments/{exp_id}/runs?workflowType=machine_learning" in out
    assert "registered models    http://127.0.0.1:5123/#/models?workflowType=machine_learning" in out
