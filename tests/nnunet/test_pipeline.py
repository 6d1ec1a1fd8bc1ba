"""nnunet/dvc.yaml's stages on a tiny project: nnU-Net trains with every epoch in one MLflow run and resumes after a
SIGKILL in that run; the held-out cases are scored officially; the registered nnU-Net predicts a case folder in the
input's geometry; `compare` lists it as nnU-Net."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brats_mlops.data.io import load_image
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import segmentation_split
from brats_mlops.utils import faults
from tests.builders import tiny_synthetic
from tests.e2e import FLOOR_DICE_WT, trivial_dice_wt
from tests.killing import start_paused

ROOT = Path(__file__).resolve().parents[2]
MODS = ("t1", "t1ce", "t2", "flair")
EPOCHS = 6
ITERATIONS = 15   # enough for nnU-Net to learn the tiny cases (held-out Dice WT above the floor below)


def _stage(name: str, proj: Path, env: dict) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", f"pipelines.{name}"], cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _epochs(proj: Path, key: str = "train_loss") -> tuple[list[int], int]:
    with sqlite3.connect(proj / "mlflow.db") as db:
        steps = [s for (s,) in db.execute("select m.step from metrics m join runs r on m.run_uuid = r.run_uuid where "
                                          "r.name = 'nnunet_train' and m.key = ? order by m.step", (key,)).fetchall()]
        n_runs = db.execute("select count(*) from runs where name = 'nnunet_train'").fetchone()[0]
    return steps, n_runs


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    proj = tmp_path_factory.mktemp("nnunet") / "proj"
    root = tiny_synthetic(proj / "data" / "raw" / "synthetic", n_train=8, n_validation=0)
    ids = [c.case_id for c in discover("synthetic", root, MODS).cases]
    (proj / "data" / "splits").mkdir(parents=True)
    (proj / "data" / "splits" / "segmentation.json").write_text(json.dumps(segmentation_split(ids, 0.25, 0, 0.25)))
    params = {"data": {"source": "synthetic", "root": "data/raw/synthetic"}, "tracking": {"hash_inputs": False},
              "nnunet": {"epochs": EPOCHS, "iterations_per_epoch": ITERATIONS, "val_iterations_per_epoch": 1, "augmentation_workers": 0,
                         "preprocess_workers": 1}}
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_URI", "nnUNet_"))}
    env.update(BRATS_NO_PROGRESS="1", PYTHONPATH=str(ROOT), BRATS_THREADS="1")
    _stage("nnunet_prepare", proj, env)
    return proj, env


@pytest.mark.slow
@pytest.mark.xdist_group("nnunet")  # one worker: the module's project (prepared and trained once) serves both tests
def test_train_logs_every_epoch_once_and_resumes_after_sigkill(project):
    proj, env = project
    pre = proj / "data" / "nnunet" / "preprocessed" / "Dataset500_BraTSPlatform"
    assert {"nnUNetPlans.json", "dataset_fingerprint.json", "splits_final.json"} <= {p.name for p in pre.iterdir()}
    split = json.loads((proj / "data" / "splits" / "segmentation.json").read_text())
    assert json.loads((pre / "splits_final.json").read_text()) == [{"train": split["train"], "val": split["val"]}]

    # stopped right after epoch 2's checkpoint_latest.pth (epochs 0-2 logged): the restart resumes at epoch 3
    proc = start_paused([sys.executable, "-m", "pipelines.nnunet_train"], proj, env, faults.NNUNET_CHECKPOINTED, 2,
                        start_new_session=True)
    fold = proj / "models" / "nnunet" / "Dataset500_BraTSPlatform" / "nnUNetTrainer_Platform__nnUNetPlans__3d_fullres" / "fold_0"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(_epochs(proj)[0])
    assert killed_at == 3 and not (fold / "checkpoint_final.pth").exists()

    _stage("nnunet_train", proj, env)
    steps, n_runs = _epochs(proj)
    assert n_runs == 1 and steps == list(range(EPOCHS))  # one MLflow run, every epoch exactly once
    for key in ("val_loss", "pseudo_dice", "pseudo_dice_wt", "pseudo_dice_et", "lr", "epoch_time_s"):
        assert _epochs(proj, key)[0] == list(range(EPOCHS)), key
    assert (fold / "checkpoint_final.pth").is_file()
    assert json.loads((proj / "metrics" / "nnunet_train.json").read_text()) == {"epochs": EPOCHS, "iterations_per_epoch": ITERATIONS, "folds": [0]}
    with sqlite3.connect(proj / "mlflow.db") as db:
        logged = dict(db.execute("select m.key, m.value from latest_metrics m join runs r on m.run_uuid = r.run_uuid "
                                 "where r.name = 'nnunet_train' and m.key in ('resumed', 'train_time_s')").fetchall())
    assert logged["resumed"] == 1.0 and logged["train_time_s"] > 0


@pytest.mark.slow
@pytest.mark.xdist_group("nnunet")
def test_evaluate_registers_a_model_that_predicts_in_the_inputs_geometry(project):
    proj, env = project
    fold = proj / "models" / "nnunet" / "Dataset500_BraTSPlatform" / "nnUNetTrainer_Platform__nnUNetPlans__3d_fullres" / "fold_0"
    if not (fold / "checkpoint_final.pth").is_file():
        _stage("nnunet_train", proj, env)
    _stage("nnunet_evaluate", proj, env)
    split = json.loads((proj / "data" / "splits" / "segmentation.json").read_text())
    m = json.loads((proj / "metrics" / "segmentation_nnunet.json").read_text())
    assert m["n_cases"] == len(split["test"]) and m["evaluated_on"] == "test"
    background, whole_brain = trivial_dice_wt(proj, split["test"])
    assert background == 0.0 and whole_brain < FLOOR_DICE_WT - 0.3 <= m["dice_wt"] - 0.3, (whole_brain, m["dice_wt"])

    code = """
import json, sys, mlflow, numpy as np
mlflow.set_tracking_uri("sqlite:///mlflow.db")
from mlflow.tracking import MlflowClient
v = MlflowClient().get_model_version_by_alias("brats-segmentation-nnunet", "challenger")
lab = mlflow.pyfunc.load_model(f"models:/brats-segmentation-nnunet/{v.version}").predict(sys.argv[1])
print(json.dumps({"shape": list(np.shape(lab)), "labels": sorted(np.unique(lab).tolist()), "tags": v.tags}))
"""
    case = proj / "data" / "raw" / "synthetic" / "MICCAI_BraTS2020_TrainingData" / split["test"][0]
    r = subprocess.run([sys.executable, "-c", code, str(case)], cwd=proj, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    shape = load_image(next(c for c in discover("synthetic", proj / "data/raw/synthetic", MODS).cases
                            if c.case_id == split["test"][0]).images["t1ce"], dtype=None)[0].shape
    assert tuple(out["shape"]) == shape
    assert set(out["labels"]) <= {0, 1, 2, 4}  # the input's (BraTS 2020) convention
    assert out["tags"]["brats.tta"] == "mirror" and out["tags"]["brats.folds"] == "0" and "metric.dice_brats" in out["tags"]

    r = subprocess.run([str(Path(sys.executable).parent / "brats-mlops"), "compare", "--group", "nnunet"], cwd=proj, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    table = (proj / "reports" / "ablations" / "nnunet.md").read_text()
    assert "nnU-Net v2 3d_fullres" in table and np.isfinite(m["dice_brats"])
    _stage("report_nnunet", proj, env)  # from the evaluate stages' cases.csv (here: nnU-Net's only), not from the store
    page = (proj / "reports" / "nnunet.html").read_text()
    assert "nnU-Net v2 3d_fullres" in page and "1000" in page and (proj / "reports" / "nnunet" / "comparison.png").is_file()
    assert "MLflow run" not in page and "train min" not in page  # nothing that differs between runs of the same inputs
