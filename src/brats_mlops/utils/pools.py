"""Worker-process pools for the data stages (synthesize, validate, preprocess).

The workers start from Python's fork server — a single-threaded process that forks them — rather than by forking the
stage itself: the stage's MLflow run is opening on a thread meanwhile (``tracking/opening.py``), and a process forked
while another thread is inside an import can wait forever on that half-imported module. The server is started once
per process; each worker takes the working directory and environment of the stage at the time the pool was made
(what a forked worker would have had), then runs ``initializer``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable


def process_pool(workers: int, initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    """A :class:`ProcessPoolExecutor` of ``workers`` processes started from the fork server."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"), initializer=_adopt,
                               initargs=(os.getcwd(), dict(os.environ), initializer))


def _adopt(cwd: str, environ: dict[str, str], initializer: Callable[[], None] | None) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    if initializer is not None:
        initializer()
