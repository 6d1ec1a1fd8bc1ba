"""Presets: named overrides of params.yaml (``params/presets/<name>.yaml``), merged keeping comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from brats_mlops.config.schema import ParamsError, parse_params


def preset_dir(root: Path) -> Path:
    return root / "params" / "presets"


def list_presets(root: Path) -> list[str]:
    return sorted(p.stem for p in preset_dir(root).glob("*.yaml"))


def _merge(base: Any, over: dict[str, Any], path: str = "") -> None:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v, f"{path}{k}.")
        else:
            base[k] = v


def apply_preset(root: Path, name: str, params_file: Path | None = None) -> Path:
    """Merge preset ``name`` into ``params.yaml`` (validated before writing). Returns the params path."""
    src = preset_dir(root) / f"{name}.yaml"
    if not src.is_file():
        raise ParamsError(f"unknown preset {name!r}; valid presets: {list_presets(root)} (in {preset_dir(root)})")
    yaml = YAML()
    yaml.preserve_quotes = True
    target = params_file or root / "params.yaml"
    data = yaml.load(target.read_text())
    over = yaml.load(src.read_text()) or {}
    _merge(data, over)
    import json

    parse_params(json.loads(json.dumps(data, default=list)), origin=f"{target} with preset {name}")
    with target.open("w") as fh:
        yaml.dump(data, fh)
    return target
