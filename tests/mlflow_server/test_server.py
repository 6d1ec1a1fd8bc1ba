import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest

from brats_mlops.config.schema import Params
from brats_mlops.names import STAGE_SPLIT
from brats_mlops.tracking import stage_run
from mlflow_server.server import ServerError, start, status, stop
from tests.mlflow_server.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("server")]


def _stage_logs_through(url: str, tmp_path: Path, monkeypatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    f = tmp_path / "note.txt"
    f.write_text("hello")
    with stage_run(STAGE_SPLIT, Params(), ["split"]) as run:
        run.log_metrics({"x": 1.0})
        run.log_artifact(f, "notes")
    return run.run_id


def test_start_status_log_stop_with_the_sqlite_store(tmp_path, monkeypatch):
    port = free_port()
    st = start(port, f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    try:
        assert status(tmp_path)["healthy"] and json.loads((tmp_path / ".mlflow_server" / "server.json").read_text())["pid"] == st["pid"]
        with pytest.raises(ServerError, match="already running"):
            start(port, f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
        run_id = _stage_logs_through(st["url"], tmp_path, monkeypatch)
        run = mlflow.tracking.MlflowClient(st["url"]).get_run(run_id)
        assert run.data.metrics["x"] == 1.0 and run.info.status == "FINISHED"
        # artifacts are proxied by the server into <root>/mlartifacts
        assert list((tmp_path / "mlartifacts").rglob("note.txt"))
    finally:
        assert stop(tmp_path)
    assert not status(tmp_path)["running"]
    assert not stop(tmp_path)


def test_postgresql_backend(postgres_url, tmp_path, monkeypatch):
    st = start(free_port(), postgres_url, root=tmp_path)
    try:
        assert "postgresql" in st["backend_store_uri"]
        run_id = _stage_logs_through(st["url"], tmp_path, monkeypatch)
        assert mlflow.tracking.MlflowClient(st["url"]).get_run(run_id).data.metrics["x"] == 1.0
    finally:
        stop(tmp_path)
    # the run is in PostgreSQL itself
    import sqlalchemy

    with sqlalchemy.create_engine(postgres_url).connect() as c:
        assert c.execute(sqlalchemy.text("select count(*) from runs where run_uuid = :r"), {"r": run_id}).scalar() == 1


def test_basic_auth_refuses_anonymous_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "s3cret-Pa55word")
    st = start(free_port(), f"sqlite:///{tmp_path / 'mlflow.db'}", auth=True, root=tmp_path)
    try:
        body = json.dumps({"name": "anon"}).encode()
        req = urllib.request.Request(f"{st['url']}/api/2.0/mlflow/experiments/create", data=body,
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 401
        token = base64.b64encode(b"admin:s3cret-Pa55word").decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-Pa55word")
        _stage_logs_through(st["url"], tmp_path, monkeypatch)
    finally:
        stop(tmp_path)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD")
    with pytest.raises(ServerError, match="MLFLOW_AUTH_ADMIN_PASSWORD"):
        start(free_port(), f"sqlite:///{tmp_path / 'x.db'}", auth=True, root=tmp_path)
