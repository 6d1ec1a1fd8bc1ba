"""The warm zygote (utils/zygote.py): a stage it runs behaves as the same `python -m` in a fresh interpreter would —
arguments, working directory, environment, stdio, exit status, signals, the same numbers — and it steps aside
(the stage runs in its own process) whenever it cannot stand in for one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

HOOK = """import sys
import brats_mlops  # noqa: F401
if sys.argv[:1] == ["-m"]:
    from brats_mlops.utils.zygote import run_in_zygote
    run_in_zygote()
"""
PROBE = """import hashlib, json, os, sys, time
warm = "torch" in sys.modules
import numpy as np, torch
from brats_mlops.utils.entry import process_age
rng = hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest()
torch.set_num_threads(2)
torch.manual_seed(0)
x = torch.randn(2, 4, 24, 24, 24)
y = torch.nn.Conv3d(4, 8, 3)(x).detach()
a = np.random.default_rng(0).standard_normal((300, 300))
digest = hashlib.sha256(y.numpy().tobytes() + (a @ a).tobytes()).hexdigest()
if os.environ.get("BRATS_PROBE_PIDFILE"):
    open(os.environ["BRATS_PROBE_PIDFILE"], "w").write(str(os.getpid()))
print(json.dumps({"warm": warm, "argv": sys.argv[1:], "cwd": os.getcwd(), "probe": os.environ.get("BRATS_PROBE"),
                  "main": __name__, "spec": __spec__.name, "digest": digest, "rng": rng, "age": process_age(),
                  "stdin": sys.stdin.read()}), flush=True)
print("to stderr", file=sys.stderr, flush=True)
if os.environ.get("BRATS_PROBE_SLEEP"):
    time.sleep(float(os.environ["BRATS_PROBE_SLEEP"]))
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("zygote_project")
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "zpkg").mkdir()
    (root / "zpkg" / "__init__.py").write_text(HOOK)
    (root / "zpkg" / "probe.py").write_text(PROBE)
    (root / "zpkg" / "extra.py").write_text("VALUE = 1\n")
    env = {**os.environ, "PYTHONPATH": str(SRC), "BRATS_ZYGOTE_PRELOAD": "zpkg.extra"}
    for k in ("BRATS_ZYGOTE", "BRATS_PROBE_SLEEP", "BRATS_PROBE_PIDFILE", "BRATS_PROBE"):
        env.pop(k, None)
    server = subprocess.Popen([sys.executable, "-m", "brats_mlops.utils.zygote_server", "--idle", "600"], cwd=root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(600):
        st = subprocess.run([sys.executable, "-m", "brats_mlops.utils.zygote", "status"], cwd=root, env=env,
                            capture_output=True, text=True)
        if st.returncode == 0 or server.poll() is not None:
            break
        time.sleep(0.2)
    if st.returncode != 0:
        server.kill()
        pytest.fail(f"the zygote did not start: {server.communicate()[0]}")
    yield root, env, server
    # after every test: it holds no descriptor of a client (stdio, sockets) — only its own stdio and its listener
    held = {fd: os.readlink(f"/proc/{server.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{server.pid}/fd")}
    assert set(held) <= {"0", "1", "2", "3"}, held
    subprocess.run([sys.executable, "-m", "brats_mlops.utils.zygote", "stop"], cwd=root, env=env, check=True,
                   capture_output=True)
    out = server.communicate(timeout=30)[0]
    assert server.returncode == 0, out
    assert not (root / ".brats" / "zygote.sock").exists()


def _probe(project, *args, env=None, python_opts=(), stdin="", **kw):
    root, base, _ = project
    return subprocess.run([sys.executable, *python_opts, "-m", "zpkg.probe", *args], cwd=root, env={**base, **(env or {})},
                          input=stdin, capture_output=True, text=True, **kw)


def _json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_stage_runs_warm_as_it_would_cold(project):
    warm = _probe(project, "3", "--flag", env={"BRATS_PROBE": "passed"}, stdin="from stdin")
    cold = _probe(project, "3", "--flag", env={"BRATS_PROBE": "passed", "BRATS_ZYGOTE": "off"}, stdin="from stdin")
    w, c = _json(warm), _json(cold)
    assert w["warm"] and not c["warm"]
    assert warm.returncode == cold.returncode == 3
    assert warm.stderr == cold.stderr == "to stderr\n"
    for key in ("argv", "cwd", "probe", "main", "spec", "stdin"):
        assert w[key] == c[key], key
    assert w["argv"] == ["3", "--flag"] and w["probe"] == "passed" and w["stdin"] == "from stdin"
    assert w["main"] == "__main__" and w["spec"] == "zpkg.probe"
    # the same numbers: a convolution on two threads after the fork, NumPy's BLAS
    assert w["digest"] == c["digest"]
    # torch seeds its default generator from the OS in each process; each stage forked by the zygote gets its own
    assert len({w["rng"], c["rng"], _json(_probe(project))["rng"]}) == 3
    # the stage's age is its client's: from `python -m`, not from the fork
    assert 0 < w["age"] < 60


def test_it_steps_aside_when_it_cannot_stand_in(project):
    other = "7" if project[1].get("OMP_NUM_THREADS") != "7" else "5"    # CI may set it already
    diff = _probe(project, env={"OMP_NUM_THREADS": other})
    assert diff.returncode == 0 and not _json(diff)["warm"]
    assert "zygote not used for zpkg.probe: the environment differs in OMP_NUM_THREADS" in diff.stderr
    option = _probe(project, python_opts=("-X", "importtime"))      # asked for an interpreter option: run as asked
    assert option.returncode == 0 and not _json(option)["warm"] and "zygote not used" not in option.stderr
    assert _json(_probe(project))["warm"]                          # and serves the next one


def test_a_changed_source_file_restarts_it(project):
    root = project[0]
    assert _json(_probe(project))["warm"]
    extra = root / "zpkg" / "extra.py"
    extra.write_text("VALUE = 2\n")
    os.utime(extra, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    stale = _probe(project)
    assert not _json(stale)["warm"] and "extra.py changed since the zygote started; the zygote restarts" in stale.stderr
    t0 = time.monotonic()                     # the re-executed zygote imports again, then serves warm
    while not _json(again := _probe(project))["warm"]:
        assert time.monotonic() - t0 < 120, again.stderr
        time.sleep(0.2)


def _default_signals():
    for s in (signal.SIGINT, signal.SIGTERM):   # a pytest-xdist worker ignores SIGINT, and its children inherit that
        signal.signal(s, signal.SIG_DFL)


def _ignore_sigint():
    _default_signals()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_reach_the_stage_and_its_status_comes_back(project, tmp_path, sig):
    client, stage = _sleeping_stage(project, tmp_path, _default_signals)
    client.send_signal(sig)
    client.communicate(timeout=60)
    assert client.returncode == -sig       # died of the stage's death by the same signal, as a fresh process would
    _gone(stage)


def test_a_signal_the_client_ignores_the_stage_ignores(project, tmp_path):
    """Started with SIGINT ignored (as by `nohup`-like parents or an xdist worker), a fresh process keeps ignoring
    it: so does the stage the zygote runs for it, and a SIGTERM still ends it."""
    client, stage = _sleeping_stage(project, tmp_path, _ignore_sigint)
    os.kill(stage, signal.SIGINT)
    time.sleep(1.0)
    assert client.poll() is None and Path(f"/proc/{stage}").exists()
    client.send_signal(signal.SIGTERM)
    client.wait(timeout=60)
    assert client.returncode == -signal.SIGTERM
    _gone(stage)


def test_a_killed_client_takes_its_stage_with_it(project, tmp_path):
    client, stage = _sleeping_stage(project, tmp_path, _default_signals)
    client.kill()
    client.wait(timeout=30)
    _gone(stage)


def _sleeping_stage(project, tmp_path, preexec) -> tuple[subprocess.Popen, int]:
    """A client whose stage (run by the zygote: another process) sleeps 120 s; (the client, the stage's pid)."""
    root, base, _ = project
    pidfile = tmp_path / "pid"
    client = subprocess.Popen([sys.executable, "-m", "zpkg.probe"], cwd=root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                              env={**base, "BRATS_PROBE_SLEEP": "120", "BRATS_PROBE_PIDFILE": str(pidfile)})
    _wait_for(pidfile)
    stage = int(pidfile.read_text())
    assert stage != client.pid
    return client, stage


def _wait_for(path: Path, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not (path.exists() and path.read_text()):
        assert time.monotonic() - t0 < timeout, "the stage did not start"
        time.sleep(0.05)


def _gone(pid: int, timeout: float = 30) -> None:
    t0 = time.monotonic()
    while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() - t0 < timeout, f"the stage process {pid} outlived its client"
        time.sleep(0.1)


def test_outside_a_project_it_says_so(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-m", "brats_mlops.utils.zygote", "start"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "run it in the project root" in out.stderr
