"""End to end in a temporary clone: `dvc repro` of the default pipeline, a no-op repro, code-change detection, the
registered models predicting and promoted; the 2-D pipeline beside it; a DVC remote; queued experiments (in DVC's
temporary copies) logging to the project's store and compared."""

import json
import sqlite3

import pytest

from tests.e2e import BIN, FLOOR_DICE_WT, make_clone, run, trivial_dice_wt, undeclared_params


def _run(cmd, cwd, env):
    r = run(cmd, cwd, env)
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    def edit(p):
        p["synthetic"].update(n_train=14, n_validation=2, shape=[32, 32, 24], spacing=[6.0, 6.0, 6.0], survival_fraction=1.0)
        # a model that learns in ~20 s of CPU: the crop holds the whole volume, 20 epochs (held-out Dice WT ~0.8)
        p["preprocess"]["crop_size"] = [32, 32, 24]
        p["segmentation"].update(channels=[8, 16, 32], epochs=20, lr=0.01, lr_min=0.001)
        p["segmentation"]["augmentation"]["enabled"] = False
        # the 2-D model too (~40 s; held-out Dice WT ~0.9): cross-entropy beside the weighted Dice, 10 epochs
        p["slices2d"].update(epochs=10, lr=0.01, batch_size=16)
        p["slices2d"]["loss"]["ce"] = 1.0
        return p

    return make_clone(tmp_path_factory.mktemp("clone") / "brats_mlops", edit)


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
def test_dvc_repro_then_noop_then_predict_and_promote(clone):
    dst, env = clone
    _run([str(BIN / "dvc"), "repro"], dst, env)
    m = json.loads((dst / "metrics" / "data_validation.json").read_text())
    assert m["cases_seen"] == 16 and m["quarantined"] == 0
    plans = json.loads((dst / "data" / "preprocessed" / "plans.json").read_text())
    assert len(plans["cases"]) == 16 and plans["crop_size"] == [32, 32, 24]
    seg = json.loads((dst / "data" / "splits" / "segmentation.json").read_text())
    assert len(seg["train"]) + len(seg["val"]) + len(seg["test"]) == 14 and len(seg["test"]) == 2
    assert (dst / "reports" / "data_validation.md").is_file() and (dst / "reports" / "label_distribution.md").is_file()
    out = _run([str(BIN / "dvc"), "repro"], dst, env)
    assert "Data and pipelines are up to date" in out
    # a module the stage reaches only through other modules (channels-last layout, imported by the trainer) is a dep
    layout = dst / "src" / "brats_mlops" / "training" / "layout.py"
    original = layout.read_text()
    layout.write_text(original + "\n# a change\n")
    # DVC sees the source folder change (the `code` stage, which rewrites the stages' code manifests) ...
    status = _run([str(BIN / "dvc"), "status", "dvc.yaml"], dst, env)
    assert "code:" in status and "modified:           src/brats_mlops" in status and "synthesize:" not in status, status
    # ... and `brats-mlops status` names the stages whose own code changed, exiting 1, so nobody reads stale metrics
    words = run([str(BIN / "brats-mlops"), "status"], dst, env, check=False)
    assert words.returncode == 1 and "default (dvc.yaml): STALE" in words.stdout, words.stdout + words.stderr
    assert "train_segmentation: code changed (src/brats_mlops/training/layout.py)" in words.stdout, words.stdout
    assert "synthesize:" not in words.stdout and "split:" not in words.stdout, words.stdout
    layout.write_text(original)
    assert "Data and pipelines are up to date" in _run([str(BIN / "dvc"), "status", "dvc.yaml"], dst, env)
    words = run([str(BIN / "brats-mlops"), "status"], dst, env, check=False)
    # (the 2-D and nnU-Net pipelines are rightly STALE in this clone: its committed metrics/segmentation_2d.json etc.
    # come from the repository's own data and params, not this clone's)
    assert "default (dvc.yaml): up to date" in words.stdout, words.stdout
    # every stage is a FINISHED run in the embedded store at the project root
    with sqlite3.connect(dst / "mlflow.db") as db:
        runs = db.execute("select name, status from runs").fetchall()
    stages = ("synthesize", "validate", "preprocess", "split", "train_segmentation", "evaluate_segmentation", "bottleneck_pca",
              "segmentation_features", "train_autoencoder", "extract_latents", "survival", "report")
    assert sorted(r for r in runs if r[0] in stages) == sorted([(s, "FINISHED") for s in stages])
    # lineage: every data-hash tag of a stage's run is the hash dvc.lock records for that dependency
    import yaml

    lock = yaml.safe_load((dst / "dvc.lock").read_text())["stages"]
    with sqlite3.connect(dst / "mlflow.db") as db:
        tags = db.execute("select r.name, t.key, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
                          "where t.key like 'brats.data_hash.%'").fetchall()
    checked = 0
    for stage, key, value in tags:
        deps = {d["path"]: d["md5"] for d in lock.get(stage, {}).get("deps", [])}
        path = key.removeprefix("brats.data_hash.")
        assert path in deps, (stage, path)  # the run tags exactly the declared dependencies
        assert value == deps[path], (stage, path)
        checked += value.endswith(".dir")
    assert checked >= 8  # folders included (data/raw/synthetic, data/preprocessed, models/segmentation, ...)
    # ... and the same inputs are MLflow datasets of the run (name = path, digest = DVC hash: the UI's Dataset column),
    # every stage run and experiment is described (issue 27)
    with sqlite3.connect(dst / "mlflow.db") as db:
        datasets = db.execute("select r.name, d.name, d.digest from inputs i join datasets d on d.dataset_uuid = i.source_id "
                              "join runs r on r.run_uuid = i.destination_id where i.destination_type = 'RUN'").fetchall()
        notes = dict(db.execute("select r.name, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
                                "where t.key = 'mlflow.note.content'").fetchall())
        exp_notes = db.execute("select count(*) from experiment_tags where key = 'mlflow.note.content'").fetchone()[0]
    assert {(s, k.removeprefix("brats.data_hash."), v) for s, k, v in tags} == set(datasets)
    assert all(f"DVC stage `{s}`" in notes[s] for s in stages), {s: notes.get(s, "")[:80] for s in stages}
    assert "| `dice_brats` |" in notes["evaluate_segmentation"] and "Upstream runs: [" in notes["evaluate_segmentation"]
    assert exp_notes == 4
    # one nested run per feature set x age under the survival run
    children = [r for r in runs if r[0] not in stages]
    assert sorted(n for n, _ in children) == sorted(["age_only", "segmentation_volumes", "segmentation_volumes + age",
                                                     "bottleneck", "bottleneck + age", "channel_stats", "channel_stats + age",
                                                     "coronal_profile", "coronal_profile + age", "flattened_latent",
                                                     "flattened_latent + age"])
    surv = json.loads((dst / "metrics" / "survival.json").read_text())
    assert 0 <= surv["selected"]["macro_f1"] <= 1 and len(surv["selected"]["macro_f1_ci"]) == 2
    assert "| feature set | age | model |" in (dst / "reports" / "survival_table.md").read_text()
    assert {r["model"] for r in surv["time_to_event"]} == {"cox"} and set(surv["registered"]) == {"feature_set", "model"}
    lat = json.loads((dst / "metrics" / "latents.json").read_text())
    assert lat["latent_shape"] == [3, 4, 4, 4] and lat["n_cases"] >= 10
    assert (dst / "reports" / "autoencoder" / "reconstructions.png").stat().st_size > 10_000
    index = (dst / "reports" / "index.html").read_text()
    for section in ("Data validation", "Segmentation", "Bottleneck PCA", "Autoencoder", "Survival", "MLflow run (survival): "):
        assert section in index, section
    assert "not found" not in index
    runs_js = (dst / "reports" / "runs.js").read_text()  # the run ids, kept out of the deterministic page
    assert runs_js.startswith("window.BRATS_RUNS = ") and all(f'"{s}": "' in runs_js for s in ("validate", "survival"))
    seg = json.loads((dst / "metrics" / "segmentation.json").read_text())
    for k in ("dice_wt", "dice_tc", "dice_et", "dice_brats", "iou_wt", "hd95_et", "lesion_dice_wt", "lesion_dice_et"):
        assert 0 <= seg[k] <= 374, k
    # the model learned: above a floor that the trivial predictors cannot reach
    background, whole_brain = trivial_dice_wt(dst, json.loads((dst / "data" / "splits" / "segmentation.json").read_text())["test"])
    assert background == 0.0 and whole_brain < FLOOR_DICE_WT - 0.3, (background, whole_brain)
    assert seg["dice_wt"] >= FLOOR_DICE_WT, seg["dice_wt"]
    assert seg["dice_tc"] >= 0.4 and seg["hd95_wt"] < 30, seg                    # 30 mm = 5 voxels of 6 mm
    # the survival known answer this cohort can show: imaging beats chance by 0.1 (volumes-beat-age needs the 60-case
    # default cohort; with 12 training cases age alone wins: seen here)
    assert surv["known_answer"]["best_imaging_beats_chance_by_0_1"], surv["known_answer"]
    # every params key each stage read is among the stage's DVC params (BRATS_PARAMS_AUDIT, tests/e2e.py)
    assert undeclared_params(dst, dst.parent / "params_audit") == {}
    assert json.loads((dst / "metrics" / "bottleneck_pca.json").read_text())["n_cases"] == 14
    with sqlite3.connect(dst / "mlflow.db") as db:
        aliases = db.execute("select name, alias from registered_model_aliases").fetchall()
        ae_tag = db.execute("select value from model_version_tags where name = 'brats-survival' "
                            "and key = 'brats.autoencoder_version'").fetchall()
    with sqlite3.connect(dst / "mlflow.db") as db:
        tta = db.execute("select value from model_version_tags where name = 'brats-segmentation' and key = 'brats.evaluate_tta'").fetchall()
    assert tta == [("none",)]  # the registered metrics say whether test-time augmentation produced them
    assert ae_tag == [("1",)]  # the survival model names the autoencoder version it needs (in the registry, not metrics)
    assert sorted(aliases) == [("brats-autoencoder", "challenger"), ("brats-segmentation", "challenger"),
                               ("brats-survival", "challenger")]

    # `brats-mlops predict` with the registered models: segmentation + survival class from case folder and age
    case = next((dst / "data" / "raw" / "synthetic").rglob("BraTS20_Training_001"))
    out = _run([str(BIN / "brats-mlops"), "predict", "--case", str(case), "--out", str(dst / "pred"), "--age", "61",
                "--alias", "challenger"], dst, env)
    pred = json.loads((dst / "pred" / "BraTS20_Training_001.json").read_text())
    assert pred["survival"]["class"] in (0, 1) and 0.5 <= pred["survival"]["probability"] <= 1
    assert pred["survival"]["class_name"] in ("<370 d", ">=370 d") and "survival:" in out
    assert (dst / "pred" / "BraTS20_Training_001_seg.nii.gz").is_file()
    # every registered model passes the promotion gates on a sample case (loads and predicts)
    for name in ("brats-segmentation", "brats-autoencoder", "brats-survival"):
        out = _run([str(BIN / "brats-mlops"), "promote", name, "--sample-case", str(case)], dst, env)
        assert "is now @champion" in out and "loads:" in out, out
    out = _run([str(BIN / "brats-mlops"), "models", "--history"], dst, env)
    assert out.count("@champion") >= 3
    # a file that only `report` runs: `dvc repro` rewrites the manifests, then reruns `report` and nothing else (last:
    # it adds a second `report` run to the store, which the checks above count)
    report = dst / "pipelines" / "report.py"
    report.write_text(report.read_text() + "\n# a change\n")
    out = _run([str(BIN / "dvc"), "repro"], dst, env)
    ran = sorted(line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '"))
    assert ran == ["code", "report"], out[-3000:]


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
def test_slices_pipeline_scores_2d_beside_3d_registers_both_and_reports_the_leak(clone):
    dst, env = clone
    _run([str(BIN / "dvc"), "repro"], dst, env)  # a no-op after the test above
    out = _run([str(BIN / "dvc"), "repro", "slices/dvc.yaml"], dst, env)
    seg3d = json.loads((dst / "metrics" / "segmentation.json").read_text())
    seg2d = json.loads((dst / "metrics" / "segmentation_2d.json").read_text())
    assert set(seg3d) <= set(seg2d) and seg2d["n_cases"] == seg3d["n_cases"]  # same keys, same held-out cases
    assert {"dice_c0", "iou_c3", "pixel_accuracy"} <= set(seg2d)
    assert seg2d["dice_wt"] >= FLOOR_DICE_WT, seg2d["dice_wt"]    # the 2-D model learned too (same trivial baselines)
    assert undeclared_params(dst, dst.parent / "params_audit") == {}   # slices/dvc.yaml declares what its stages read
    surv = json.loads((dst / "metrics" / "survival_2d.json").read_text())
    assert surv["status"] == "ok", surv
    for k in ("slice_accuracy", "slice_accuracy_nonempty", "patient_majority_accuracy", "patient_majority_macro_f1"):
        assert surv[f"{k}_lo"] <= surv[k] <= surv[f"{k}_hi"]
    assert surv["slice_split_gt_masks"]["n_patients"] > surv["patients"]["test"]  # the leaky split spreads every patient
    with sqlite3.connect(dst / "mlflow.db") as db:
        names = {r[0] for r in db.execute("select name from registered_models")}
    assert {"brats-segmentation-2d", "brats-survival-2d"} <= names
    page = (dst / "reports" / "slices_2d.html").read_text()
    assert "slice split (seed 001, leaky)" in page and "patient split, predicted masks" in page
    cmp = _run([str(BIN / "brats-mlops"), "compare", "--group", "default", "--group", "slices2d"], dst, env)
    assert "2-D seed004_model1" in cmp and "3-D res_se_unet" in cmp
    case = sorted((dst / "data" / "raw" / "synthetic" / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_Training_*"))[0]
    pred = _run([str(BIN / "brats-mlops"), "predict", "--model", "2d", "--alias", "challenger", "--case", case, "--out",
                 dst / "pred2d", "--age", "60"], dst, env)
    assert "survival:" in pred and (dst / "pred2d" / f"{case.name}_seg.nii.gz").is_file(), out[-2000:]


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
def test_dvc_remote_push_then_a_second_clone_pulls_and_is_up_to_date(clone):
    """The documented remote (.dvc/config `local`: ../../brats_mlops-dvc-remote beside the clone) after a repro:
    `dvc push`; a second git clone beside the first `dvc pull`s data and models and has nothing to rebuild."""
    dst, env = clone
    _run([str(BIN / "dvc"), "repro"], dst, env)
    _run([str(BIN / "dvc"), "repro", "slices/dvc.yaml"], dst, env)
    _run(["git", "add", "-A"], dst, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "locks", "--allow-empty"], dst, env)
    out = _run([str(BIN / "dvc"), "push"], dst, env)
    remote = dst.parent / "brats_mlops-dvc-remote"
    assert remote.is_dir() and any(remote.rglob("*")), out
    second = dst.parent / "second"
    _run(["git", "clone", "-q", str(dst), str(second)], dst.parent, env)
    assert not (second / "models" / "segmentation").exists()            # git carries no data or models
    _run([str(BIN / "dvc"), "pull", "dvc.yaml", "slices/dvc.yaml"], second, env)  # the pipelines this clone ran and pushed
    assert (second / "models" / "segmentation" / "best.pt").is_file() and (second / "data" / "preprocessed" / "plans.json").is_file()
    for pipeline in ([], ["slices/dvc.yaml"]):
        out = _run([str(BIN / "dvc"), "repro", *pipeline], second, env)
        assert "Data and pipelines are up to date" in out, out[-3000:]
        assert "Running stage" not in out
    assert not (second / "mlflow.db").exists()                          # nothing was retrained or logged


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
def test_two_queued_ablations_run_in_parallel_and_compare_in_one_table(clone):
    """`dvc exp run --queue` twice, `dvc queue start -j 2`: both run at once in DVC's temporary copies, log to the
    project's store (overlapping stage runs in MLflow) and `brats-mlops compare --group queued` puts them in one table.
    The experiments reproduce up to `evaluate_segmentation` (what an ablation of the loss compares), 2 epochs each."""
    import time

    dst, env = clone
    _run([str(BIN / "dvc"), "repro"], dst, env)
    _run(["git", "add", "-A"], dst, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "before queue", "--allow-empty"], dst, env)
    for focal in ("0.0", "1.0"):
        _run([str(BIN / "dvc"), "exp", "run", "--queue", "evaluate_segmentation", "-S", "segmentation.ablation_group=queued", "-S",
              f"segmentation.loss.focal={focal}", "-S", "segmentation.max_eval_cases=2", "-S", "segmentation.epochs=2"], dst, env)
    # the workers `dvc queue start` leaves running inherit its stdout/stderr: a captured pipe would only reach EOF when
    # the last worker exits (one can linger idle for many minutes), so its output goes to a file and the loop waits
    import subprocess

    with open(dst.parent / "queue_start.log", "w") as out:
        started = subprocess.run([str(BIN / "dvc"), "queue", "start", "-j", "2"], cwd=dst, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, timeout=300)
    assert started.returncode == 0, (dst.parent / "queue_start.log").read_text()
    deadline = time.time() + 1200
    status = ""
    while time.time() < deadline:
        status = _run([str(BIN / "dvc"), "queue", "status"], dst, env)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    _run([str(BIN / "dvc"), "queue", "stop", "--kill"], dst, env)   # no worker outlives the test
    assert status.count("Success") == 2, status
    from brats_mlops.names import TAG_DVC_EXP

    with sqlite3.connect(dst / "mlflow.db") as db:
        spans = db.execute("select t.value, min(r.start_time), max(r.end_time) from runs r join tags t on t.run_uuid = r.run_uuid "
                           f"where t.key = '{TAG_DVC_EXP}' group by t.value").fetchall()
        queued = db.execute("select count(*) from runs r join tags t on t.run_uuid = r.run_uuid where r.name = 'train_segmentation' "
                            "and t.key = 'brats.ablation_group' and t.value = 'queued' and r.status = 'FINISHED'").fetchone()[0]
    assert queued == 2
    (_, s1, e1), (_, s2, e2) = sorted(spans, key=lambda r: r[1])[-2:]
    assert s2 < e1                                                        # the two experiments ran at the same time
    out = _run([str(BIN / "brats-mlops"), "compare", "--group", "queued"], dst, env)
    assert "Ablation group `queued`" in out, out
    table = (dst / "reports" / "ablations" / "queued.csv").read_text().splitlines()
    assert len(table) == 3, table                                         # header + the two experiments


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
def test_stages_started_by_the_warm_zygote_make_the_same_outputs(clone):
    """`make run` starts `dvc repro`'s stages through the warm zygote (utils/zygote.py): training (its DataLoader
    workers forked from a fork) and evaluation write the bytes a fresh `python -m` wrote."""
    import yaml

    dst, env = clone
    _run([str(BIN / "dvc"), "repro"], dst, env)   # up to date after the tests above

    def outs():
        stages = yaml.safe_load((dst / "dvc.lock").read_text())["stages"]
        return {s: {o["path"]: o["md5"] for o in stages[s]["outs"]} for s in ("train_segmentation", "evaluate_segmentation")}

    before = outs()
    zygote = [str(BIN / "python"), "-m", "brats_mlops.utils.zygote"]
    run([*zygote, "start"], dst, env)
    try:
        out = _run([str(BIN / "dvc"), "repro", "-f", "-s", "train_segmentation"], dst, env)
        out += _run([str(BIN / "dvc"), "repro", "-f", "-s", "evaluate_segmentation"], dst, env)
    finally:
        run([*zygote, "stop"], dst, env)
    log = (dst / ".brats" / "zygote.log").read_text()
    assert "started pipelines.train_segmentation" in log and "started pipelines.evaluate_segmentation" in log, log + out
    assert "zygote not used" not in out, out
    assert outs() == before
