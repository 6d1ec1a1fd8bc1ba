"""segmentation.folds: k-fold cross-validation training of the platform's 3-D model, one nested MLflow run per fold,
fold 0 as the single model, a restarted k-fold training keeping the folds that had finished; and the fold ensemble
(evaluate.ensemble: folds) predicting the input's shape."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brats_mlops.data.readers import discover
from brats_mlops.data.splits import segmentation_split
from brats_mlops.inference.evaluate import evaluate_cases, load_evaluated
from brats_mlops.models.checkpoint import RUN_FILE
from tests.conftest import TINY_SEG

ROOT = Path(__file__).resolve().parents[2]
K = 3


def _runs(proj: Path) -> list[tuple]:
    with sqlite3.connect(proj / "mlflow.db") as db:
        return db.execute("select r.run_uuid, r.name, r.status, "
                          "(select value from tags t where t.run_uuid = r.run_uuid and t.key = 'mlflow.parentRunId'), "
                          "(select count(*) from metrics m where m.run_uuid = r.run_uuid and m.key = 'train_loss') "
                          "from runs r order by r.start_time").fetchall()


@pytest.mark.slow
def test_kfold_training_nested_runs_and_fold_ensemble(tiny_preprocessed, tiny_synth, tmp_path):
    out, plans, _ = tiny_preprocessed
    proj = tmp_path / "proj"
    (proj / "data" / "splits").mkdir(parents=True)
    shutil.copytree(out, proj / "data" / "preprocessed")
    split = segmentation_split(plans.labelled_ids(), 0.34, 0, 0.0, folds=K)
    (proj / "data" / "splits" / "segmentation.json").write_text(json.dumps(split))
    params = {"preprocess": {"crop_size": [16, 16, 16]}, "segmentation": {**TINY_SEG, "epochs": 2, "folds": K},
              "tracking": {"hash_inputs": False}}
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(BRATS_NO_PROGRESS="1", PYTHONPATH=str(ROOT), BRATS_THREADS="1")
    cmd = [sys.executable, "-m", "pipelines.train_segmentation"]
    r = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]

    runs = _runs(proj)
    parent = [x for x in runs if x[1] == "train_segmentation"]
    folds = [x for x in runs if x[1].startswith("fold_")]
    assert len(parent) == 1 and sorted(x[1] for x in folds) == [f"fold_{i}" for i in range(K)]
    assert all(x[3] == parent[0][0] and x[2] == "FINISHED" and x[4] == 2 for x in folds)  # nested, every epoch once
    ck = proj / "models" / "segmentation"
    assert all((ck / f"fold_{i}" / "best.pt").is_file() for i in range(K))
    assert (ck / "best.pt").read_bytes() == (ck / "fold_0" / "best.pt").read_bytes()  # fold 0 = the single model
    m = json.loads((proj / "metrics" / "segmentation_train.json").read_text())
    vals = [m[f"fold{i}_best_val_dice_composite"] for i in range(K)]
    assert m["cv_mean_best_val_dice_composite"] == pytest.approx(np.mean(vals)) and m["folds"] == K
    assert "train_time_s" not in m  # wall times go to MLflow only, the committed metrics file stays deterministic
    with sqlite3.connect(proj / "mlflow.db") as db:
        total = db.execute("select value from latest_metrics where run_uuid = ? and key = 'train_time_s'", (parent[0][0],)).fetchone()[0]
        per_fold = db.execute("select sum(m.value) from latest_metrics m join runs r on m.run_uuid = r.run_uuid "
                              "where r.name like 'fold_%' and m.key = 'train_time_s'").fetchone()[0]
    assert total == pytest.approx(per_fold)  # the stage run's training time is the folds' sum (compare's `train min`)

    # a killed k-fold training restarts in the same stage run and keeps the folds that had finished
    (ck / RUN_FILE).write_text(json.dumps({"run_id": parent[0][0], "kfold": K, "finished": False}))
    stamp = {i: (ck / f"fold_{i}" / "best.pt").stat().st_mtime_ns for i in range(K)}
    r = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    again = _runs(proj)
    assert [x[0] for x in again if x[1] == "train_segmentation"] == [parent[0][0]]  # the same stage run
    assert len([x for x in again if x[1].startswith("fold_")]) == K  # no fold retrained, no new nested run
    assert {i: (ck / f"fold_{i}" / "best.pt").stat().st_mtime_ns for i in range(K)} == stamp

    # the fold ensemble: every fold's network, the input's shape, labels in the internal convention
    models, best, paths = load_evaluated(ck, "folds")
    assert len(models) == K and paths[0].parent.name == "fold_0"
    cases = {c.case_id: c for c in discover("synthetic", tiny_synth, ("t1", "t1ce", "t2", "flair")).cases}
    cid = split["val"][0]
    single = next(evaluate_cases(models[0], best["model_config"], cases, [cid], 0))
    ens = next(evaluate_cases(models, best["model_config"], cases, [cid], 0, tta="mirror"))
    assert ens.pred.shape == single.pred.shape == single.gt.shape
    assert set(np.unique(ens.pred).tolist()) <= {0, 1, 2, 3}
    with pytest.raises(Exception, match="evaluate.ensemble: folds needs"):
        load_evaluated(tmp_path, "folds")
