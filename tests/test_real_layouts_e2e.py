"""End to end on the dataset shapes researchers actually have: a BraTS 2023 layout without a survival table (with one
broken case that validation quarantines) and a tiny BraTS 2020 cohort: `dvc repro` must exit 0 with segmentation,
evaluation, autoencoder and report complete and the survival branch skipped with its reason. Then one test per
edition whose labels, modalities or scoring differ (MSD, 2024 PED, 2024 GLI with the cavity, MEN-RT): its stages up
to `evaluate_segmentation` run in the test's process (what DVC adds is the tests above; the stages' imports are paid
once per test worker instead of once per stage), then `brats-mlops predict` with the registered model."""

import json
import shutil
import sqlite3

import pytest
import yaml

from tests import builders
from tests.e2e import BIN, commit_all, make_clone, run

STAGES = ("validate", "preprocess", "split", "train_segmentation", "evaluate_segmentation", "bottleneck_pca",
          "segmentation_features", "train_autoencoder", "extract_latents", "survival", "report")


def _runs(dst):
    with sqlite3.connect(dst / "mlflow.db") as db:
        return db.execute("select r.name, r.status, t.value from runs r left join tags t on t.run_uuid = r.run_uuid "
                          "and t.key = 'brats.status'").fetchall()


def _assert_survival_skipped(dst, reason_part, whole_pipeline=True):
    split = json.loads((dst / "metrics" / "split.json").read_text())
    assert split["survival_status"] == "skipped" and reason_part in split["survival_reason"], split
    surv = json.loads((dst / "metrics" / "survival.json").read_text())
    assert surv["status"] == "skipped" and reason_part in surv["reason"] and "macro_f1" not in json.dumps(surv)
    assert "Skipped" in (dst / "reports" / "survival_table.md").read_text()
    if not whole_pipeline:
        return
    runs = _runs(dst)
    assert sorted((n, s) for n, s, _ in runs if n in STAGES) == sorted((s, "FINISHED") for s in STAGES)
    assert {n: t for n, _, t in runs if n in ("survival", "segmentation_features")} == {"survival": "skipped", "segmentation_features": "skipped"}
    index = (dst / "reports" / "index.html").read_text()
    assert "Skipped" in index and reason_part in index


UP_TO_EVALUATE = ("validate", "preprocess", "split", "train_segmentation", "evaluate_segmentation")


def _stages_in_process(dst, monkeypatch, stages=UP_TO_EVALUATE):
    """Run the stage modules' ``main`` in this process, in the clone ``dst``, logging to its own ``mlflow.db`` (as
    `dvc repro <last stage>` would, without DVC)."""
    import importlib

    from brats_mlops.utils.entry import run_stage

    monkeypatch.chdir(dst)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{dst / 'mlflow.db'}")
    for stage in stages:
        run_stage(importlib.import_module(f"pipelines.{stage}").main, stage)


def _layout_clone(tmp_path_factory, data, source: str, name: str, survival: dict | None = None, **data_params):
    """A clone whose params point at a copy of ``data`` (layout ``source``) under data/raw/<name>."""

    def edit(p):
        p["data"].update(source=source, root=f"data/raw/{name}", **data_params)
        p["survival"].update(survival or {})
        if "modalities" in data_params:
            p["preprocess"]["autoencoder"]["modality"] = data_params["modalities"][0]
        return p

    dst, env = make_clone(tmp_path_factory.mktemp(f"clone_{name}") / "brats_mlops", edit)
    shutil.copytree(data, dst / "data" / "raw" / name)
    return dst, env


def _repro_on(tmp_path_factory, data, source: str, name: str, target: str | None = None, **survival):
    """:func:`_layout_clone`, then `dvc repro` (of ``target`` and what it needs)."""
    dst, env = _layout_clone(tmp_path_factory, data, source, name, survival)
    run([BIN / "dvc", "repro", *([target] if target else [])], dst, env)
    return dst, env


@pytest.mark.slow
@pytest.mark.xdist_group("e2e_real")
def test_brats2023_layout_without_survival_runs_end_to_end(tmp_path_factory):
    data = builders.brats2023_tiny(tmp_path_factory.mktemp("b23"), n=8, with_validation=False)
    broken = sorted((data / "ASNR-MICCAI-BraTS2023-GLI-Challenge-TrainingData").iterdir())[-1]
    (broken / f"{broken.name}-t1c.nii.gz").unlink()  # a case missing a modality: quarantined, never a crash
    dst, env = _repro_on(tmp_path_factory, data, "brats2023", "brats2023")
    _assert_survival_skipped(dst, "no case has a usable survival class")
    # the quarantined case is in no output of preprocess or split
    plans = json.loads((dst / "data" / "preprocessed" / "plans.json").read_text())
    seg = json.loads((dst / "data" / "splits" / "segmentation.json").read_text())
    assert broken.name not in plans["cases"] and len(plans["cases"]) == 7
    assert broken.name not in sum(seg.values(), []) and sorted(sum(seg.values(), [])) == sorted(plans["cases"])
    assert not list((dst / "data" / "preprocessed").rglob(f"{broken.name}*"))
    # segmentation metrics: official BraTS 2023 keys, scored on the held-out test cases
    m = json.loads((dst / "metrics" / "segmentation.json").read_text())
    assert m["evaluated_on"] == "test" and m["n_cases"] == len(seg["test"]) >= 1
    for k in ("dice_wt", "lesion_dice_wt", "lesion_hd95_et", "dice_ncr", "dice_ed", "hd95_tc"):
        assert k in m and (0 <= m[k] <= 374), k
    # latents of the labelled cases still show the PCA (no survival cohort needed)
    assert "all labelled" in json.loads((dst / "metrics" / "latents.json").read_text())["cohort"]
    # a no-op repro afterwards
    assert "Data and pipelines are up to date" in run([BIN / "dvc", "repro"], dst, env).stdout


@pytest.mark.slow
@pytest.mark.xdist_group("e2e_tiny")
def test_tiny_brats2020_cohort_skips_survival_and_enabled_true_stops_with_one_line(tmp_path_factory):
    data = builders.tiny_synthetic(tmp_path_factory.mktemp("tiny") / "raw", n_train=6, n_validation=0, seed=5)
    table = data / "MICCAI_BraTS2020_TrainingData" / "survival_info.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join(lines[:-1]) + "\n")  # 5 of 6 cases with a survival row
    # the split decides, the survival stage records it (it needs no features when skipped: the BraTS 2023 test above
    # runs the whole pipeline around a skipped survival branch)
    dst, env = _repro_on(tmp_path_factory, data, "brats2020", "brats2020", "split", cv_folds=5)
    run([BIN / "python", "-m", "pipelines.survival"], dst, env)
    _assert_survival_skipped(dst, "5 of 6 labelled cases have a usable survival class", whole_pipeline=False)
    assert "1 no row in survival_info.csv" in json.loads((dst / "metrics" / "split.json").read_text())["survival_reason"]

    # survival.enabled: true on the same cohort: `split` stops with one line saying what to change, no traceback
    commit_all(dst, env, "repro split")
    p = yaml.safe_load((dst / "params.yaml").read_text())
    p["survival"]["enabled"] = True
    (dst / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    r = run([BIN / "python", "-m", "pipelines.split"], dst, env, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("error: split:")]
    assert len(err) == 1 and "survival.enabled is true" in err[0] and "5 of 6 labelled cases" in err[0] and "cv_folds" in err[0]
    with sqlite3.connect(dst / "mlflow.db") as db:
        failed = db.execute("select r.status, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
                            "where r.name = 'split' and t.key = 'brats.error'").fetchall()
    assert failed and failed[-1][0] == "FAILED" and "survival.enabled is true" in failed[-1][1]


@pytest.mark.slow
@pytest.mark.xdist_group("e2e_msd")
def test_msd_task01_layout_runs_end_to_end(tmp_path_factory, monkeypatch):
    """MSD Task01: 4-D images, labels 1 edema / 2 non-enhancing / 3 enhancing, macOS `._*` files, no survival table:
    read, validated, trained and scored (up to the evaluate stage)."""
    data = builders.msd_tiny(tmp_path_factory.mktemp("msd") / "Task01_BrainTumour", n=6)
    dst, env = _layout_clone(tmp_path_factory, data, "msd", "Task01_BrainTumour")
    _stages_in_process(dst, monkeypatch)  # survival skip: above
    v = json.loads((dst / "metrics" / "data_validation.json").read_text())
    assert v["source"] == "msd" and v["passed"] == 6 and v["quarantined"] == 0
    m = json.loads((dst / "metrics" / "segmentation.json").read_text())
    assert m["evaluated_on"] == "test" and 0 <= m["lesion_dice_wt"] <= 1


@pytest.mark.slow
@pytest.mark.xdist_group("e2e_ped")
def test_paediatric_2024_layout_detected_and_scored_with_its_own_profile(tmp_path_factory, monkeypatch):
    """`data.source: auto` on a BraTS 2024 PED folder (labels 1 ET, 2 NETC, 3 CC, 4 ED): detected from the naming and
    the dataset folder's year, trained on the internal regions, scored with 2025-PED (its label groups), and every
    run tagged with the edition."""
    data = builders.edition_tiny(tmp_path_factory.mktemp("ped") / "ped", "brats2024-ped", n=6)
    dst, env = _layout_clone(tmp_path_factory, data, "auto", "ped")
    _stages_in_process(dst, monkeypatch)
    v = json.loads((dst / "metrics" / "data_validation.json").read_text())
    assert v["source"] == "brats2024-ped" and v["passed"] == 6 and v["quarantined"] == 0
    m = json.loads((dst / "metrics" / "segmentation.json").read_text())
    assert (m["profile"], m["edition"]) == ("2025-PED", "brats2024-ped")
    assert {"lesion_dice_netc", "lesion_f1_ed", "nsd_wt", "dice_tc"} <= set(m) and 0 <= m["dice_wt"] <= 1
    with sqlite3.connect(dst / "mlflow.db") as db:
        tags = db.execute("select distinct value from tags where key = 'brats.edition'").fetchall()
        profile = db.execute("select t.value from tags t join runs r on r.run_uuid = t.run_uuid "
                             "where r.name = 'evaluate_segmentation' and t.key = 'brats.metric_profile'").fetchall()
    assert tags == [("brats2024-ped",)] and profile == [("2025-PED",)]


def _predict(dst, env, case):
    """`brats-mlops predict` with the registered challenger on one case folder: (label values written, its JSON)."""
    import nibabel as nib
    import numpy as np

    run([BIN / "brats-mlops", "predict", "--case", str(case), "--out", str(dst / "pred"), "--alias", "challenger"], dst, env)
    seg = np.asarray(nib.load(str(dst / "pred" / f"{case.name}_seg.nii.gz")).dataobj)
    return set(np.unique(seg).astype(int).tolist()), json.loads((dst / "pred" / f"{case.name}.json").read_text())


@pytest.mark.slow
@pytest.mark.xdist_group("e2e_gli2024")
def test_glioma_2024_trains_predicts_and_scores_the_resection_cavity(tmp_path_factory, monkeypatch):
    """BraTS 2024 GLI post-treatment (seed 002): the resection cavity (raw 4) is a trained label of its own (internal
    scheme glioma+rc), validated on during training, written back as 4 by `predict`, exported to nnU-Net as its own
    region, and the evaluate stage scores the 2024-GLI rule's six regions."""
    data = builders.edition_tiny(tmp_path_factory.mktemp("gli") / "gli", "brats2024-gli", n=6)
    dst, env = _layout_clone(tmp_path_factory, data, "auto", "gli")
    _stages_in_process(dst, monkeypatch)
    plans = json.loads((dst / "data" / "preprocessed" / "plans.json").read_text())
    assert plans["label_scheme"] == "glioma+rc" and plans["label_names"]["4"] == "resection cavity"
    m = json.loads((dst / "metrics" / "segmentation.json").read_text())
    assert (m["profile"], m["edition"]) == ("2024-GLI", "brats2024-gli")
    assert {"dice_rc", "lesion_dice_rc", "nsd05_snfh", "lesion_num_fp_netc", "dice_rc_post"} <= set(m) and 0 <= m["dice_rc"] <= 1
    hist = dst / "plots" / "segmentation_train.tsv"  # the stage's plot of the training curves
    assert "val_dice_rc" in hist.read_text().splitlines()[0]
    values, pred = _predict(dst, env, next(data.rglob("BraTS-GLI-00001-000")))
    assert values <= {0, 1, 2, 3, 4} and set(pred["volumes_cm3"]) == {"wt", "tc", "et", "rc"}
    assert pred["label_convention"] == "brats2024"


@pytest.mark.slow
@pytest.mark.xdist_group("e2e_menrt")
def test_men_rt_one_modality_one_region_runs_end_to_end(tmp_path_factory, monkeypatch):
    """BraTS 2024 MEN-RT: one T1c, one GTV label. `data.source: auto` detects it; the network learns the one region
    (scheme gtv), the evaluate stage scores 2025-MEN-RT, and `predict` writes 0/1. (Up to the evaluate stage: the
    autoencoder and survival branches do not depend on the labels; `python -m bench.bench_editions` runs every edition.)"""
    rt = builders.edition_tiny(tmp_path_factory.mktemp("rt") / "rt", "brats2024-men-rt", n=6)
    dst, env = _layout_clone(tmp_path_factory, data=rt, source="auto", name="rt", modalities=["t1ce"])
    _stages_in_process(dst, monkeypatch)
    plans = json.loads((dst / "data" / "preprocessed" / "plans.json").read_text())
    assert plans["label_scheme"] == "gtv" and plans["modalities"] == ["t1ce"]
    m = json.loads((dst / "metrics" / "segmentation.json").read_text())
    assert (m["profile"], m["edition"]) == ("2025-MEN-RT", "brats2024-men-rt")
    assert {"dice_gtv", "lesion_dice_gtv", "lesion_f1_gtv"} <= set(m) and 0 <= m["dice_gtv"] <= 1
    values, pred = _predict(dst, env, next(rt.rglob("BraTS-MEN-RT-0001-1")))
    assert values <= {0, 1} and set(pred["volumes_cm3"]) == {"gtv"} and pred["label_convention"] == "menrt"
