"""Which params a process actually reads: the check that every DVC stage declares the params it depends on.

With ``BRATS_PARAMS_AUDIT=<folder>`` set, every ``Params`` that :func:`~brats_mlops.config.load_params` returns is
watched: each field read through attribute access (``params.segmentation.loss.dice``) is recorded by its dotted
path, and at exit the process writes ``<folder>/<pid>_<ns>.json`` with its command line and the sorted keys. The
end-to-end tests run ``dvc repro`` with it set and compare each stage's keys with the stage's ``params:`` in
``dvc.yaml`` (``tests/e2e.py``). Off (the default), the only cost is one global lookup per attribute read.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ENV = "BRATS_PARAMS_AUDIT"

_paths: dict[int, str] | None = None    # id(section) -> its dotted path, while auditing
_keep: list[Any] = []                   # the watched objects stay alive, so their ids stay theirs
_read: set[str] = set()


def active() -> bool:
    return _paths is not None


def record(section: Any, name: str, value: Any) -> None:
    """Called by ``Section.__getattribute__`` for a field read while auditing."""
    base = _paths.get(id(section)) if _paths is not None else None
    if base is None:
        return
    field = type(section).model_fields.get(name)
    if field is None:
        return
    name = field.alias or name              # `validate_` is `validate` in params.yaml
    key = f"{base}.{name}" if base else name
    if id(value) in _paths:   # a sub-section: its own fields are what is read
        return
    _read.add(key)


def watch(params: Any) -> Any:
    """Start recording reads of ``params`` (a parsed ``Params``) when ``BRATS_PARAMS_AUDIT`` is set; returns it."""
    global _paths
    folder = os.environ.get(ENV)
    if not folder:
        return params
    if _paths is None:
        _paths = {}
        atexit.register(_write, Path(folder))
    from pydantic import BaseModel

    def walk(obj: Any, path: str) -> None:
        _paths[id(obj)] = path
        _keep.append(obj)
        for name in type(obj).model_fields:
            child = object.__getattribute__(obj, name)
            if isinstance(child, BaseModel):
                name = type(obj).model_fields[name].alias or name
                walk(child, f"{path}.{name}" if path else name)

    walk(params, "")
    return params


def _write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{os.getpid()}_{time.time_ns()}.json").write_text(json.dumps({"argv": sys.argv, "keys": sorted(_read)}, indent=1))


def read_keys() -> list[str]:
    """The keys recorded so far in this process (for tests)."""
    return sorted(_read)
