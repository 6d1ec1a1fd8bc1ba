"""JSON files the stages write (metrics, summaries): indented, newline-terminated, parents created."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def dump_json(obj: Any, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")
