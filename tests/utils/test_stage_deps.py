"""Every project module a DVC stage can import is among its deps (utils/stage_deps.py)."""

from pathlib import Path

from brats_mlops.utils import stage_deps

ROOT = Path(__file__).resolve().parents[2]


def test_every_stage_of_every_pipeline_lists_the_modules_it_imports():
    problems = stage_deps.check(ROOT)
    assert problems == {}, "run `make deps`:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


def _toy(root: Path) -> None:
    (root / "pipelines").mkdir(parents=True)
    (root / "src" / "brats_mlops" / "sub").mkdir(parents=True)
    (root / "pipelines" / "__init__.py").write_text("")
    (root / "pipelines" / "s.py").write_text("from brats_mlops import a\n")
    (root / "src" / "brats_mlops" / "__init__.py").write_text("")
    (root / "src" / "brats_mlops" / "a.py").write_text("def f():\n    from .sub.b import g  # imported only when f runs\n    return g\n")
    (root / "src" / "brats_mlops" / "sub" / "__init__.py").write_text("")
    (root / "src" / "brats_mlops" / "sub" / "b.py").write_text("import numpy\ng = 1\n")
    (root / "src" / "brats_mlops" / "unused.py").write_text("")
    (root / "dvc.yaml").write_text("stages:\n  s:\n    cmd: python -m pipelines.s\n    deps:\n      - pipelines/s.py\n"
                                   "      - src/brats_mlops/a.py\n      - data/in   # the data\n    outs:\n      - out\n")


def test_a_module_reached_inside_a_function_two_imports_away_is_required_then_written(tmp_path):
    _toy(tmp_path)
    assert stage_deps.check(tmp_path) == {"dvc.yaml:s": ["pipelines/__init__.py", "src/brats_mlops/__init__.py",
                                                         "src/brats_mlops/sub/__init__.py", "src/brats_mlops/sub/b.py"]}
    assert stage_deps.write(tmp_path) == ["dvc.yaml:s"]
    assert stage_deps.check(tmp_path) == {}
    text = (tmp_path / "dvc.yaml").read_text()
    assert "      - src/brats_mlops/sub\n" in text             # a package used whole is listed as its folder
    assert "unused.py" not in text and "- data/in   # the data" in text   # other deps and their comments stay
    assert stage_deps.write(tmp_path) == []                  # idempotent


def test_a_listed_source_file_that_no_longer_exists_is_reported(tmp_path):
    _toy(tmp_path)
    stage_deps.write(tmp_path)
    (tmp_path / "src" / "brats_mlops" / "sub" / "b.py").unlink()
    (tmp_path / "src" / "brats_mlops" / "a.py").write_text("")
    assert stage_deps.check(tmp_path) == {}                  # the folder dep still exists and covers what is imported
    (tmp_path / "dvc.yaml").write_text((tmp_path / "dvc.yaml").read_text().replace("src/brats_mlops/a.py", "src/brats_mlops/gone.py"))
    assert stage_deps.check(tmp_path)["dvc.yaml:s"][-1] == "src/brats_mlops/gone.py (does not exist)"
