"""Entry point of every DVC stage: a data or params problem is one clear line, a bug keeps its traceback."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from brats_mlops.errors import UserError


def run_stage(main: Callable[[], None], stage: str) -> None:
    """Run ``main`` with ``runtime.threads`` applied (utils/threads.py); a :class:`UserError` prints ``error: <stage>: <message>`` on stderr and exits 1.

    The stage's MLflow run (if it was open) has already ended FAILED with the message (``tracking.stage_run``).
    ``BRATS_DEBUG=1`` shows the traceback as well. Any other exception propagates unchanged (a bug)."""
    try:
        from brats_mlops.config import load_params
        from brats_mlops.utils.threads import configure_threads

        configure_threads(load_params().runtime.threads)
        main()
    except UserError as err:
        if os.environ.get("BRATS_DEBUG", "") not in ("", "0"):
            logging.getLogger(f"brats_mlops.stage.{stage}").exception("user error")
        print(f"error: {stage}: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
