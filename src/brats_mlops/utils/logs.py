"""One logger per stage, stating resolved params and outputs at start."""

from __future__ import annotations

import logging
import sys


def stage_logger(stage: str) -> logging.Logger:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    for noisy in ("alembic", "mlflow", "great_expectations", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(f"brats_mlops.stage.{stage}")
