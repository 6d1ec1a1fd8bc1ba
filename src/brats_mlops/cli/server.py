"""`brats-mlops server start | status | stop`: the MLflow tracking server."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from brats_mlops.cli.common import console, fail, server_app


@server_app.command("start")
def server_start(
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind: 127.0.0.1 (default, this machine only) or a network address / 0.0.0.0 for a team server, which needs --auth, --allowed-hosts and --cors-allowed-origins.")] = "127.0.0.1",
    allowed_hosts: Annotated[Optional[str], typer.Option("--allowed-hosts", help="Comma-separated Host headers clients use (MLflow's DNS-rebinding protection), e.g. mlflow.lab.org:5000,10.0.0.5:5000.")] = None,
    cors_allowed_origins: Annotated[Optional[str], typer.Option("--cors-allowed-origins", help="Comma-separated web origins allowed to call the API, e.g. https://mlflow.lab.org.")] = None,
    backend_store_uri: Annotated[Optional[str], typer.Option("--backend-store-uri", help="SQLAlchemy URL of the store (default: the project's SQLite store), e.g. postgresql+psycopg2://user:pw@localhost:5432/mlflow")] = None,
    auth: Annotated[bool, typer.Option("--auth", help="Basic auth: anonymous requests refused; admin 'admin' with MLFLOW_AUTH_ADMIN_PASSWORD (>= 12 characters; a new value rotates it); other users get tracking.server_default_permission and create only if tracking.server_users_can_create.")] = False,
) -> None:
    """Start `mlflow server` in the background and wait until it is healthy."""
    from mlflow_server.server import ServerError, start

    try:
        st = start(port, backend_store_uri, auth, host=host, allowed_hosts=allowed_hosts, cors_allowed_origins=cors_allowed_origins)
    except ServerError as err:
        fail(str(err))
    console.print(f"MLflow server on {st['url']} (pid {st['pid']}, store {st['backend_store_uri']}, healthy after {st['startup_s']} s)")
    if auth:
        console.print(f"basic auth: users get {st['default_permission']} by default; "
                      + ("any user may create experiments/models" if st["users_can_create"] else "only admins create experiments/models"))
        if st["admin_password_rotated"]:
            console.print("admin password changed to the value of MLFLOW_AUTH_ADMIN_PASSWORD (the old one no longer works)")
    if not auth:
        try:
            from brats_mlops.tracking import experiment_names, ui_url

            console.print("open (the UI's 'Model training' view):")
            for name, exp_id in experiment_names(st["url"]):
                if name.startswith("brats-"):
                    console.print(f"  {name:<20} {ui_url(st['url'], exp_id)}")
            console.print(f"  registered models    {ui_url(st['url'])}")
        except Exception:  # listing is a convenience; the server is up either way
            pass
    if st.get("host", "127.0.0.1") != "127.0.0.1":
        console.print(f"bound to {st['host']}: other machines use http://<this host's name>:{st['port']} (one of --allowed-hosts)")
    console.print(f"log to it:  export MLFLOW_TRACKING_URI={st['url']}" + ("  (+ MLFLOW_TRACKING_USERNAME/PASSWORD)" if auth else ""))


@server_app.command("status")
def server_status() -> None:
    """Is the server running and healthy?"""
    from mlflow_server.server import status

    st = status()
    if not st["running"]:
        console.print("not running")
        raise typer.Exit(1)
    console.print(f"running: {st['url']} (pid {st['pid']}, store {st['backend_store_uri']}, auth {st['auth']}, healthy {st['healthy']})")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the server (and its workers)."""
    from mlflow_server.server import stop

    console.print("stopped" if stop() else "no server was running")
