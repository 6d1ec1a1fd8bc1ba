"""Opening a stage's MLflow run on a thread while the stage starts its work.

Before MLflow can record anything, a process pays for ``import mlflow`` (3–5 s with MLflow 3.17: its ``__init__``
imports ``mlflow.genai``) and the SQLite store's first use (2–3 s: SQLAlchemy's ORM and Alembic). A stage does not
need its run until it logs, so ``stage_run`` hands that work to an :class:`Opening` and the stage's own work begins
at once. The run is created, with the stage's params and tags, as soon as the thread gets there; it becomes the
stage thread's active MLflow run the first time the stage touches it (a metric, an artifact, its id, a nested run)
and at the latest when the stage ends.

An error while opening (a store that cannot be written, a server that answers with an error) is logged when it
happens and raised where the stage next touches its run, or when it ends — so the stage fails and DVC records
nothing, as before, only later.

Forking while another thread is importing can leave the child waiting forever on a half-imported module, so any
``os.fork`` of the process (e.g. a DataLoader's workers) first waits for pending openings; the data stages' process
pools start their workers from a clean server process instead (:mod:`brats_mlops.utils.pools`) and need not wait.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

_pending: set["Opening"] = set()
_lock = threading.Lock()


class Opening(Generic[T]):
    """``work()`` running on a daemon thread; :meth:`result` waits for it and returns or raises what it did."""

    def __init__(self, work: Callable[[], T], what: str):
        self.what = what
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._target, name=f"opening {what}", daemon=True)
        with _lock:
            _pending.add(self)
        self._thread.start()

    def _target(self) -> None:
        try:
            self._value = self._work()
        except BaseException as err:  # noqa: BLE001 (handed to the stage's thread by result())
            self._error = err
            log.error("%s could not be opened (%s: %s); the stage fails when it next logs or ends",
                      self.what, type(err).__name__, err)
        finally:
            with _lock:
                _pending.discard(self)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def wait_all() -> None:
    """Wait for every pending opening (not the calling thread's own)."""
    with _lock:
        pending = [o for o in _pending if o._thread is not threading.current_thread()]
    for o in pending:
        o._thread.join()


os.register_at_fork(before=wait_all)


opening_of_stage: list[Callable[[], object]] = []   # activating the process's stage run while it is still opening


def settle() -> None:
    """Make a stage run that is still opening the active MLflow run of the main thread (before anything else there
    uses MLflow's store)."""
    if opening_of_stage and threading.current_thread() is threading.main_thread():
        opening_of_stage[0]()


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None where there is none)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
