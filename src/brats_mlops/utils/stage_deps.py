"""Every project module a DVC stage imports is one of its ``deps``: derived from the source, checked by a test.

A stage is ``python -m <module>``; the project files it may run are the transitive closure of that module's
imports inside the project (``pipelines.*``, ``brats_mlops.*``), function-level imports included — a superset of
what one run loads, so a change to any of them makes ``dvc status`` report the stage. The closure is listed in
``dvc.yaml`` file by file, except that a package whose every module is in it is listed as its folder
(``.dvcignore`` keeps ``__pycache__`` out of folder hashes).

    python -m brats_mlops.utils.stage_deps            # check every dvc.yaml: exit 1 and list what is missing
    python -m brats_mlops.utils.stage_deps --write    # rewrite the source deps of every stage (comments kept)

(``make deps`` runs the second.) ``tests/test_stage_deps.py`` runs the check.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

PIPELINE_FILES = ("dvc.yaml", "slices/dvc.yaml", "nnunet/dvc.yaml", "tune/dvc.yaml")
SOURCE_PREFIXES = ("pipelines/", "src/")


def is_source(dep: str) -> bool:
    return dep in ("pipelines", "src") or dep.startswith(SOURCE_PREFIXES)
_CMD = re.compile(r"^python\s+-m\s+([\w.]+)")


def _root() -> Path:
    here = Path(__file__).resolve()
    for d in here.parents:
        if (d / "dvc.yaml").is_file() and (d / "src" / "brats_mlops").is_dir():
            return d
    raise FileNotFoundError("not inside the brats_mlops source tree (no dvc.yaml above src/brats_mlops)")


def module_file(root: Path, name: str) -> Path | None:
    """The project file of module ``name`` (a package's ``__init__.py``), or None if it is not a project module."""
    parts = name.split(".")
    if parts[0] == "pipelines":
        base = root.joinpath(*parts)
    elif parts[0] == "brats_mlops":
        base = root.joinpath("src", *parts)
    else:
        return None
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@lru_cache(maxsize=None)
def _imported_names(path: Path, module: str) -> frozenset[str]:
    """Every module name ``path`` imports anywhere (top level or inside functions), relative imports resolved;
    ``from a import b`` yields ``a`` and ``a.b`` (b may be a submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return frozenset(out)


DISCOVERED = ("brats_mlops.families",)  # packages that import their modules on discovery (every module counts)
# importers that only *discover* the families (their names, stages, params sections): at run time that executes the
# family modules' top-level code, not their methods' imports, so only top-level imports are followed from there
LOOKUP_ONLY = {"brats_mlops.config.schema": "brats_mlops.families", "brats_mlops.tracking": "brats_mlops.families",
               "brats_mlops.tracking.store": "brats_mlops.families"}


@lru_cache(maxsize=None)
def _top_level_names(path: Path, module: str) -> frozenset[str]:
    """The module names ``path`` imports when it is imported (module body, not inside functions or classes)."""
    body = ast.parse(path.read_text(), str(path)).body
    nodes = [n for top in body for n in ([top] if isinstance(top, (ast.Import, ast.ImportFrom)) else
                                          ast.walk(top) if isinstance(top, (ast.If, ast.Try)) else [])]
    names = _imported_names(path, module)
    out = set()
    for n in nodes:
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            mod = n.module or ""
            if n.level:  # relative: resolved like _imported_names does
                mod = next((m for m in names if m.endswith(mod)), mod)
            out |= {mod} | {f"{mod}.{a.name}" for a in n.names}
    return frozenset(out)


def closure(root: Path, module: str) -> set[Path]:
    """The project files ``python -m module`` may execute (with every parent package's ``__init__.py``); a package
    that discovers its modules at run time (:data:`DISCOVERED`: the model families) brings all of them — only their
    top-level imports when it was reached from an importer that just looks families up (:data:`LOOKUP_ONLY`)."""
    seen: dict[str, tuple[Path, bool]] = {}
    todo: list[tuple[str, bool]] = [(module, True), (f"{module}.__main__", True)]
    while todo:
        target, deep = todo.pop()
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            f = module_file(root, name)
            if f is None or (name in seen and (seen[name][1] or not deep)):
                continue
            seen[name] = (f, deep)
            lookup = LOOKUP_ONLY.get(name)
            for imp in (_imported_names(f, name) if deep else _top_level_names(f, name)):
                todo.append((imp, deep and not (lookup and (imp == lookup or imp.startswith(lookup + ".")))))
            if name in DISCOVERED:
                todo.extend((f"{name}.{p.stem}", deep) for p in sorted(f.parent.glob("*.py")) if p.stem != "__init__")
    return {f for f, _ in seen.values()}


def compact(root: Path, files: set[Path]) -> list[str]:
    """``files`` as dep paths: a package folder whose every ``.py`` (recursively) is in ``files`` stands for them."""
    rel = {f.relative_to(root).as_posix() for f in files}
    out = set(rel)
    for d in sorted({f.parent for f in files}, key=lambda p: len(p.parts)):
        if not (d / "__init__.py").is_file():
            continue
        inside = {p.relative_to(root).as_posix() for p in d.rglob("*.py") if "__pycache__" not in p.parts}
        if inside <= rel:
            prefix = d.relative_to(root).as_posix() + "/"
            if not any(o != d.relative_to(root).as_posix() and prefix.startswith(o + "/") for o in out):
                out = {o for o in out if not o.startswith(prefix)} | {d.relative_to(root).as_posix()}
    return sorted(out)


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def stage_module(cmd: str) -> str | None:
    m = _CMD.match(cmd.strip())
    return m.group(1) if m else None


def _load(pipeline: Path):
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)   # the files' own style: "    deps:\n      - path"
    return yaml, yaml.load(pipeline.read_text())


def _python_stages(root: Path):
    """``(pipeline file, its YAML handler, its parsed document, [(stage, spec, module), ...])`` of every pipeline file
    under ``root``, for the stages that run ``python -m <module>``."""
    for name in PIPELINE_FILES:
        pipeline = root / name
        if not pipeline.is_file():
            continue
        yaml, doc = _load(pipeline)
        stages = [(stage, spec, module) for stage, spec in doc["stages"].items()
                  if (module := stage_module(str(spec.get("cmd", "")))) is not None]
        yield pipeline, yaml, doc, stages


def check(root: Path | None = None) -> dict[str, list[str]]:
    """``{"<dvc.yaml>:<stage>": [missing or stale dep, ...]}`` for every stage whose source deps do not cover its
    import closure, or name a source file that does not exist. Empty: every stage knows its code."""
    root = root or _root()
    problems: dict[str, list[str]] = {}
    for pipeline, _, _, stages in _python_stages(root):
        for stage, spec, module in stages:
            src = [str(d) for d in spec.get("deps", []) if is_source(str(d))]
            missing = [f for f in sorted(p.relative_to(root).as_posix() for p in closure(root, module)) if not covered(f, src)]
            gone = [f"{d} (does not exist)" for d in src if not (root / d).exists()]
            if missing or gone:
                problems[f"{pipeline.relative_to(root).as_posix()}:{stage}"] = missing + gone
    return problems


def write(root: Path | None = None) -> list[str]:
    """Rewrite the source deps of every stage as its import closure (other deps, their order and comments kept);
    returns the stages that changed. A pipeline file with no change is not rewritten."""
    root = root or _root()
    changed = []
    for pipeline, yaml, doc, stages in _python_stages(root):
        before = len(changed)
        for stage, spec, module in stages:
            deps = spec["deps"]
            want = compact(root, closure(root, module))
            if [str(d) for d in deps if is_source(str(d))] == want:
                continue
            others = [(d, deps.ca.items.get(i)) for i, d in enumerate(deps) if not is_source(str(d))]
            deps.clear()
            deps.ca.items.clear()
            deps.extend(want + [d for d, _ in others])
            for i, (_, comment) in enumerate(others, start=len(want)):   # an item's end-of-line comment moves with it
                if comment is not None:
                    deps.ca.items[i] = comment
            changed.append(f"{pipeline.relative_to(root).as_posix()}:{stage}")
        if len(changed) > before:
            with pipeline.open("w") as fh:
                yaml.dump(doc, fh)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m brats_mlops.utils.stage_deps", description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the source deps of every stage in every dvc.yaml")
    args = ap.parse_args(argv)
    if args.write:
        changed = write()
        print("updated: " + ", ".join(changed) if changed else "every stage's source deps were already its import closure")
        return 0
    problems = check()
    for stage, items in problems.items():
        print(f"{stage}: not among its deps: " + ", ".join(items))
    if problems:
        print("run `make deps` (python -m brats_mlops.utils.stage_deps --write), then `dvc status`", file=sys.stderr)
        return 1
    print("every stage's deps cover the project modules it imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
