"""Reading YAML fast: PyYAML's C loader (libyaml) where PyYAML was built with it, its pure-Python one otherwise.

The ``dvc.lock`` files list every code dependency of every stage with its hash (about 100 KB for ``dvc.lock``); the
pure-Python loader takes 0.2–0.6 s to read it on a 2-core machine, the C loader 0.02–0.1 s (BENCHMARKS.md "Stage
start-up"), and every stage run reads the lock files when it starts (the git-dirty check) and when it ends (its links to
upstream runs). Same results either way: both are safe loaders of the same YAML 1.1 schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, with the C loader when available."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: CSafeLoader or SafeLoader)


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path`` (``None`` for an empty file)."""
    return load_yaml(Path(path).read_text())
