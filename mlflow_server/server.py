"""Run the MLflow tracking server for the project: start (and wait until healthy), status, stop.

    brats-mlops server start [--port 5000] [--backend-store-uri URI] [--auth]
    brats-mlops server status
    brats-mlops server stop

* Binds 127.0.0.1 by default. A team server (``--host 0.0.0.0`` or any non-loopback address) is refused unless
  basic auth is on (``--auth``) and MLflow's DNS-rebinding and CORS protections name the hosts and origins
  clients use (``--allowed-hosts``, ``--cors-allowed-origins``; no ``*``): an open tracking server on a network
  lets anyone read or overwrite runs and registered models. ``127.0.0.1:<port>`` and ``localhost:<port>`` are
  always allowed hosts (the health check and local stages use them). Backend store: the project's embedded SQLite store (``sqlite:///<root>/mlflow.db``)
  by default, or any SQLAlchemy URL — e.g. PostgreSQL: ``--backend-store-uri
  postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB`` (the database must exist; MLflow creates its tables).
* Artifacts are proxied by the server (``--serve-artifacts``) into ``<root>/mlartifacts``: clients need only the URL.
* ``--auth`` runs MLflow's basic-auth app with the team policy of ``auth_app`` (``--app-name brats-auth``):
  anonymous requests are refused; authenticated users get ``tracking.server_default_permission`` (READ by default)
  on existing experiments and models and may create new ones only if ``tracking.server_users_can_create`` (false by
  default: only admins create). The admin user is ``admin`` with the password from ``MLFLOW_AUTH_ADMIN_PASSWORD``
  (required, >= 12 characters); a new value on a later start rotates the stored password. Clients authenticate
  with ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``.
* A server database (PostgreSQL, MySQL) is checked before start-up: unreachable host/port or refused credentials
  are one error naming host, port, database and user (never the password) within a few seconds.
* No secret on a command line: the backend URI goes to ``mlflow server`` in its environment; the state directory
  is 0700 and the files in it (auth database with password hashes, auth config, log, state) are 0600.
* No GenAI job runner: MLflow 3's server starts a job runner with about eight Huey consumer processes for its GenAI
  features (judges, scorers, trace roll-ups), which this platform does not use: measured 10 processes, 26–35 s of CPU
  and 1.7–1.9 GB per start, against 2 processes, 11–12 s and 0.5 GB without (BENCHMARKS.md "Stage start-up"). Set
  ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true`` in the environment to have it.
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

from brats_mlops.config.schema import Params, load_params
from brats_mlops.errors import UserError
from brats_mlops.utils.db import check_database, redact
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


LOOPBACK = ("127.0.0.1", "localhost", "::1")
NO_JOB_RUNNER = ("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")   # the module docstring says why; the environment wins


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def network_options(host: str, port: int, auth: bool, allowed_hosts: str | None, cors_allowed_origins: str | None) -> list[str]:
    """``mlflow server`` options for ``host``; a non-loopback host without auth, allowed hosts and CORS origins is refused."""
    if is_loopback(host):
        return ["--host", host]
    missing = [what for what, ok in (("--auth (basic auth)", auth), ("--allowed-hosts (the Host names clients use)", allowed_hosts),
                                     ("--cors-allowed-origins (the web origins allowed to call the API)", cors_allowed_origins)) if not ok]
    wild = [name for name, v in (("--allowed-hosts", allowed_hosts), ("--cors-allowed-origins", cors_allowed_origins)) if v and "*" in v]
    if missing or wild:
        raise ServerError(f"refusing to serve the tracking store on {host} (reachable from the network) without "
                          + "; ".join(missing + [f"{w} without '*'" for w in wild])
                          + ". A team server: brats-mlops server start --host 0.0.0.0 --auth --allowed-hosts mlflow.lab.org:5000 "
                            "--cors-allowed-origins https://mlflow.lab.org (MLFLOW_AUTH_ADMIN_PASSWORD in the environment)")
    hosts = ",".join(dict.fromkeys([*(h.strip() for h in allowed_hosts.split(",") if h.strip()), f"127.0.0.1:{port}", f"localhost:{port}"]))
    return ["--host", host, "--allowed-hosts", hosts, "--cors-allowed-origins", cors_allowed_origins]


def start(port: int = 5000, backend_store_uri: str | None = None, auth: bool = False, root: Path | None = None,
          timeout: float = 120.0, workers: int = 1, host: str = "127.0.0.1", allowed_hosts: str | None = None,
          cors_allowed_origins: str | None = None) -> dict[str, Any]:
    """Start the server in the background and wait until ``/health`` answers; returns its state.

    Secrets stay off command lines and out of world-readable files: the backend URI reaches ``mlflow server``
    through its environment (``MLFLOW_BACKEND_STORE_URI``; ``/proc/<pid>/environ`` is readable by the owner only),
    the state directory is 0700 and everything the server writes into it is 0600 (umask 077)."""
    root = root or real_project_root()
    net = network_options(host, port, auth, allowed_hosts, cors_allowed_origins)   # refuse an open team server first
    st = status(root)
    if st.get("running"):
        raise ServerError(f"a server is already running (pid {st['pid']}, {st['url']}); `brats-mlops server stop` first")
    if st.get("pid"):
        (state_dir(root) / "server.json").unlink(missing_ok=True)  # stale state of a dead server
    has_params = (root / "params.yaml").is_file() or not backend_store_uri  # a bare store needs no project
    params = load_params(root / "params.yaml") if has_params else Params()
    backend = backend_store_uri or tracking_uri(params)
    if backend.startswith("http"):
        raise ServerError(f"the backend store must be a database URL, not {backend!r} (unset MLFLOW_TRACKING_URI or pass --backend-store-uri)")
    try:
        check_database(backend)
    except UserError as err:
        raise ServerError(str(err)) from None
    sd = _private_dir(state_dir(root))
    url = f"http://127.0.0.1:{port}"
    if healthy(url, 1.0):
        raise ServerError(f"port {port} already serves something that answers /health; choose another --port")
    cmd = [sys.executable, "-m", "mlflow", "server", *net, "--port", str(port),
           "--serve-artifacts", "--artifacts-destination", str(root / "mlartifacts"), "--workers", str(workers)]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_BACKEND_STORE_URI": backend}
    env.setdefault(*NO_JOB_RUNNER)
    env.pop("MLFLOW_TRACKING_URI", None)
    rotated = False
    if auth:
        rotated = _prepare_auth(sd, env, params)
        cmd += ["--app-name", "brats-auth"]
    log_path = sd / "server.log"
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True,
                                umask=0o077)
    state = {"pid": proc.pid, "url": url, "port": port, "host": host, "backend_store_uri": redact(backend), "auth": auth,
             "artifacts": str(root / "mlartifacts"), "log": str(log_path), "started": time.time()}
    if auth:
        state |= {"admin_password_rotated": rotated, "default_permission": params.tracking.server_default_permission,
                  "users_can_create": params.tracking.server_users_can_create}
    _write_private(sd / "server.json", json.dumps(state, indent=1))
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            (sd / "server.json").unlink(missing_ok=True)
            raise ServerError(f"mlflow server exited with code {proc.returncode} during start-up; last lines of {log_path}:\n"
                              + "\n".join(log_path.read_text(errors="replace").splitlines()[-15:]))
        if healthy(url):
            state["startup_s"] = round(time.time() - t0, 1)
            _write_private(sd / "server.json", json.dumps(state, indent=1))
            return state
        time.sleep(0.5)
    stop(root)
    raise ServerError(f"mlflow server did not become healthy within {timeout:.0f} s; see {log_path}")


def _private_dir(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    for f in d.iterdir():  # files of an older version of this module may have been created 0644
        if f.is_file():
            os.chmod(f, 0o600)
    return d


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


ADMIN = "admin"


def _prepare_auth(sd: Path, env: dict[str, str], params) -> bool:
    """Check the admin password, write the auth config (0600) and apply a password rotation.

    Returns True when an existing admin user's password was changed to ``MLFLOW_AUTH_ADMIN_PASSWORD`` (MLflow itself
    only reads that variable when it creates the admin user, so a new value would otherwise be silently ignored)."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_password

    password = env.get("MLFLOW_AUTH_ADMIN_PASSWORD")
    if not password:
        raise ServerError("--auth needs MLFLOW_AUTH_ADMIN_PASSWORD (the admin user's password) in the environment")
    try:
        _validate_password(password)
    except MlflowException as err:
        raise ServerError(f"MLFLOW_AUTH_ADMIN_PASSWORD is too weak: {err.message}") from None
    db = sd / "basic_auth.db"
    ini = sd / "basic_auth.ini"
    _write_private(ini, f"[mlflow]\ndefault_permission = {params.tracking.server_default_permission}\n"
                        f"database_uri = sqlite:///{db}\nadmin_username = {ADMIN}\n"
                        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
    env["BRATS_AUTH_USERS_CAN_CREATE"] = str(params.tracking.server_users_can_create).lower()
    env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(16))
    rotated = False
    if db.is_file():
        from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore()
        store.init_db(f"sqlite:///{db}")
        if store.has_user(ADMIN, use_primary=True) and not store.authenticate_user(ADMIN, password, use_primary=True):
            store.update_user(ADMIN, password=password)
            rotated = True
        store.engine.dispose()
        os.chmod(db, 0o600)
    return rotated


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
