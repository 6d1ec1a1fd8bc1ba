"""Entry point of every DVC stage: a data or params problem is one clear line, a bug keeps its traceback."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from brats_mlops.errors import UserError

STARTED_AT: float | None = None   # CLOCK_BOOTTIME start of the client process of a stage the zygote runs (utils/zygote.py)
STARTUP: list[float] = []   # seconds from this stage process's start to its work (its imports and params): run_stage


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None where there is none)."""
    import time
    from pathlib import Path

    if STARTED_AT is not None:    # forked by the warm zygote: the age of the `python -m` process that asked it
        return time.clock_gettime(time.CLOCK_BOOTTIME) - STARTED_AT
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def run_stage(main: Callable[[], None], stage: str) -> None:
    """Run ``main`` with ``runtime.threads`` applied (utils/threads.py); a :class:`UserError` prints ``error: <stage>: <message>`` on stderr and exits 1.

    The stage's MLflow run (if it was open) has already ended FAILED with the message (``tracking.stage_run``).
    ``BRATS_DEBUG=1`` shows the traceback as well. Any other exception propagates unchanged (a bug)."""
    try:
        from brats_mlops.config import load_params
        from brats_mlops.utils.threads import configure_threads

        configure_threads(load_params().runtime.threads)
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        if spec is not None:   # `python -m pipelines.<stage>`: its code manifest must still describe its code
            from brats_mlops.utils.stage_deps import check_current

            check_current(spec.name)
        age = process_age()
        if age is not None:
            STARTUP[:] = [age]
            from brats_mlops.utils.logs import stage_logger

            stage_logger(stage).info("stage %s: work starts %.1f s after its process did", stage, age)
        main()
    except UserError as err:
        if os.environ.get("BRATS_DEBUG", "") not in ("", "0"):
            logging.getLogger(f"brats_mlops.stage.{stage}").exception("user error")
        print(f"error: {stage}: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
