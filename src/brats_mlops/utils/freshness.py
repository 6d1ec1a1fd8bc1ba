"""Do this checkout's outputs still describe its code, params and data? ``dvc status`` of every pipeline, in words.

Used by ``brats-mlops status`` and at the top of ``brats-mlops where``, so nobody reads metrics that a later change
to a source file, a param or the data has made stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from brats_mlops.utils.stage_deps import CODE_STAGE, MANIFEST_DIR, is_source, stale_stages

PIPELINES = {"dvc.yaml": "default", "slices/dvc.yaml": "2-D slices", "nnunet/dvc.yaml": "nnU-Net", "tune/dvc.yaml": "tuning"}


@dataclass
class StageStatus:
    stage: str
    code: list[str] = field(default_factory=list)       # changed source deps (pipelines/, src/)
    data: list[str] = field(default_factory=list)       # changed data/model deps
    params: list[str] = field(default_factory=list)     # changed params keys
    outs_missing: list[str] = field(default_factory=list)
    outs_changed: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)      # changed command, never run, ...

    @property
    def unbuilt(self) -> bool:
        return bool(self.outs_missing) or (bool(self.data) and all(d.endswith(" deleted") for d in self.data)
                                            and not self.outs_changed)

    def words(self) -> str:
        parts = []
        if self.code:
            parts.append("code changed (" + ", ".join(self.code[:4]) + (", ..." if len(self.code) > 4 else "") + ")")
        if self.params:
            parts.append("params changed (" + ", ".join(self.params) + ")")
        if self.data:
            parts.append("inputs changed (" + ", ".join(self.data) + ")")
        if self.outs_changed:
            parts.append("outputs edited or replaced by hand (" + ", ".join(self.outs_changed) + ")")
        if self.outs_missing:
            parts.append("outputs missing (" + ", ".join(self.outs_missing) + ")")
        parts += self.other
        return f"{self.stage}: " + "; ".join(parts)


@dataclass
class PipelineStatus:
    file: str
    name: str
    stages: list[StageStatus]
    n_stages: int

    @property
    def up_to_date(self) -> bool:
        return not self.stages

    @property
    def not_built(self) -> bool:
        """The pipeline was not run (or pulled) in this checkout: every stage misses outputs or only misses inputs
        (the outputs of stages before it), e.g. a report whose committed page is there but nothing it is made from."""
        return len(self.stages) == self.n_stages and all(s.unbuilt for s in self.stages)


def _stage_status(name: str, changes: list) -> StageStatus:
    st = StageStatus(name.split(":")[-1])
    for ch in changes:
        if isinstance(ch, str):
            st.other.append(ch)
            continue
        for path, what in (ch.get("changed deps") or {}).items():
            if isinstance(what, dict):          # params file: {key: modified|new|deleted}
                st.params += [str(k) for k in what]
            elif is_source(path) or path.startswith(MANIFEST_DIR + "/"):   # its code manifest: rewritten by `code`
                st.code.append(path)
            else:
                st.data.append(f"{path} {what}")
        for path, what in (ch.get("changed outs") or {}).items():
            (st.outs_missing if what in ("deleted", "not in cache") else st.outs_changed).append(path)
    return st


def pipeline_status(root: Path) -> list[PipelineStatus]:
    """``dvc status`` of each pipeline file present under ``root``, with the code changes DVC cannot see yet: after a
    source change DVC reports only the ``code`` stage (its folders changed); the stages whose own files changed are
    found by comparing each stage's code manifest with its sources (``utils/stage_deps.py``)."""
    from dvc.repo import Repo

    from brats_mlops.utils.yamlio import read_yaml

    stale = stale_stages(root)
    out = []
    with Repo(str(root)) as repo:
        for file, name in PIPELINES.items():
            if not (root / file).is_file():
                continue
            n = len((read_yaml(root / file) or {}).get("stages", {}))
            stages = {k.split(":")[-1]: _stage_status(k, v) for k, v in repo.status(targets=[file]).items()}
            code = stages.pop(CODE_STAGE, None)   # a change to files no stage runs leaves every result valid
            if code is not None and (code.outs_missing or code.outs_changed):
                stages[CODE_STAGE] = code
            for (f, stage), files in stale.items():
                if f == file:
                    st = stages.setdefault(stage, StageStatus(stage))
                    st.code = files + [c for c in st.code if c not in files]
            out.append(PipelineStatus(file, name, list(stages.values()), n))
    return out


def report(statuses: list[PipelineStatus]) -> tuple[bool, list[str]]:
    """(every built pipeline is up to date, lines to print)."""
    lines, fresh = [], True
    for p in statuses:
        if p.up_to_date:
            lines.append(f"  {p.name} ({p.file}): up to date with its lock file")
        elif p.not_built:
            lines.append(f"  {p.name} ({p.file}): not built in this checkout (`dvc repro {p.file}`, or `dvc pull`)")
        else:
            fresh = False
            lines.append(f"  {p.name} ({p.file}): STALE — {len(p.stages)} stage(s) no longer match what produced their "
                         f"outputs; their metrics and reports describe an older state. Run `dvc repro {p.file}`:")
            lines += [f"    - {s.words()}" for s in p.stages]
    return fresh, lines
