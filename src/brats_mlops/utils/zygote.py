"""A warm process that starts DVC stages with torch and MONAI already imported (issue 26: stage start-up).

    python -m brats_mlops.utils.zygote start     # in the project root; `make run` does this around `dvc repro`
    python -m brats_mlops.utils.zygote status
    python -m brats_mlops.utils.zygote stop
    python -m brats_mlops.utils.zygote serve     # in the foreground (python -m brats_mlops.utils.zygote_server)

``import torch`` and the MONAI modules the stages use cost 2-4 s in every stage process here, before the stage can do
anything. The *zygote* (the name of Android's process that forks apps with the framework loaded; Python's
``multiprocessing`` forkserver with preloaded modules is the same idea) imports them once, then waits on a Unix socket,
``.brats/zygote.sock`` in the project root. ``python -m pipelines.<stage>`` — what ``dvc.yaml`` runs — asks it first
(``pipelines/__init__.py`` calls :func:`run_in_zygote`): the zygote forks, the fork takes over the client's
stdin/stdout/stderr (passed over the socket), working directory, environment, ``sys.path``, arguments and signal
dispositions, and runs the stage module as ``__main__`` exactly as ``python -m`` does. The client waits, forwards the
signals it gets (Ctrl-C, a kill by DVC), and exits with the stage's status, or dies of the stage's signal.

It is never required and never changes a result. The client runs the stage itself, in its own process as always, with
one line on stderr saying why, whenever the zygote cannot stand in for a fresh interpreter: none running, an
interpreter option (``python -X importtime -m ...``), another Python or ``sys.path``, or an environment that differs
in a variable other than the few that differ between any two commands (``DVC_*``, ``PWD``, make's own, ...). The
zygote imports only third-party libraries and the project's ``brats_mlops/__init__`` (which sets the numerics
environment they read when they load) and this module; before each fork it checks that none of the project's files it
imported and none of the site-packages folders changed since, and if one did it answers "stale" and re-executes
itself. Libraries that start threads at import are not preloaded unless their threads are known to survive a fork
(OpenBLAS stops its pool before a fork): pandas/pyarrow (jemalloc), blosc2, scikit-learn and MLflow are imported by
the stage as before. ``random`` reseeds after a fork by itself; NumPy's global generator and torch's default one (which
torch 2.13 seeds from the OS in every process) are reseeded from the OS, as in a fresh process (tested).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

SOCKET = Path(".brats") / "zygote.sock"          # relative to the project root (the stages' working directory)
LOG = Path(".brats") / "zygote.log"
ENV = "BRATS_ZYGOTE"                              # "0"/"off": never use one; a path: that socket
PRELOAD_ENV = "BRATS_ZYGOTE_PRELOAD"              # more modules for the zygote to import, comma-separated
PRELOAD = ("numpy", "scipy.ndimage", "torch", "monai.networks.nets", "monai.losses", "monai.inferers", "monai.metrics",
           "nibabel", "matplotlib.pyplot", "torchio", "yaml")
# Variables allowed to differ between the zygote's environment and a stage's: set per command, read by none of the
# preloaded libraries at import. The stage gets its own values all the same (the whole environment is replaced).
VOLATILE = {"PWD", "OLDPWD", "SHLVL", "_", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKE_TERMOUT", "MAKE_TERMERR",
            "COLUMNS", "LINES", "TERM", "PS1"}
VOLATILE_PREFIXES = ("DVC_", "MLFLOW_", "GIT_", "BRATS_")
NOT_VOLATILE = {"BRATS_MONAI_FULL_IMPORT"}        # read when MONAI is imported
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
CHILD = False                                     # True in a stage process the zygote forked
READY_TIMEOUT = 120.0                             # seconds a client waits for a zygote still importing


# ----------------------------------------------------------------------------------------------------------- client

def _socket_path() -> str | None:
    setting = os.environ.get(ENV, "")
    if setting.lower() in ("0", "off", "no", "false"):
        return None
    if setting:
        return setting
    return str(SOCKET) if SOCKET.exists() else None


def _boot_time_started() -> float | None:
    from brats_mlops.utils.entry import process_age

    age = process_age()
    return None if age is None else time.clock_gettime(time.CLOCK_BOOTTIME) - age


def _send(sock: socket.socket, msg: dict, fds: list[int] | None = None) -> None:
    data = (json.dumps(msg) + "\n").encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


class _Lines:
    """Newline-delimited JSON messages from a stream socket (the first may carry file descriptors)."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buf, self.fds = sock, b"", []

    def read(self, with_fds: bool = False) -> dict | None:
        while b"\n" not in self.buf:
            if with_fds:
                chunk, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 8)
                self.fds += fds
            else:
                chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def _request() -> dict | None:
    """What the zygote needs to stand in for this process (`python -m <module> args...`); None: not such a process."""
    argv = list(getattr(sys, "orig_argv", []))
    if len(argv) < 3 or argv[1] != "-m":       # an interpreter option: run here, as asked
        return None
    ignored = [int(s) for s in FORWARDED if signal.getsignal(s) == signal.SIG_IGN]
    umask = os.umask(0o022)
    os.umask(umask)
    return {"module": argv[2], "args": argv[3:], "orig_argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
            "path": list(sys.path), "executable": sys.executable, "flags": list(sys.flags), "umask": umask,
            "ignored": ignored, "started": _boot_time_started(), "init": sys.modules["brats_mlops"].__file__,
            "stdio": [[s.encoding, s.errors] if s is not None else None for s in (sys.stdin, sys.stdout, sys.stderr)]}


def run_in_zygote() -> None:
    """Run this ``python -m`` process's module in the project's zygote and exit with its status; return (having
    said why on stderr when a zygote was there) if it cannot, and the caller goes on in this process."""
    path = None if CHILD else _socket_path()
    req = _request() if path else None
    if req is None:
        return
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:        # none running (a socket left by a killed zygote, or none yet): a fresh start
        sock.close()
        return
    try:
        for s in (sys.stdout, sys.stderr):
            if s is not None:
                s.flush()
        _send(sock, req, [0, 1, 2])
        sock.settimeout(READY_TIMEOUT)
        lines = _Lines(sock)
        answer = lines.read()
    except (OSError, ValueError) as err:
        answer = {"ok": False, "why": f"no answer ({err})"}
    if not answer or not answer.get("ok"):
        why = (answer or {}).get("why", "it closed the connection")
        print(f"zygote not used for {req['module']}: {why}; starting it here", file=sys.stderr, flush=True)
        sock.close()
        return
    sock.settimeout(None)

    def forward(signum, _frame):
        try:
            _send(sock, {"signal": signum})
        except OSError:
            pass

    for s in FORWARDED:
        if s not in req["ignored"]:
            signal.signal(s, forward)
    end = lines.read()
    if end is None:
        print(f"error: zygote: the process running {req['module']} ended without a status", file=sys.stderr,
              flush=True)
        os._exit(1)
    if "signal" in end:
        signal.signal(end["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), end["signal"])
    os._exit(int(end.get("exit", 1)))


def _ask(msg: dict) -> dict | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(SOCKET))
        sock.settimeout(READY_TIMEOUT)
        _send(sock, msg)
        return _Lines(sock).read() or {}
    except OSError:
        return None
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    import argparse
    import subprocess

    ap = argparse.ArgumentParser(prog="python -m brats_mlops.utils.zygote", description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("start", "serve", "status", "stop"),
                    help="start: in the background (returns at once); serve: in the foreground; status; stop")
    ap.add_argument("--idle", type=float, default=1800.0, help="stop after this many seconds without a stage")
    args = ap.parse_args(argv)
    if not Path("dvc.yaml").exists():
        print("error: zygote: run it in the project root (no dvc.yaml here)", file=sys.stderr)
        return 2
    if args.command == "serve":
        os.execv(sys.executable, [sys.executable, "-m", "brats_mlops.utils.zygote_server", "--idle", str(args.idle)])
    if args.command == "start":
        if os.environ.get(ENV, "").lower() in ("0", "off", "no", "false"):
            print(f"zygote: off ({ENV}={os.environ[ENV]}): every stage imports its libraries itself")
            return 0
        if _ask({"status": True}) is not None:
            print(f"zygote: already running ({SOCKET})")
            return 0
        LOG.parent.mkdir(exist_ok=True)
        with open(LOG, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "brats_mlops.utils.zygote_server", "--idle", str(args.idle)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        for _ in range(100):          # until it listens (it imports afterwards; stages that come early wait for it)
            if SOCKET.exists() or proc.poll() is not None:
                break
            time.sleep(0.02)
        print(f"zygote: started (pid {proc.pid}; log {LOG}); stages started by `python -m pipelines.<stage>` here "
              "use it")
        return 0
    answer = _ask({"status": True} if args.command == "status" else {"stop": True})
    if answer is None:
        print("zygote: none running here")
        return 1 if args.command == "status" else 0
    print(f"zygote: {json.dumps(answer)}" if args.command == "status" else "zygote: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
