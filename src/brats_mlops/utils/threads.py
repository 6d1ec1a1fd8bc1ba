"""How many threads a stage's torch (and OpenMP) uses: a declared number, so a result never depends on the machine's load.

The thread count changes the floating-point summation order of torch's CPU kernels (a convolution's weight
gradient is reduced per thread), so the same stage with 1 and with 2 threads gives different checkpoints and
different metrics. ``runtime.threads`` is therefore a DVC param of every stage, and its default (2) is the count
the committed ``dvc.lock`` was produced with: whatever else runs on the machine, the arithmetic is the same (on one
core, two threads take turns). The CPU's own part — which instruction set each library's kernels use — is capped in
``brats_mlops/__init__.py``; measured identical idle and under load, not yet shown across CPU vendors.

``runtime.threads: auto`` is the opt-in for speed on a busy machine: a stage samples ``/proc/stat`` for a fraction
of a second at start, uses as many threads as cores are idle, and the training loop looks again before every epoch
(:func:`adapt`). Its results then depend on the load: the run is tagged ``brats.reproducible = false`` and a warning
says so. ``BRATS_THREADS`` overrides both (the tests set it to 1: two test workers on two cores); a run whose count
differs from the declared one is tagged the same way, since ``dvc.lock`` then no longer describes how it was made.
Under torchrun the ranks of a node split the count.

What "busy" costs with a fixed count is measured in BENCHMARKS.md ("Under load").
"""

from __future__ import annotations

import logging
import os
import sys
import time

ENV = "BRATS_THREADS"
DEFAULT = 2
_chosen: int | None = None
_setting: int | str | None = None

log = logging.getLogger(__name__)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times() -> tuple[float, float] | None:
    try:
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)   # idle + iowait
    return idle, sum(fields[:8])                                 # guest time is already inside user/nice


def idle_cores(sample_s: float = 0.3) -> float | None:
    """Cores idle over the next ``sample_s`` seconds (machine-wide), or None where /proc/stat is unavailable."""
    a = _cpu_times()
    time.sleep(sample_s)
    b = _cpu_times()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1]) * (os.cpu_count() or 1)


def _local_ranks() -> int:
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def resolve_threads(setting: int | str, sample_s: float = 0.3) -> int:
    """``setting`` (an int, "auto", or the ``BRATS_THREADS`` override) → a thread count.

    A number is split between torchrun's ranks on a node (2 threads and 2 ranks: 1 each), never sampled."""
    setting = os.environ.get(ENV) or setting
    if str(setting) != "auto":
        return max(1, int(setting) // _local_ranks())
    return _share(idle_cores(sample_s))


def _share(idle: float | None) -> int:
    """This process's threads given the machine's idle cores (None: unknown → all cores); torchrun's ranks on a
    node split them."""
    cores = available_cores()
    free = cores if idle is None else min(cores, int(idle + 0.25))
    return max(1, free // _local_ranks())


def is_reproducible(setting: int | str | None = None) -> bool:
    """Whether the count this process computes with is the declared number (``runtime.threads``), i.e. whether
    ``dvc.lock`` describes how its outputs were made: False with ``auto`` or a ``BRATS_THREADS`` that differs."""
    setting = _setting if setting is None else setting
    if setting is None:
        return True            # never configured: a stage that computes nothing with torch
    if str(setting) == "auto":
        return False
    override = os.environ.get(ENV)
    if not override:
        return True
    return override != "auto" and int(override) == int(setting)


def configure_threads(setting: int | str) -> int:
    """Set OMP_NUM_THREADS (torch reads it when imported; child processes inherit it) and torch's intra-op
    threads if torch is already imported; returns the count."""
    global _chosen, _setting
    _setting = setting
    n = resolve_threads(setting)
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    _chosen = n
    if str(setting) == "auto" and not os.environ.get(ENV):
        log.warning("runtime.threads: auto -> %d thread(s) from the idle cores: results depend on the machine's load "
                    "and will not reproduce dvc.lock (run tagged brats.reproducible=false); set a number for "
                    "reproducible results", n)
    return n


def chosen() -> int | None:
    """The count ``configure_threads`` set in this process (None if it was not called)."""
    return _chosen


def adapt(sample_s: float = 0.1) -> int | None:
    """With ``auto``, look at the idle cores again (the training loop calls this before every epoch): a process that
    started at the same time as another, or beside one that has since finished, moves to its fair share. Returns
    the new count when it changed, else None. A number never adapts."""
    global _chosen
    if _setting is None or str(_setting) != "auto" or os.environ.get(ENV):
        return None
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    current = torch.get_num_threads()
    idle = idle_cores(sample_s)
    if idle is None:
        return None
    n = _share(idle)   # our own threads are idle while we sample (between epochs): the idle cores are what others leave us
    if n == current:
        return None
    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    _chosen = n
    return n
