"""The zygote itself (``python -m brats_mlops.utils.zygote_server [--idle S]``, in the project root; ``python -m
brats_mlops.utils.zygote start`` runs it in the background): imports the preload, then forks one process per stage that
asks (utils/zygote.py: what it is, when it steps aside)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from brats_mlops.utils.zygote import FORWARDED, PRELOAD, PRELOAD_ENV, SOCKET, NOT_VOLATILE, VOLATILE, VOLATILE_PREFIXES, _Lines, _send


def _watched_paths() -> list[str]:
    """The source files imported here that are not the standard library's or an installed package's (the project's
    own, an editable install's), and the site-packages folders the rest came from (an install or upgrade adds and
    removes entries there). Found once: the zygote imports nothing after its preload."""
    stdlib = tuple(str(Path(p).resolve()) + "/" for p in {sys.base_prefix, sys.base_exec_prefix})
    site = [str(Path(e).resolve()) for e in sys.path if e and "-packages" in e]
    paths = set()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if not f:
            continue
        p = str(Path(f).resolve())
        owner = [e for e in site if p.startswith(e + "/")]
        if owner:
            paths.update(owner)
        elif not p.startswith(stdlib):
            paths.add(p)
    return sorted(paths)


def _stats(paths: list[str]) -> dict[str, tuple[int, int]]:
    """(mtime, size) of each path; (0, -1) for one that is gone."""
    out = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[p] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[p] = (0, -1)
    return out


class _Zygote:
    def __init__(self, root: Path, env: dict):
        self.root = root
        self.env = env         # as the stage's client has it: after `import brats_mlops`, before the preload
        # what the preload set (MONAI: CUBLAS_WORKSPACE_CONFIG): a stage importing those libraries sets it too
        self.added = {k: v for k, v in os.environ.items() if k not in env}
        self.path, self.flags = list(sys.path), list(sys.flags)
        self.watched = _watched_paths()
        self.stats = _stats(self.watched)
        self.init = sys.modules["brats_mlops"].__file__
        self.served, self.t0 = 0, time.time()

    def refuse(self, req: dict) -> str | None:
        """Why this zygote cannot run ``req`` as a fresh interpreter would (None: it can)."""
        if req["executable"] != sys.executable or req["flags"] != self.flags:
            return "another interpreter or interpreter flags"
        if req["path"] != self.path or req["init"] != self.init:
            return f"another sys.path (the zygote serves {self.root})"
        keys = {k for k in set(req["env"]) | set(self.env) if req["env"].get(k) != self.env.get(k)}
        keys = sorted(k for k in keys if k in NOT_VOLATILE or not (k in VOLATILE or k.startswith(VOLATILE_PREFIXES)))
        if keys:
            return f"the environment differs in {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
        return None

    def stale(self) -> str | None:
        now = _stats(self.watched)
        changed = sorted(p for p in self.stats if now.get(p) != self.stats[p])
        return f"{changed[0]} changed since the zygote started" if changed else None


def _log(msg: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} zygote[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


def _become_stage(req: dict, fds: list[int]) -> None:
    """In the forked stage process: take on the client's process state, then run its module as ``__main__``."""
    import io
    import runpy
    import types

    from brats_mlops.utils import entry, zygote

    os.setpgid(0, 0)
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    for s in FORWARDED:
        signal.signal(s, signal.SIG_IGN if s in req["ignored"] else signal.SIG_DFL)
    if signal.SIGINT not in req["ignored"]:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.umask(req["umask"])
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    for k, v in req["added"].items():
        os.environ.setdefault(k, v)
    sys.path[:] = req["path"]
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))     # -u is an option: refused by the client
    streams = []
    for fd, (mode, spec) in enumerate(zip(("r", "w", "w"), req["stdio"])):
        if spec is None:
            streams.append(None)
            continue
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        tty = os.isatty(fd)
        streams.append(io.TextIOWrapper(buf, encoding=spec[0], errors=spec[1], line_buffering=tty or fd == 2,
                                        write_through=unbuffered))
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams
    sys.orig_argv[:] = req["orig_argv"]
    sys.argv[:] = ["-m", *req["args"]]
    entry.STARTED_AT, zygote.CHILD = req["started"], True
    # A fresh process seeds NumPy's global generator and torch's default one from the OS: so does this one.
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()
    sys.modules["__main__"] = types.ModuleType("__main__")
    runpy._run_module_as_main(req["module"], alter_argv=True)   # what `python -m` calls
    sys.exit(0)


def _supervise(conn: socket.socket, lines: _Lines, fds: list[int]) -> None:
    """In the zygote's fork for one request: fork the stage process, relay signals to it and its status back.
    Returns only in the stage process."""
    try:
        pid = os.fork()
    except OSError as err:
        _send(conn, {"ok": False, "why": f"it could not fork ({err})"})
        os._exit(0)
    if pid == 0:
        conn.close()
        return
    for fd in fds:
        os.close(fd)
    try:
        os.setpgid(pid, pid)          # as the stage does itself: whichever runs first, a signal finds the group
    except OSError:
        pass
    try:
        _send(conn, {"ok": True})     # only now: until here the client can still start the stage itself
        _relay(conn, lines, pid)
    except BaseException:   # noqa: BLE001 - whatever went wrong here, the stage does not outlive its supervisor
        _killpg(pid, signal.SIGTERM)
        os._exit(70)


def _relay(conn: socket.socket, lines: _Lines, pid: int) -> None:
    """Relay the client's signals to the stage's process group until it ends; then send its status and exit."""
    import selectors

    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ)
    sel.register(pidfd, selectors.EVENT_READ)
    client_gone = None
    while True:
        timeout = None if client_gone is None else max(0.0, client_gone + 10 - time.monotonic())
        events = sel.select(timeout)
        if not events and client_gone is not None:
            _killpg(pid, signal.SIGKILL)
            continue
        for key, _ in events:
            if key.fileobj is conn:
                try:
                    msg = lines.read()
                except (OSError, ValueError):
                    msg = None
                if msg is None:       # the client died (SIGKILL): end the stage as its parent's death would
                    sel.unregister(conn)
                    client_gone = time.monotonic()
                    _killpg(pid, signal.SIGTERM)
                elif "signal" in msg:
                    _killpg(pid, int(msg["signal"]))
            else:
                _, status = os.waitpid(pid, 0)
                sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                try:
                    _send(conn, {"signal": sig} if sig else {"exit": os.WEXITSTATUS(status)})
                except OSError:
                    pass
                os._exit(0)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def serve(idle: float) -> None:
    """Bind ``.brats/zygote.sock`` in the working directory, import the preload, serve until stopped or idle."""
    import importlib

    root = Path.cwd().resolve()
    SOCKET.parent.mkdir(exist_ok=True)
    if SOCKET.exists():
        SOCKET.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    listener.bind(str(SOCKET))
    os.umask(old)
    listener.listen(64)
    me = os.getpid()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)      # the per-request forks are reaped by the kernel
    try:
        t0 = time.perf_counter()
        import brats_mlops  # noqa: F401  (the numerics environment, the light MONAI import)

        before = dict(os.environ)
        extra = [m for m in os.environ.get(PRELOAD_ENV, "").split(",") if m.strip()]
        for name in (*PRELOAD, *extra):
            try:
                importlib.import_module(name)
            except Exception as err:  # noqa: BLE001 - a missing optional library: the stage imports it itself
                _log(f"not preloaded: {name} ({type(err).__name__}: {err})")
        zyg = _Zygote(root, before)
        _log(f"ready in {time.perf_counter() - t0:.1f} s: {', '.join(PRELOAD)}; {len(sys.modules)} modules")
        listener.settimeout(idle)
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                _log(f"idle for {idle:.0f} s: stopping")
                return
            conn.settimeout(None)
            lines = _Lines(conn)
            try:
                req = lines.read(with_fds=True)
            except (OSError, ValueError):
                req = None
            fds = lines.fds
            if req is None or req.get("stop") or req.get("status"):
                if req and req.get("status"):
                    _send(conn, {"pid": me, "root": str(root), "served": zyg.served,
                                 "uptime_s": round(time.time() - zyg.t0, 1)})
                conn.close()
                for fd in fds:
                    os.close(fd)
                if req and req.get("stop"):
                    _log(f"stopped after {zyg.served} stages")
                    return
                continue
            why = zyg.refuse(req)
            stale = zyg.stale() if why is None else None
            if why or stale:
                _send(conn, {"ok": False, "why": why or f"{stale}; the zygote restarts"})
                conn.close()
                for fd in fds:
                    os.close(fd)
                _log(f"refused {req['module']}: {why or stale}")
                if stale:
                    listener.close()
                    SOCKET.unlink(missing_ok=True)
                    # in the environment it started with (not with what the preload added to it)
                    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], zyg.env)
                continue
            req["added"] = zyg.added
            try:
                supervisor = os.fork()
            except OSError as err:   # e.g. out of memory: the stage starts in its own process
                _send(conn, {"ok": False, "why": f"it could not fork ({err})"})
                conn.close()
                for fd in fds:
                    os.close(fd)
                continue
            zyg.served += 1
            if supervisor == 0:      # the per-request supervisor, then (returning from _supervise) the stage
                try:
                    listener.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    _supervise(conn, lines, fds)
                except BaseException:   # noqa: BLE001 - never back into the zygote's loop
                    os._exit(70)
                _become_stage(req, fds)
            conn.close()
            for fd in fds:
                os.close(fd)
            _log(f"started {req['module']} {' '.join(req['args'])}".rstrip())
    finally:
        if os.getpid() == me:
            listener.close()
            SOCKET.unlink(missing_ok=True)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m brats_mlops.utils.zygote_server", description=__doc__)
    ap.add_argument("--idle", type=float, default=1800.0, help="stop after this many seconds without a stage")
    serve(ap.parse_args().idle)
