import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed: .ci/run installs it (apt-get install -y postgresql); locally run "
                    "`apt-get update && apt-get install -y postgresql`")
    return Path(found[-1]).parent


def postgres_server():
    """Generator: a real PostgreSQL server in a temporary data directory (trust auth, 127.0.0.1 only) with an empty
    database ``mlflow``; yields its URL, stops the server when resumed (also used by bench/bench_scale.py)."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="brats-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_root = os.geteuid() == 0
    if as_root:  # initdb refuses to run as root: use the package's postgres user
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        os.chmod(root, 0o755)

    def run(*cmd):
        full = (["runuser", "-u", "postgres", "--"] if as_root else []) + [str(c) for c in cmd]
        r = subprocess.run(full, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{' '.join(full)}:\n{r.stdout}\n{r.stderr}"

    port = free_port()
    run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
    run(bindir / "pg_ctl", "-D", data, "-w", "-l", root / "pg.log", "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1", "start")
    try:
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "mlflow")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server in a temporary data directory (trust auth, 127.0.0.1 only) and an empty database."""
    yield from postgres_server()
