"""Run the MLflow tracking server for the project: start (and wait until healthy), status, stop.

    brats-mlops server start [--port 5000] [--backend-store-uri URI] [--auth]
    brats-mlops server status
    brats-mlops server stop

* Binds 127.0.0.1 only. Backend store: the project's embedded SQLite store (``sqlite:///<root>/mlflow.db``)
  by default, or any SQLAlchemy URL — e.g. PostgreSQL: ``--backend-store-uri
  postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB`` (the database must exist; MLflow creates its tables).
* Artifacts are proxied by the server (``--serve-artifacts``) into ``<root>/mlartifacts``: clients need only the URL.
* ``--auth`` runs MLflow's basic-auth app (``--app-name basic-auth``): anonymous requests are refused, users have
  READ by default, the admin user is ``admin`` with the password from ``MLFLOW_AUTH_ADMIN_PASSWORD`` (required).
  Clients authenticate with ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``.
* State (PID, URL, log) lives in ``<root>/.mlflow_server/``; ``stop`` terminates the whole process group
  (uvicorn workers included).

Stages log to the server whenever ``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>`` is set.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from brats_mlops.config.schema import load_params
from brats_mlops.tracking import real_project_root, tracking_uri


class ServerError(RuntimeError):
    pass


def state_dir(root: Path | None = None) -> Path:
    return (root or real_project_root()) / ".mlflow_server"


def _read_state(root: Path | None) -> dict[str, Any] | None:
    p = state_dir(root) / "server.json"
    return json.loads(p.read_text()) if p.is_file() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def status(root: Path | None = None) -> dict[str, Any]:
    st = _read_state(root)
    if not st:
        return {"running": False}
    running = _alive(st["pid"])
    return {**st, "running": running, "healthy": running and healthy(st["url"])}


def start(port: int = 5000, backend_store_uri: str | None = None, auth: bool = False, root: Path | None = None,
          timeout: float = 120.0, workers: int = 1) -> dict[str, Any]:
    """Start the server in the background and wait until ``/health`` answers; returns its state."""
    root = root or real_project_root()
    st = status(root)
    if st.get("running"):
        raise ServerError(f"a server is already running (pid {st['pid']}, {st['url']}); `brats-mlops server stop` first")
    if st.get("pid"):
        (state_dir(root) / "server.json").unlink(missing_ok=True)  # stale state of a dead server
    backend = backend_store_uri or tracking_uri(load_params(root / "params.yaml"))
    if backend.startswith("http"):
        raise ServerError(f"the backend store must be a database URL, not {backend!r} (unset MLFLOW_TRACKING_URI or pass --backend-store-uri)")
    sd = state_dir(root)
    sd.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    if healthy(url, 1.0):
        raise ServerError(f"port {port} already serves something that answers /health; choose another --port")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend, "--host", "127.0.0.1", "--port", str(port),
           "--serve-artifacts", "--artifacts-destination", str(root / "mlartifacts"), "--workers", str(workers)]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    if auth:
        if not env.get("MLFLOW_AUTH_ADMIN_PASSWORD"):
            raise ServerError("--auth needs MLFLOW_AUTH_ADMIN_PASSWORD (the admin user's password) in the environment")
        ini = sd / "basic_auth.ini"
        ini.write_text("[mlflow]\ndefault_permission = READ\n"
                       f"database_uri = sqlite:///{sd / 'basic_auth.db'}\nadmin_username = admin\n"
                       "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(16))
        cmd += ["--app-name", "basic-auth"]
    log_path = sd / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    state = {"pid": proc.pid, "url": url, "port": port, "backend_store_uri": _redact(backend), "auth": auth,
             "artifacts": str(root / "mlartifacts"), "log": str(log_path), "started": time.time()}
    (sd / "server.json").write_text(json.dumps(state, indent=1))
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            (sd / "server.json").unlink(missing_ok=True)
            raise ServerError(f"mlflow server exited with code {proc.returncode} during start-up; last lines of {log_path}:\n"
                              + "\n".join(log_path.read_text(errors="replace").splitlines()[-15:]))
        if healthy(url):
            state["startup_s"] = round(time.time() - t0, 1)
            (sd / "server.json").write_text(json.dumps(state, indent=1))
            return state
        time.sleep(0.5)
    stop(root)
    raise ServerError(f"mlflow server did not become healthy within {timeout:.0f} s; see {log_path}")


def _redact(uri: str) -> str:
    """Hide a password in a database URL before it is written to the state file."""
    if "://" in uri and "@" in uri:
        scheme, rest = uri.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return uri


def stop(root: Path | None = None, timeout: float = 20.0) -> bool:
    """Stop the server's whole process group (TERM, then KILL after ``timeout``). False if none was running."""
    st = _read_state(root)
    if not st:
        return False
    pid = st["pid"]
    was = _alive(pid)
    if was:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        t0 = time.time()
        while _alive(pid) and time.time() - t0 < timeout:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    (state_dir(root) / "server.json").unlink(missing_ok=True)
    return was
