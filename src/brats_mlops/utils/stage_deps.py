"""Every project module a DVC stage imports is one of its dependencies: derived from the source, checked by a test.

A stage is ``python -m <module>``; the project files it may run are the transitive closure of that module's
imports inside the project (``pipelines.*``, ``brats_mlops.*``), function-level imports included — a superset of
what one run loads, so a change to any of them reruns the stage.

The closure is not listed in ``dvc.yaml`` file by file (1,514 entries over 23 stages cost DVC ~0.6 s on every
``dvc status`` / no-op ``dvc repro``: reading them from the YAML files and making an object of each). The first
stage, ``code``, depends on the source folders and writes one *code manifest* per stage,
``data/code/<pipeline>.<stage>.json``: the stage's module and each file of its closure with its md5. Each stage
depends on its own manifest, which changes exactly when a file of its closure does (or the closure itself), so
``dvc repro`` reruns ``code`` after any source change and then only the stages whose own code changed.
``brats-mlops status`` names them and their files (``utils/freshness.py``). A stage started while its manifest is
out of date (``dvc repro -s <stage>`` skips ``code``) stops with one line instead of recording code it did not run
(:func:`check_current`).

    python -m brats_mlops.utils.stage_deps              # check every dvc.yaml: exit 1 and say what is wrong
    python -m brats_mlops.utils.stage_deps --write      # make every stage depend on its manifest (comments kept)
    python -m brats_mlops.utils.stage_deps --manifests  # write the manifests (the `code` stage's command)

(``make deps`` runs ``--write``.) ``tests/utils/test_stage_deps.py`` runs the check.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from brats_mlops.utils.hashing import file_md5

PIPELINE_FILES = ("dvc.yaml", "slices/dvc.yaml", "nnunet/dvc.yaml", "tune/dvc.yaml")
SOURCE_PREFIXES = ("pipelines/", "src/")
CODE_STAGE = "code"                              # the stage of dvc.yaml that writes the manifests
CODE_DEPS = ("pipelines", "src/brats_mlops")     # ... from these folders
MANIFEST_DIR = "data/code"                       # ... into this one (its output)


def is_source(dep: str) -> bool:
    return dep in ("pipelines", "src") or dep.startswith(SOURCE_PREFIXES)
_CMD = re.compile(r"^python\s+-m\s+([\w.]+)")


def _root() -> Path:
    """The project: the working directory when it is one (DVC runs stages there; a clone may run another checkout's
    installed package), else the source tree this module is in."""
    for d in (Path.cwd(), *Path(__file__).resolve().parents):
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


def _imported_names(path: Path, module: str) -> frozenset[str]:
    """Every module name ``path`` imports anywhere (top level or inside functions), relative imports resolved;
    ``from a import b`` yields ``a`` and ``a.b`` (b may be a submodule)."""
    return _imports_in(path.read_text(), path.name == "__init__.py", module)


def _top_level_names(path: Path, module: str) -> frozenset[str]:
    """The module names ``path`` imports when it is imported (module body, not inside functions or classes)."""
    return _top_level_in(path.read_text(), path.name == "__init__.py", module)


@lru_cache(maxsize=None)   # by content: a long-lived process (a test, `brats-mlops status`) sees edits
def _imports_in(text: str, is_package: bool, module: str) -> frozenset[str]:
    package = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(text)):
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
def _top_level_in(text: str, is_package: bool, module: str) -> frozenset[str]:
    body = ast.parse(text).body
    nodes = [n for top in body for n in ([top] if isinstance(top, (ast.Import, ast.ImportFrom)) else
                                          ast.walk(top) if isinstance(top, (ast.If, ast.Try)) else [])]
    names = _imports_in(text, is_package, module)
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


def pipeline_key(pipeline: str) -> str:
    """``dvc.yaml`` -> ``default``, ``slices/dvc.yaml`` -> ``slices``: the prefix of its stages' manifests."""
    return "default" if pipeline == "dvc.yaml" else pipeline.split("/")[0]


def manifest_path(pipeline: str, stage: str) -> str:
    return f"{MANIFEST_DIR}/{pipeline_key(pipeline)}.{stage}.json"


def _python_stages(root: Path):
    """``(pipeline file, its YAML handler, its parsed document, [(stage, spec, module), ...])`` of every pipeline file
    under ``root``, for the stages that run ``python -m <module>`` (not the ``code`` stage itself)."""
    for name in PIPELINE_FILES:
        pipeline = root / name
        if not pipeline.is_file():
            continue
        yaml, doc = _load(pipeline)
        stages = [(stage, spec, module) for stage, spec in doc["stages"].items()
                  if stage != CODE_STAGE and (module := stage_module(str(spec.get("cmd", "")))) is not None]
        yield pipeline, yaml, doc, stages


def manifest(root: Path, module: str) -> dict:
    """What ``python -m module`` may run: ``{"module": ..., "files": {path: md5}}`` (paths relative to ``root``)."""
    files = sorted(f.relative_to(root).as_posix() for f in closure(root, module))
    return {"module": module, "files": {f: file_md5(root / f) for f in files}}


def _text(m: dict) -> str:
    return json.dumps(m, indent=1, sort_keys=True) + "\n"


def write_manifests(root: Path | None = None) -> list[str]:
    """Write every stage's manifest (the ``code`` stage); returns their paths. Bytes depend on the sources only."""
    root = root or _root()
    (root / MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
    written = []
    for pipeline, _, _, stages in _python_stages(root):
        for stage, _, module in stages:
            path = manifest_path(pipeline.relative_to(root).as_posix(), stage)
            (root / path).write_text(_text(manifest(root, module)))
            written.append(path)
    return written


def changed_code(root: Path, path: str, quick: bool = False) -> list[str] | None:
    """The files of the stage whose manifest is ``path`` that differ from it (added, removed or edited); None when
    there is no manifest to compare with (the ``code`` stage has not run in this checkout). ``quick``: only the files
    it lists (their imports decide the closure) and the modules of :data:`DISCOVERED` packages, without re-deriving
    the closure — a few ms instead of parsing every file."""
    try:
        old = json.loads((root / path).read_text())
    except (OSError, ValueError):
        return None
    if quick:
        listed = old["files"]
        found = {f: (file_md5(root / f) if (root / f).is_file() else None) for f in listed}
        for pkg in DISCOVERED:
            folder = module_file(root, pkg)
            if folder is not None and folder.relative_to(root).as_posix() in listed:
                found.update({p.relative_to(root).as_posix(): "new" for p in folder.parent.glob("*.py")
                              if p.relative_to(root).as_posix() not in listed})
        return sorted(f for f, h in found.items() if listed.get(f) != h)
    new = manifest(root, old["module"])["files"]
    return sorted(f for f in set(old["files"]) | set(new) if old["files"].get(f) != new.get(f))


def stale_stages(root: Path | None = None) -> dict[tuple[str, str], list[str]]:
    """``{(pipeline file, stage): [changed files]}`` of every stage whose code differs from its manifest."""
    root = root or _root()
    out = {}
    for pipeline, _, _, stages in _python_stages(root):
        rel = pipeline.relative_to(root).as_posix()
        for stage, _, _ in stages:
            changed = changed_code(root, manifest_path(rel, stage))
            if changed:
                out[(rel, stage)] = changed
    return out


def check_current(module: str, root: Path | None = None) -> None:
    """Raise :class:`~brats_mlops.errors.UserError` if a manifest of ``module`` (a stage about to run) no longer
    describes its code: DVC would record the old manifest's hash for outputs the new code made. No manifest, or a
    run outside the project: nothing to contradict."""
    from brats_mlops.errors import UserError

    try:
        root = root or _root()
    except FileNotFoundError:
        return
    for path in sorted((root / MANIFEST_DIR).glob("*.json")):
        try:
            if json.loads(path.read_text()).get("module") != module:
                continue
        except ValueError:
            continue
        changed = changed_code(root, path.relative_to(root).as_posix(), quick=True)
        if changed:
            raise UserError(f"its code changed since {path.relative_to(root)} was written ({', '.join(changed[:3])}"
                            f"{', ...' if len(changed) > 3 else ''}): run `dvc repro` (or `dvc repro -s {CODE_STAGE} "
                            f"<stage>`), which rewrites the manifests first")


def check(root: Path | None = None) -> dict[str, list[str]]:
    """``{"<dvc.yaml>:<stage>": [problem, ...]}``: a stage that does not depend on its manifest, or still lists
    source files; a ``code`` stage missing from ``dvc.yaml`` or not watching the source folders. Empty: all is well."""
    root = root or _root()
    problems: dict[str, list[str]] = {}
    for pipeline, _, doc, stages in _python_stages(root):
        rel = pipeline.relative_to(root).as_posix()
        if rel == "dvc.yaml":
            code = doc["stages"].get(CODE_STAGE) or {}
            want = [f"deps: {d}" for d in CODE_DEPS if d not in [str(x) for x in code.get("deps", [])]]
            want += [f"outs: {MANIFEST_DIR}"] if MANIFEST_DIR not in [str(x) for x in code.get("outs", [])] else []
            if want:
                problems[f"dvc.yaml:{CODE_STAGE}"] = want
        for stage, spec, _ in stages:
            deps = [str(d) for d in spec.get("deps", [])]
            listed = [f"{d} (listed: the manifest covers it)" for d in deps if is_source(d)]
            missing = [] if manifest_path(rel, stage) in deps else [f"{manifest_path(rel, stage)} (not a dep)"]
            if listed or missing:
                problems[f"{rel}:{stage}"] = missing + listed
    return problems


def write(root: Path | None = None) -> list[str]:
    """Make every stage depend on its manifest instead of listing source files (other deps, their order and
    comments kept); returns the stages that changed. A pipeline file with no change is not rewritten."""
    root = root or _root()
    changed = []
    for pipeline, yaml, doc, stages in _python_stages(root):
        before = len(changed)
        rel = pipeline.relative_to(root).as_posix()
        for stage, spec, _ in stages:
            deps = spec["deps"]
            want = manifest_path(rel, stage)
            if [str(d) for d in deps if is_source(str(d)) or str(d) == want] == [want] and str(deps[0]) == want:
                continue
            others = [(d, deps.ca.items.get(i)) for i, d in enumerate(deps) if not is_source(str(d)) and str(d) != want]
            deps.clear()
            deps.ca.items.clear()
            deps.extend([want] + [d for d, _ in others])
            for i, (_, comment) in enumerate(others, start=1):   # an item's end-of-line comment moves with it
                if comment is not None:
                    deps.ca.items[i] = comment
            changed.append(f"{rel}:{stage}")
        if len(changed) > before:
            with pipeline.open("w") as fh:
                yaml.dump(doc, fh)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m brats_mlops.utils.stage_deps", description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="make every stage of every dvc.yaml depend on its code manifest")
    ap.add_argument("--manifests", action="store_true", help=f"write every stage's code manifest into {MANIFEST_DIR}/")
    args = ap.parse_args(argv)
    try:
        _root()
    except FileNotFoundError as err:   # run outside a project (a non-editable install): one line, not a traceback
        print(f"error: {err}: run it in the project's root, where dvc.yaml is", file=sys.stderr)
        return 2
    if args.manifests:
        print(f"{len(write_manifests())} code manifests written to {MANIFEST_DIR}/")
        return 0
    if args.write:
        changed = write()
        print("updated: " + ", ".join(changed) if changed else "every stage already depends on its code manifest")
        return 0
    problems = check()
    for stage, items in problems.items():
        print(f"{stage}: " + ", ".join(items))
    if problems:
        print("run `make deps` (python -m brats_mlops.utils.stage_deps --write), then `dvc status`", file=sys.stderr)
        return 1
    print("every stage depends on its code manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
