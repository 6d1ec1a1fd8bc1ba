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


@pytest.mark.parametrize("part", ["training", "inference", "models", "metrics", "data", "losses"])
def test_nothing_below_the_registry_reaches_up_into_it_or_the_workflows(part):
    """Transfer learning's parent is resolved where the stage starts (workflows/train.py), not by the trainer."""
    offenders = [str(p.relative_to(ROOT)) for p in _py(SRC / part)
                 if any(m.startswith(("brats_mlops.registry", "brats_mlops.workflows")) for m in _imports(p))]
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
    assert "train_autoencoder(params" in (ROOT / "pipelines" / "train_autoencoder.py").read_text()
    # the stage trains its family (workflows/train.py), and the 3-D family trains through that same function
    assert "train_family(load_params(), get_family(" in (ROOT / "pipelines" / "train_segmentation.py").read_text()
    assert "train_segmentation(params" in (SRC / "families" / "volumetric.py").read_text()


def test_no_switch_on_the_kind_of_a_model_outside_the_families():
    """What differs between segmentation families is asked of the family (families/): nobody else reads a model
    config's ``kind`` to decide, and no ``two_d`` flag travels through the code."""
    import re

    switch = re.compile(r"""\b(mc|model_config)(\.get\(\s*["']kind["']|\[["']kind["']\])|\btwo_d\b""")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in _py(SRC, ROOT / "pipelines") if "families" not in p.parts
                 for i, line in enumerate(p.read_text().splitlines(), 1) if switch.search(line)]
    assert offenders == []


def test_every_evaluate_stage_is_the_one_evaluation_function():
    """The three evaluate stages (3-D, 2-D, nnU-Net) are one function (workflows/evaluate.py) given a family."""
    stages = ["evaluate_segmentation", "evaluate_segmentation_2d", "nnunet_evaluate"]
    assert "evaluate_family(load_params(), get_family(" in (ROOT / "pipelines" / "evaluate_segmentation.py").read_text()
    for st in stages[1:]:
        text = (ROOT / "pipelines" / f"{st}.py").read_text()
        assert "from pipelines.evaluate_segmentation import main" in text and "score_cases" not in text, st
    assert sum("score_cases(" in p.read_text() for p in _py(SRC / "workflows", ROOT / "pipelines")) == 1


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
