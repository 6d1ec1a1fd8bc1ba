"""The train_segmentation stage killed with SIGKILL mid-run and started again: same MLflow run, every epoch
logged exactly once, and the same final metrics as an uninterrupted run."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from brats_mlops.utils import faults
from tests.conftest import TINY_SEG
from tests.killing import start_paused

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
    # stopped after epoch 2's last.pt and before epoch 2 reached MLflow: the restart must log it (and only it) once
    proc = start_paused(cmd, proj, env, faults.EPOCH_CHECKPOINTED, 2)
    last = proj / "models" / "segmentation" / "last.pt"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert torch.load(last, weights_only=True)["epoch"] == 3           # epochs 0-2 done, killed where we chose
    assert [s for k, s, _ in _history(proj)[0] if k == "train_loss"] == [0, 1]   # epoch 2 not logged yet
    subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True, timeout=600)
    hist, n_runs = _history(proj)
    assert n_runs == 1  # the same MLflow run continued
    assert [(k, s) for k, s, _ in hist] == [(k, s) for k, s, _ in ref_hist]  # every epoch exactly once
    for (_, _, v), (_, _, v_ref) in zip(hist, ref_hist):
        assert v == pytest.approx(v_ref, rel=1e-5, abs=1e-7)
