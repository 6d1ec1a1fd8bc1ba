"""Distributed data-parallel training: ``torchrun --nproc_per_node 2 -m pipelines.train_segmentation`` on CPU (gloo)
trains into one MLflow run, each epoch logged once, each rank taking ceil(ceil(n/2)/batch) optimiser steps per
epoch; a killed DDP training resumes in the same run; ranks hold identical weights."""

import json
import math
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from brats_mlops.utils import faults
from tests.killing import start_paused
from tests.training.test_kill_resume_stage import _project

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "pipelines.train_segmentation"]


def _metrics(proj: Path) -> tuple[dict[str, list[tuple[int, float]]], list[str]]:
    with sqlite3.connect(proj / "mlflow.db") as db:
        runs = [r[0] for r in db.execute("select status from runs where name = 'train_segmentation'")]
        rows = db.execute("select m.key, m.step, m.value from metrics m join runs r on m.run_uuid = r.run_uuid "
                          "where r.name = 'train_segmentation' order by m.key, m.step").fetchall()
    out: dict[str, list[tuple[int, float]]] = {}
    for k, s, v in rows:
        out.setdefault(k, []).append((s, v))
    return out, runs


@pytest.mark.slow
@pytest.mark.xdist_group("kill")
def test_torchrun_two_cpu_ranks_one_mlflow_run(tiny_preprocessed, tmp_path):
    proj, env = _project(tmp_path, tiny_preprocessed)
    env["OMP_NUM_THREADS"] = "1"
    r = subprocess.run(TORCHRUN, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "rank 1 of 2 (gloo)" in r.stderr and "rank 0 of 2 (gloo)" in r.stderr
    m, runs = _metrics(proj)
    assert runs == ["FINISHED"]                                       # one run, rank 0's
    epochs = 5
    assert [s for s, _ in m["train_loss"]] == list(range(epochs))     # each epoch exactly once
    n_train = len(tiny_preprocessed[2]["train"])
    steps = math.ceil(math.ceil(n_train / 2) / 2)                     # batch_size 2, 2 ranks
    assert [v for _, v in m["optimizer_steps"]] == [steps] * epochs
    losses = [v for _, v in m["train_loss"]]
    assert losses[-1] < losses[0]                                      # it learns
    ck = torch.load(proj / "models" / "segmentation" / "last.pt", weights_only=True)
    assert ck["epoch"] == epochs and not any(k.startswith("module.") for k in ck["model"])   # bare module's weights
    assert json.loads((proj / "metrics" / "segmentation_train.json").read_text())["epochs"] == epochs


@pytest.mark.slow
@pytest.mark.xdist_group("kill")
def test_killed_ddp_training_resumes_in_the_same_run(tiny_preprocessed, tmp_path):
    proj, env = _project(tmp_path, tiny_preprocessed)
    env["OMP_NUM_THREADS"] = "1"
    proc = start_paused(TORCHRUN, proj, env, faults.EPOCH_CHECKPOINTED, 2, start_new_session=True)   # both ranks wait there
    last = proj / "models" / "segmentation" / "last.pt"
    import psutil

    ranks = psutil.Process(proc.pid).children(recursive=True)           # torchrun starts each rank in its own session
    assert len([r for r in ranks if "pipelines.train_segmentation" in " ".join(r.cmdline())]) == 2
    for p in [psutil.Process(proc.pid), *ranks]:                         # a crashed node: launcher and ranks at once
        p.send_signal(signal.SIGKILL)
    proc.wait()
    psutil.wait_procs(ranks, timeout=30)
    assert torch.load(last, weights_only=True)["epoch"] == 3
    r = subprocess.run(TORCHRUN, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    m, runs = _metrics(proj)
    assert len(runs) == 1 and runs[0] == "FINISHED"                   # the killed run was continued
    assert [s for s, _ in m["train_loss"]] == [0, 1, 2, 3, 4]          # every epoch exactly once


@pytest.mark.slow
@pytest.mark.xdist_group("kill")
def test_torchrun_trains_the_autoencoder_stage_into_one_run(tiny_preprocessed, tmp_path):
    """The autoencoder stage under torchrun (its discriminator is frozen within a step, so gradients are averaged
    by hand): one MLflow run with every epoch once, one registered version, rank 0's checkpoint."""
    import yaml

    from tests.training.test_autoencoder_training import TINY_AE

    proj, env = _project(tmp_path, tiny_preprocessed)
    p = yaml.safe_load((proj / "params.yaml").read_text())
    p["autoencoder"] = {**TINY_AE, "epochs": 3, "grad_accum": 1, "figure_cases": 1}
    p["preprocess"]["autoencoder"] = {"shape": [8, 8, 8]}
    (proj / "params.yaml").write_text(yaml.safe_dump(p))
    env["OMP_NUM_THREADS"] = "1"
    cmd = [*TORCHRUN[:-1], "pipelines.train_autoencoder"]
    r = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    with sqlite3.connect(proj / "mlflow.db") as db:
        runs = [x[0] for x in db.execute("select status from runs where name = 'train_autoencoder'")]
        steps = [x[0] for x in db.execute("select m.step from metrics m join runs r on m.run_uuid = r.run_uuid "
                                          "where r.name = 'train_autoencoder' and m.key = 'train_l1' order by m.step")]
        versions = db.execute("select count(*) from model_versions where name = 'brats-autoencoder'").fetchone()[0]
    assert runs == ["FINISHED"] and steps == [0, 1, 2] and versions == 1
    assert torch.load(proj / "models" / "autoencoder" / "last.pt", weights_only=True)["epoch"] == 3
