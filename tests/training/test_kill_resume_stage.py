"""The train_segmentation stage killed with SIGKILL mid-run and started again: same MLflow run, every epoch
logged exactly once, and the same final metrics as an uninterrupted run."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import TINY_SEG

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp: Path, tiny_preprocessed) -> tuple[Path, dict]:
    out, plans, split = tiny_preprocessed
    proj = tmp / "proj"
    (proj / "data" / "splits").mkdir(parents=True)
    shutil.copytree(out, proj / "data" / "preprocessed")
    (proj / "data" / "splits" / "segmentation.json").write_text(json.dumps(split))
    params = {"preprocess": {"crop_size": [16, 16, 16]}, "segmentation": {**TINY_SEG, "epochs": 5}, "tracking": {"hash_inputs": False}}
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(BRATS_NO_PROGRESS="1", PYTHONPATH=str(ROOT))
    return proj, env


def _history(proj: Path) -> tuple[list[tuple], int]:
    with sqlite3.connect(proj / "mlflow.db") as db:
        rows = db.execute("select m.key, m.step, m.value from metrics m join runs r on m.run_uuid = r.run_uuid "
                          "where r.name = 'train_segmentation' and m.key in ('train_loss', 'val_dice_composite') "
                          "order by m.key, m.step").fetchall()
        n_runs = db.execute("select count(*) from runs where name = 'train_segmentation'").fetchone()[0]
    return rows, n_runs


@pytest.mark.slow
@pytest.mark.xdist_group("kill")
def test_sigkill_then_resume(tiny_preprocessed, tmp_path):
    cmd = [sys.executable, "-m", "pipelines.train_segmentation"]
    ref, env = _project(tmp_path / "ref", tiny_preprocessed)
    subprocess.run(cmd, cwd=ref, env=env, check=True, capture_output=True, timeout=600)
    ref_hist, _ = _history(ref)
    assert [s for k, s, _ in ref_hist if k == "train_loss"] == [0, 1, 2, 3, 4]

    proj, env = _project(tmp_path / "killed", tiny_preprocessed)
    proc = subprocess.Popen(cmd, cwd=proj, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = proj / "models" / "segmentation" / "last.pt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if last.is_file():
            try:
                if torch.load(last, weights_only=True)["epoch"] >= 2:
                    break
            except Exception:  # being replaced right now
                pass
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert torch.load(last, weights_only=True)["epoch"] < 5
    subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True, timeout=600)
    hist, n_runs = _history(proj)
    assert n_runs == 1  # the same MLflow run continued
    assert [(k, s) for k, s, _ in hist] == [(k, s) for k, s, _ in ref_hist]  # every epoch exactly once
    for (_, _, v), (_, _, v_ref) in zip(hist, ref_hist):
        assert v == pytest.approx(v_ref, rel=1e-5, abs=1e-7)
