import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from brats_mlops.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "segmentation.json").write_text(json.dumps(
        {"dice_wt": 0.85, "dice_tc": 0.8, "dice_et": 0.75, "dice_wt_post": 0.86, "hd95_et": 3.5, "n_cases": 9, "evaluated_on": "test"}))
    (tmp_path / "metrics" / "survival.json").write_text(json.dumps(
        {"selected": {"model": "svm", "macro_f1_ci": [0.3, 0.9]}, "time_to_event": [{"feature_set": "age", "c_index": 0.61}]}))
    return tmp_path


def test_metrics_one_readable_table_per_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(_project(tmp_path))
    r = CliRunner().invoke(app, ["metrics"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(line) for line in lines) <= 160  # `dvc metrics show` puts everything on one line
    row = next(line for line in lines if line.strip("│ ").startswith("dice "))
    assert "0.85" in row and "0.8" in row and "0.75" in row  # WT, TC, ET side by side
    assert any("dice_post" in line and "0.86" in line for line in lines)
    assert any("selected.macro_f1_ci" in line and "[0.3, 0.9]" in line for line in lines)
    assert "survival: time_to_event" in r.output and "0.61" in r.output
    r = CliRunner().invoke(app, ["metrics", "survival", "--json"])
    assert json.loads(r.output)["survival"]["selected"]["model"] == "svm"


def test_metrics_of_an_unknown_stage_lists_the_available_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(_project(tmp_path))
    r = CliRunner().invoke(app, ["metrics", "nope"])
    assert r.exit_code == 2 and "available: segmentation, survival" in r.output.replace("\n", "")
