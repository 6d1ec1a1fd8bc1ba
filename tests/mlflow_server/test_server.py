import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest

from brats_mlops.config.schema import Params
from brats_mlops.names import STAGE_SPLIT
from brats_mlops.tracking import stage_run
from mlflow_server.server import ServerError, healthy, start, status, stop
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
        # no GenAI job runner: MLflow 3 starts one with ~8 Huey consumer processes by default (BENCHMARKS.md)
        import psutil

        tree = [" ".join(c.cmdline()) for c in psutil.Process(st["pid"]).children(recursive=True)]
        assert tree and not [c for c in tree if "huey" in c or "_job_runner" in c], tree
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


def _process_args() -> str:
    """Every process's command line, as `ps -eo args` shows them to any local user (read from /proc directly)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                out.append((d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return "\n".join(out)


def test_postgresql_backend(postgres_url, tmp_path, monkeypatch):
    secret = "Hunter2-db-Secret"  # trust auth accepts any password: it must still never show up
    with_pw = postgres_url.replace("postgres@", f"postgres:{secret}@")
    st = start(free_port(), with_pw, root=tmp_path)
    try:
        assert "postgresql" in st["backend_store_uri"] and secret not in st["backend_store_uri"]
        run_id = _stage_logs_through(st["url"], tmp_path, monkeypatch)
        assert mlflow.tracking.MlflowClient(st["url"]).get_run(run_id).data.metrics["x"] == 1.0
        assert "mlflow" in _process_args() and secret not in _process_args()  # not on any command line (ps)
        sd = tmp_path / ".mlflow_server"
        assert all(secret not in f.read_text(errors="replace") for f in sd.iterdir())
    finally:
        stop(tmp_path)
    # the run is in PostgreSQL itself
    import sqlalchemy

    with sqlalchemy.create_engine(postgres_url).connect() as c:
        assert c.execute(sqlalchemy.text("select count(*) from runs where run_uuid = :r"), {"r": run_id}).scalar() == 1


def test_unreachable_or_refusing_database_is_one_clear_error_fast(postgres_url, tmp_path):
    port = free_port()  # nothing listens there
    t0 = time.time()
    with pytest.raises(ServerError, match=f"cannot reach the postgresql server at 127.0.0.1:{port}") as e:
        start(free_port(), f"postgresql+psycopg2://bob:Pw-Not-Shown-123@127.0.0.1:{port}/mlflow", root=tmp_path)
    assert time.time() - t0 < 15 and "Pw-Not-Shown-123" not in str(e.value)
    with pytest.raises(ServerError, match="refused the connection.*nosuchdb") as e:
        start(free_port(), postgres_url.rsplit("/", 1)[0] + "/nosuchdb", root=tmp_path)
    with pytest.raises(ServerError, match="not a database URL"):
        start(free_port(), "not a url", root=tmp_path)
    assert not status(tmp_path)["running"]


# a ceiling, not a timing: an auth server's first request hashes passwords and opens its databases, which took more than
# 10 s on a busy 2-core machine (a test must not fail because the machine is busy)
REQUEST_TIMEOUT = 120


def _request(url: str, path: str, body: dict | None = None, user: tuple[str, str] | None = None) -> int:
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    if user:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_auth_files_private_rotation_weak_password_and_team_policy(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "short")
    with pytest.raises(ServerError, match="too weak.*at least 12 characters"):
        start(free_port(), db, auth=True, root=tmp_path)
    old, new = ("first-Admin-pw-1", "second-Admin-pw-2")
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", old)
    st = start(free_port(), db, auth=True, root=tmp_path)
    try:
        url = st["url"]
        assert not st["admin_password_rotated"] and st["default_permission"] == "READ"
        assert _request(url, "/api/2.0/mlflow/experiments/create", {"name": "by-admin"}, ("admin", old)) == 200
        assert _request(url, "/api/2.0/mlflow/users/create", {"username": "alice", "password": "alice-Pass-1234"},
                        ("admin", old)) == 200
        alice = ("alice", "alice-Pass-1234")
        # a team member reads but does not create (tracking.server_users_can_create: false)
        assert _request(url, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=by-admin", user=alice) == 200
        assert _request(url, "/api/2.0/mlflow/experiments/create", {"name": "by-alice"}, alice) == 403
        assert _request(url, "/api/2.0/mlflow/registered-models/create", {"name": "m"}, alice) == 403
        assert _request(url, "/api/2.0/mlflow/experiments/create", {"name": "anon"}) == 401
    finally:
        stop(tmp_path)
    sd = tmp_path / ".mlflow_server"
    assert sd.stat().st_mode & 0o777 == 0o700
    for name in ("basic_auth.db", "basic_auth.ini", "server.log"):
        assert (sd / name).stat().st_mode & 0o777 == 0o600, name
    # restart with a new admin password: applied, the old one no longer works
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", new)
    st = start(free_port(), db, auth=True, root=tmp_path)
    try:
        assert st["admin_password_rotated"]
        assert _request(st["url"], "/api/2.0/mlflow/experiments/create", {"name": "x2"}, ("admin", new)) == 200
        assert _request(st["url"], "/api/2.0/mlflow/experiments/create", {"name": "x3"}, ("admin", old)) == 401
    finally:
        stop(tmp_path)


def test_basic_auth_refuses_anonymous_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "s3cret-Pa55word")
    st = start(free_port(), f"sqlite:///{tmp_path / 'mlflow.db'}", auth=True, root=tmp_path)
    try:
        body = json.dumps({"name": "anon"}).encode()
        req = urllib.request.Request(f"{st['url']}/api/2.0/mlflow/experiments/create", data=body,
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT)
        assert e.value.code == 401
        token = base64.b64encode(b"admin:s3cret-Pa55word").decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as r:
            assert r.status == 200
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-Pa55word")
        _stage_logs_through(st["url"], tmp_path, monkeypatch)
    finally:
        stop(tmp_path)
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD")
    with pytest.raises(ServerError, match="MLFLOW_AUTH_ADMIN_PASSWORD"):
        start(free_port(), f"sqlite:///{tmp_path / 'x.db'}", auth=True, root=tmp_path)


@pytest.mark.parametrize("kw, missing", [
    ({}, "--auth"),
    ({"auth": True}, "--allowed-hosts"),
    ({"auth": True, "allowed_hosts": "mlflow.lab.org:5000"}, "--cors-allowed-origins"),
    ({"auth": True, "allowed_hosts": "*", "cors_allowed_origins": "https://mlflow.lab.org"}, "--allowed-hosts without '*'"),
])
def test_a_network_server_without_protection_is_refused(tmp_path, kw, missing):
    for host in ("0.0.0.0", "10.1.2.3"):
        with pytest.raises(ServerError, match="refusing to serve") as e:
            start(free_port(), f"sqlite:///{tmp_path / 'mlflow.db'}", host=host, root=tmp_path, **kw)
        assert missing in str(e.value)
    assert not (tmp_path / ".mlflow_server" / "server.json").exists()    # nothing was started


def test_team_server_on_all_interfaces_with_auth_and_host_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "s3cret-Pa55word")
    port = free_port()
    st = start(port, f"sqlite:///{tmp_path / 'mlflow.db'}", auth=True, root=tmp_path, host="0.0.0.0",
               allowed_hosts="mlflow.lab.org", cors_allowed_origins="https://mlflow.lab.org")
    try:
        assert st["host"] == "0.0.0.0" and healthy(st["url"])
        token = base64.b64encode(b"admin:s3cret-Pa55word").decode()

        def get(host_header: str) -> int:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1",
                                         headers={"Host": host_header, "Authorization": f"Basic {token}"})
            try:
                with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as r:
                    return r.status
            except urllib.error.HTTPError as err:
                return err.code

        assert get("mlflow.lab.org") == 200
        assert get("evil.example.com") in (400, 403)                      # DNS rebinding: a foreign Host is rejected
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")             # credentials from the environment only
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-Pa55word")
        _stage_logs_through(st["url"], tmp_path, monkeypatch)
    finally:
        stop(tmp_path)
