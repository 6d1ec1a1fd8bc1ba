"""Kill/resume tests stop a process at a named point (``brats_mlops.utils.faults``) instead of racing a poll."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from brats_mlops.utils import faults


def start_paused(cmd: list, cwd: Path, env: dict, point: str, n: int, timeout: float = 900, **popen) -> subprocess.Popen:
    """Start ``cmd`` with ``BRATS_PAUSE_AT=point:n`` and return once it waits there (it sleeps until killed). Fails
    if the process ends first: it never reached the point."""
    marker = Path(cwd) / f".paused_{point}_{n}"
    marker.unlink(missing_ok=True)
    env = {**env, faults.ENV: f"{point}:{n}", faults.MARKER_ENV: str(marker)}
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, **popen)
    deadline = time.time() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"{cmd} ended (exit {proc.returncode}) before reaching {point}:{n}:\n{proc.stderr.read()[-3000:]}")
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f"{cmd} did not reach {point}:{n} within {timeout} s")
        time.sleep(0.2)
    marker.unlink()
    return proc
