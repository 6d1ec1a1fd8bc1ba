"""How many threads a stage's torch (and OpenMP) may use: never more than the cores that are idle.

Two processes that each run 2 OpenMP threads on 2 cores do not share them gracefully: the threads spin at
every barrier while descheduled, and a training step slows 3× or more (BENCHMARKS.md, "Under load"). With
``runtime.threads: auto`` a stage samples ``/proc/stat`` for a fraction of a second at start and uses as many
threads as cores are idle (at least 1, at most the cores this process may run on). A number fixes the count:
the thread count changes floating-point summation order, so bit-identical reruns need the same count.
``BRATS_THREADS`` overrides both (the tests set it). Under torchrun the ranks of a node split the idle cores.
With ``auto`` the training loop looks again before every epoch (:func:`adapt`): two trainings started at the
same moment both see idle cores at first, and settle on their share after one epoch.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "BRATS_THREADS"
_chosen: int | None = None
_setting: int | str | None = None


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


def resolve_threads(setting: int | str, sample_s: float = 0.3) -> int:
    """``setting`` (an int, "auto", or the ``BRATS_THREADS`` override) → a thread count."""
    setting = os.environ.get(ENV) or setting
    if str(setting) != "auto":
        return max(1, int(setting))
    return _share(idle_cores(sample_s))


def _share(idle: float | None) -> int:
    """This process's threads given the machine's idle cores (None: unknown → all cores); torchrun's ranks on a
    node split them."""
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    cores = available_cores()
    free = cores if idle is None else min(cores, int(idle + 0.25))
    return max(1, free // local)


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
    return n


def chosen() -> int | None:
    """The count ``configure_threads`` set in this process (None if it was not called)."""
    return _chosen


def adapt(sample_s: float = 0.1) -> int | None:
    """With ``auto``, look at the idle cores again (the training loop calls this before every epoch): a process that
    started at the same time as another, or beside one that has since finished, moves to its fair share. Returns
    the new count when it changed, else None."""
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
