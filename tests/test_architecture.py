"""The layering rules, checked on the source: MLflow only behind tracking/ and registry/; nothing below training/
imports it; checkpoint files are read in one place (models/serialization.py); no import circle between the
package's modules (function-level imports included); library files of at most 400 lines, stages of at most 80."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "brats_mlops"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _py(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in sorted(d.rglob("*.py"))]


def test_mlflow_is_imported_only_by_tracking_and_registry():
    offenders = [str(p.relative_to(ROOT)) for p in _py(SRC, ROOT / "pipelines")
                 if any(m == "mlflow" or m.startswith("mlflow.") for m in _imports(p))
                 and not any(part in ("tracking", "registry") for part in p.relative_to(SRC if SRC in p.parents else ROOT).parts)]
    assert offenders == []


@pytest.mark.parametrize("part", ["registry", "inference", "analysis", "models", "metrics", "data"])
def test_lower_layers_do_not_import_training(part):
    offenders = [str(p.relative_to(ROOT)) for p in _py(SRC / part) if any(m.startswith("brats_mlops.training") for m in _imports(p))]
    assert offenders == []


def test_only_models_loads_checkpoints():
    offenders = [str(p.relative_to(ROOT)) for p in _py(SRC, ROOT / "pipelines")
                 if "torch.load(" in p.read_text() and p != SRC / "models" / "serialization.py"]
    assert offenders == []


def test_no_library_file_over_400_lines_and_no_stage_over_80():
    big = [f"{p.relative_to(ROOT)}: {n}" for p in _py(SRC) if (n := len(p.read_text().splitlines())) > 400]
    fat = [f"{p.relative_to(ROOT)}: {n}" for p in _py(ROOT / "pipelines") if (n := len(p.read_text().splitlines())) > 80]
    assert big == [] and fat == []


def test_the_study_and_the_stage_train_through_the_same_function():
    import brats_mlops.tuning.objectives as obj
    from brats_mlops.training import autoencoder, segmentation

    assert obj.train_segmentation is segmentation.train_segmentation and obj.train_autoencoder is autoencoder.train_autoencoder
    for stage, fn in (("train_segmentation", "train_segmentation"), ("train_autoencoder", "train_autoencoder")):
        assert f"{fn}(params" in (ROOT / "pipelines" / f"{stage}.py").read_text()


def test_no_import_circle_between_modules():
    """Every ``brats_mlops`` module's imports (at any depth in the file) form a graph without cycles."""
    mods = {".".join(p.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__"): p for p in _py(SRC)}
    graph = {m: {i for i in _imports(p) if i in mods and i != m} for m, p in mods.items()}
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
