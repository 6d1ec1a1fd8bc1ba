"""`brats-mlops`: check a dataset, make synthetic data, apply presets, find results, manage models and studies.

One module per command group (data, params, models, results, server, tune); importing them registers their commands.
"""

from __future__ import annotations

import sys

from brats_mlops.cli import data, export, models, params, results, server, tune  # noqa: F401  (register the commands)
from brats_mlops.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
