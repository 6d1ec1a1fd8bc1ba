"""The params reference, generated from ``params.yaml`` (defaults and their comments) and the params schema (types,
choices, bounds), so the documentation cannot drift from either: the docs build renders it
(``docs/hooks.py``) and ``tests/test_docs.py`` checks that every key of both is listed.

    python -m brats_mlops.config.reference [params.yaml]   # prints the Markdown page
"""

from __future__ import annotations

import re
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from brats_mlops.config.schema import Params

_KEY = re.compile(r"^(\s*)([A-Za-z_][\w-]*):(.*)$")


@dataclass
class Entry:
    key: str                  # dotted
    value: str                # as written in params.yaml ("" for a section)
    comment: list[str] = field(default_factory=list)


def _split_comment(rest: str) -> tuple[str, str]:
    quoted = False
    for i, ch in enumerate(rest):
        if ch in "'\"":
            quoted = not quoted
        elif ch == "#" and not quoted and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1:].strip()
    return rest.strip(), ""


def yaml_entries(text: str) -> list[Entry]:
    """Every key of a params file with its value and comment (a comment line indented past its key's value continues
    that key's comment; one at the key's own indentation introduces the next key)."""
    entries: list[Entry] = []
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            pending = []
            continue
        indent = len(line) - len(line.lstrip())
        if line.lstrip().startswith("#"):
            text_ = line.strip().lstrip("#").strip()
            if entries and stack and indent > stack[-1][0] + 2:
                entries[-1].comment.append(text_)
            else:
                pending.append(text_)
            continue
        m = _KEY.match(line)
        if not m or line.lstrip().startswith("- "):
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        value, comment = _split_comment(m.group(3))
        key = ".".join([k for _, k in stack] + [m.group(2)])
        stack.append((indent, m.group(2)))
        entries.append(Entry(key, value, pending + ([comment] if comment else [])))
        pending = []
    return entries


def schema_fields(model: type[BaseModel] = Params, prefix: str = "") -> dict[str, typing.Any]:
    """Dotted key (by alias, as params.yaml spells it) -> pydantic FieldInfo, sections included."""
    out: dict[str, typing.Any] = {}
    hints = typing.get_type_hints(model)  # resolves forward references ("TuneTrials")
    for name, f in model.model_fields.items():
        key = prefix + (f.alias or name)
        if isinstance(f.annotation, typing.ForwardRef) and name in hints:
            f = f.__class__.merge_field_infos(f, annotation=hints[name])
        out[key] = f
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(schema_fields(ann, key + "."))
    return out


def _type(f) -> str:
    ann = f.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "section"
    text = " | ".join(repr(a) for a in typing.get_args(ann)) if typing.get_origin(ann) is typing.Literal else (
        getattr(ann, "__name__", None) if isinstance(ann, type) else str(ann))
    text = re.sub(r"typing\.|<class '([\w.]+)'>", lambda m: m.group(1) or "", str(text)).replace("NoneType", "None")
    bounds = []
    for m in f.metadata:
        for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{sym} {getattr(m, attr)}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _kind(key: str, fields: dict[str, typing.Any]) -> str | None:
    """Type / allowed values of ``key``; an entry of a mapping (``tune.n_trials.survival``) has the mapping's value
    type; None: the schema does not know the key."""
    if key in fields:
        return _type(fields[key])
    parent = fields.get(key.rpartition(".")[0])
    if parent is not None and typing.get_origin(parent.annotation) is dict:
        args = typing.get_args(parent.annotation)
        return f"entry of a mapping ({getattr(args[1], '__name__', str(args[1])) if len(args) == 2 else 'any'})"
    return None


def render(params_yaml: str | Path = "params.yaml") -> str:
    """The Markdown page: one table per top-level section."""
    entries = yaml_entries(Path(params_yaml).read_text())
    fields = schema_fields()
    lines = ["# Parameters reference", "",
             "Every key of `params.yaml` with its default, its type or allowed values (from the params schema, "
             "`src/brats_mlops/config/`) and what it does (the file's own comments). Generated when the documentation "
             "is built, so it always matches both. A bad value stops a stage with one line naming the key "
             "(`brats-mlops check-params`); `brats-mlops preset apply NAME` merges a preset (see Presets).", ""]
    section = None
    for e in entries:
        top = e.key.split(".")[0]
        if top != section:
            section = top
            lines += ["", f"## `{top}`", ""]
            if "." not in e.key and e.comment:
                lines += [" ".join(e.comment), ""]
            lines += ["| key | default | type / allowed | what it does |", "|---|---|---|---|"]
            if "." not in e.key and not e.value:
                continue
        kind = _kind(e.key, fields) or "(not in the schema)"
        lines.append(f"| `{e.key}` | {'`' + _cell(e.value) + '`' if e.value else ''} | {_cell(kind)} | {_cell(' '.join(e.comment))} |")
    return "\n".join(lines) + "\n"


def undocumented(params_yaml: str | Path = "params.yaml") -> tuple[list[str], list[str]]:
    """(keys of params.yaml the schema does not know, leaf keys of the schema params.yaml does not show)."""
    keys = {e.key for e in yaml_entries(Path(params_yaml).read_text())}
    fields = schema_fields()
    leaves = {k for k, f in fields.items() if _type(f) != "section"}
    return sorted(k for k in keys if _kind(k, fields) is None), sorted(leaves - keys)


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1] if len(sys.argv) > 1 else "params.yaml"))
