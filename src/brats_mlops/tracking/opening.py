"""A stage's MLflow run is opened when the stage first needs it, not before its work.

Before MLflow can record anything, a process pays for ``import mlflow`` (3–5 s with MLflow 3.17: its ``__init__``
imports ``mlflow.genai``) and the SQLite store's first use (2–3 s: SQLAlchemy's ORM and Alembic). ``stage_run`` no
longer pays that first: it hands the stage its run handle at once and opens the run — created with the stage's params
and tags, its start time the moment the stage began — the first time the stage touches it (a metric, an artifact, its
id, a nested run, a read of the store) and at the latest when the stage ends. The total cost is the same; what
changes is that the stage's own work starts within its imports.

Measured and rejected (BENCHMARKS.md "Stage start-up"): opening the run on a thread while the stage works. On two
cores the stage and the opening compete for the interpreter lock (imports are mostly Python), so the stage ended no
sooner — often later — and an import of MLflow from the stage's own thread while the opening thread was half-way
through it failed with "partially initialized module 'mlflow'".
"""

from __future__ import annotations

import threading
from typing import Callable

opening_of_stage: list[Callable[[], object]] = []   # opens the process's stage run if it is not open yet


def settle() -> None:
    """Open the main thread's stage run if it is not open yet (before anything else there uses MLflow's store)."""
    if opening_of_stage and threading.current_thread() is threading.main_thread():
        opening_of_stage[0]()
