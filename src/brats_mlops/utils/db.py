"""Database URLs shared by the tracking server and Optuna storages: a fast reachability check and redaction."""

from __future__ import annotations

import socket
from pathlib import Path

from brats_mlops.errors import UserError


def redact(uri: str) -> str:
    """Hide a password in a database URL (for messages, logs and state files)."""
    if "://" in uri and "@" in uri:
        scheme, rest = uri.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            return f"{scheme}://{cred.split(':', 1)[0]}:***@{host}"
    return uri


def check_database(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, naming host and port (never the password), when a server database cannot be reached or refuses
    the credentials; a SQLite file needs its folder to exist."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except ArgumentError:
        raise UserError(f"not a database URL: {redact(uri)!r} (e.g. sqlite:///path/mlflow.db or "
                        "postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB)") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        folder = Path(url.database or ".").parent
        if url.database and not folder.is_dir():
            raise UserError(f"the SQLite store's folder {folder} does not exist")
        return
    default_ports = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
    host, port = url.host or "localhost", url.port or default_ports.get(backend, 0)
    where = f"{backend} server at {host}:{port} (database {url.database!r}, user {url.username!r})"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise UserError(f"cannot reach the {where} within {timeout:.0f} s: {err.strerror or err}; "
                        "is the database server running and the host/port right?") from None
    import sqlalchemy

    args = {"connect_timeout": int(timeout)} if backend in ("postgresql", "mysql") else {}
    engine = sqlalchemy.create_engine(url, connect_args=args)
    try:
        with engine.connect():
            pass
    except Exception as err:  # driver errors differ; their first line names the problem (no password in it)
        first = (str(getattr(err, "orig", err)).strip().splitlines() or [type(err).__name__])[0]
        if url.password:
            first = first.replace(url.password, "***")
        raise UserError(f"the {where} refused the connection: {first}") from None
    finally:
        engine.dispose()
