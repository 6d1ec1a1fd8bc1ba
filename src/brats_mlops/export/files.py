"""Files of an export: the checkpoints inside a downloaded platform pyfunc, the vendored package."""

from __future__ import annotations

import shutil
from pathlib import Path


def checkpoints(model_dir: Path) -> list[Path]:
    """The checkpoint files of a downloaded platform pyfunc (``checkpoint``, then ``ensemble_<i>``)."""
    from brats_mlops.utils.yamlio import read_yaml

    arts = read_yaml(model_dir / "MLmodel")["flavors"]["python_function"].get("artifacts") or {}
    keys = sorted((k for k in arts if k == "checkpoint" or k.startswith("ensemble_")), key=lambda k: (k != "checkpoint", k))
    return [model_dir / arts[k]["path"] for k in keys]


def vendor_package(dst: Path) -> Path:
    """A copy of the installed ``brats_mlops`` package (no caches) under ``dst``: the code a container runs."""
    import brats_mlops

    src = Path(brats_mlops.__file__).resolve().parent
    shutil.copytree(src, dst / "brats_mlops", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst / "brats_mlops"
