"""Every project module a DVC stage can import is in its code manifest, which the stage depends on
(utils/stage_deps.py)."""

import json
from pathlib import Path

import pytest

from brats_mlops.errors import UserError
from brats_mlops.utils import stage_deps

ROOT = Path(__file__).resolve().parents[2]


def test_every_stage_of_every_pipeline_depends_on_its_code_manifest():
    problems = stage_deps.check(ROOT)
    assert problems == {}, "run `make deps`:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_default_pipelines_manifests_cover_what_a_stage_imports():
    m = stage_deps.manifest(ROOT, "pipelines.train_segmentation")
    # reached only through other modules, and inside functions (the channels-last layout, imported by the trainer)
    assert "src/brats_mlops/training/layout.py" in m["files"] and "pipelines/train_segmentation.py" in m["files"]
    assert "src/brats_mlops/survival/models.py" not in m["files"]      # ... and not what it never imports


CODE = "  code:\n    cmd: python -m brats_mlops.utils.stage_deps --manifests\n    deps:\n      - pipelines\n" \
       "      - src/brats_mlops\n    outs:\n      - data/code\n"


def _toy(root: Path) -> None:
    (root / "pipelines").mkdir(parents=True)
    (root / "src" / "brats_mlops" / "sub").mkdir(parents=True)
    (root / "pipelines" / "__init__.py").write_text("")
    (root / "pipelines" / "s.py").write_text("from brats_mlops import a\n")
    (root / "pipelines" / "t.py").write_text("import brats_mlops\n")
    (root / "src" / "brats_mlops" / "__init__.py").write_text("")
    (root / "src" / "brats_mlops" / "a.py").write_text("def f():\n    from .sub.b import g  # imported only when f runs\n    return g\n")
    (root / "src" / "brats_mlops" / "sub" / "__init__.py").write_text("")
    (root / "src" / "brats_mlops" / "sub" / "b.py").write_text("import numpy\ng = 1\n")
    (root / "src" / "brats_mlops" / "unused.py").write_text("")
    (root / "dvc.yaml").write_text("stages:\n" + CODE + "  s:\n    cmd: python -m pipelines.s\n    deps:\n      - pipelines/s.py\n"
                                   "      - src/brats_mlops/a.py\n      - data/in   # the data\n    outs:\n      - out\n"
                                   "  t:\n    cmd: python -m pipelines.t\n    deps:\n      - data/code/default.t.json\n")


def test_listed_source_files_become_the_manifest_dependency(tmp_path):
    _toy(tmp_path)
    assert stage_deps.check(tmp_path) == {"dvc.yaml:s": ["data/code/default.s.json (not a dep)",
                                                         "pipelines/s.py (listed: the manifest covers it)",
                                                         "src/brats_mlops/a.py (listed: the manifest covers it)"]}
    assert stage_deps.write(tmp_path) == ["dvc.yaml:s"]
    assert stage_deps.check(tmp_path) == {}
    text = (tmp_path / "dvc.yaml").read_text()
    assert "      - data/code/default.s.json\n      - data/in   # the data\n" in text   # other deps and comments stay
    assert stage_deps.write(tmp_path) == []                  # idempotent
    (tmp_path / "dvc.yaml").write_text(text.replace("      - src/brats_mlops\n", ""))
    assert stage_deps.check(tmp_path) == {"dvc.yaml:code": ["deps: src/brats_mlops"]}


def test_a_manifest_changes_with_the_stages_own_files_only(tmp_path, monkeypatch):
    _toy(tmp_path)
    stage_deps.write(tmp_path)
    assert sorted(stage_deps.write_manifests(tmp_path)) == ["data/code/default.s.json", "data/code/default.t.json"]
    s = json.loads((tmp_path / "data/code/default.s.json").read_text())
    # reached inside a function two imports away, with every parent package; not the module nobody imports
    assert sorted(s["files"]) == ["pipelines/__init__.py", "pipelines/s.py", "src/brats_mlops/__init__.py",
                                  "src/brats_mlops/a.py", "src/brats_mlops/sub/__init__.py", "src/brats_mlops/sub/b.py"]
    before = {p.name: p.read_bytes() for p in (tmp_path / "data/code").iterdir()}
    assert stage_deps.stale_stages(tmp_path) == {}
    (tmp_path / "src/brats_mlops/unused.py").write_text("x = 1\n")
    assert stage_deps.stale_stages(tmp_path) == {}           # a file no stage runs
    (tmp_path / "src/brats_mlops/sub/b.py").write_text("import numpy\ng = 2\n")
    assert stage_deps.stale_stages(tmp_path) == {("dvc.yaml", "s"): ["src/brats_mlops/sub/b.py"]}
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"its code changed since data/code/default.s.json was written "
                                        r"\(src/brats_mlops/sub/b.py\): run `dvc repro`"):
        stage_deps.check_current("pipelines.s", tmp_path)
    stage_deps.check_current("pipelines.t", tmp_path)        # t's code did not change: it may run
    stage_deps.write_manifests(tmp_path)
    after = {p.name: p.read_bytes() for p in (tmp_path / "data/code").iterdir()}
    assert after["default.t.json"] == before["default.t.json"] and after["default.s.json"] != before["default.s.json"]
    (tmp_path / "src/brats_mlops/a.py").write_text("")     # an import removed: the closure shrinks
    assert stage_deps.stale_stages(tmp_path) == {("dvc.yaml", "s"): ["src/brats_mlops/a.py", "src/brats_mlops/sub/__init__.py",
                                                                      "src/brats_mlops/sub/b.py"]}


def test_outside_a_project_it_says_where_to_run_it(monkeypatch, capsys):
    def nowhere():
        raise FileNotFoundError("not inside the brats_mlops source tree (no dvc.yaml above src/brats_mlops)")

    monkeypatch.setattr(stage_deps, "_root", nowhere)
    assert stage_deps.main(["--manifests"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: not inside") and "dvc.yaml" in err[0]
