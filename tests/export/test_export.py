"""`brats-mlops export`: TorchScript and ONNX give the registered model's labels on a case (ONNX within a logit
tolerance), the BraTS submission entrypoint segments a read-only input folder with no network into exactly one file
per case and reports a bad case on one line, and every export is traceable to its registered version."""

import json
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from tests import builders
from tests.conftest import TINY_SEG


@pytest.fixture
def registered(tiny_preprocessed, tiny_synth, tmp_path):
    """A tiny 3-D model trained for one epoch and registered as brats-segmentation version 1 (@champion), as the
    evaluate stage registers it (metrics, lineage tags of synthetic data)."""
    import mlflow

    from brats_mlops.config.schema import parse_params
    from brats_mlops.registry.segmentation import log_and_register
    from brats_mlops.training.segmentation import SegmentationTrainer

    pre, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 1}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    SegmentationTrainer(cfg, pre, split, plans.num_classes, plans.modalities, plans.crop_size, False, tmp_path / "ck", seed=1).fit()
    tags = {"brats.data_validation": "passed (8 of 8 cases; 0 quarantined and excluded; source synthetic)",
            "brats.data_hash": "abc123", "brats.git_commit": "deadbeef"}
    with mlflow.start_run():
        _, version = log_and_register(tmp_path / "ck" / "best.pt", {"dice_wt": 0.5, "dice_tc": 0.4, "dice_et": 0.3,
                                                                   "dice_brats": 0.4, "hd95_wt": 9.0}, tags, alias="champion")
    case = next(p for p in sorted(tiny_synth.rglob("BraTS20_Training_*")) if p.is_dir())
    return version, case


def _registered_labels(case):
    from brats_mlops.data.io import load_case_images
    from brats_mlops.data.readers import read_case_folder
    from brats_mlops.registry.common import load_registered

    py = load_registered("models:/brats-segmentation@champion").unwrap_python_model()
    c = read_case_folder(case, tuple(py.modalities))
    images, _, spacing = load_case_images(c, py.modalities)
    return py, images, py.labels(images, spacing)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_network_export_gives_the_registered_models_labels(registered, tmp_path, fmt):
    from brats_mlops.export import export
    from brats_mlops.export.network import ONNX_LOGIT_TOLERANCE, load_exported
    from brats_mlops.families import family_of

    _, case = registered
    out = tmp_path / fmt
    facts = export("brats-segmentation", fmt, out, sample_case=case)
    assert facts["labels_identical"] and facts["voxels_differing"] == 0
    assert facts["max_abs_logit_diff"] == 0.0 if fmt == "torchscript" else facts["max_abs_logit_diff"] < ONNX_LOGIT_TOLERANCE
    # independently of the check inside export: the file alone + preprocessing.json's settings → the registered labels
    py, images, want = _registered_labels(case)
    net = load_exported(out / ("model.pt" if fmt == "torchscript" else "model.onnx"))
    got = family_of(py.mc).predict_labels([net], images, py.mc)
    assert np.array_equal(got, want)
    pre = json.loads((out / "preprocessing.json").read_text())
    assert pre["input"]["modalities"] == ["t1", "t1ce", "t2", "flair"] and pre["inference"]["sliding_window"]["roi_size"] == [16, 16, 16]
    assert pre["label_conventions"]["brats2020"]["3"] == 4   # internal ET → raw 4 in BraTS 2020
    card = (out / "MODEL_CARD.md").read_text()
    assert card.startswith("**Trained on the platform's synthetic data") and "| WT | 0.500 |" in card
    _assert_recorded(fmt, out)


def _assert_recorded(fmt, out):
    """The export is an MLflow run linked from the version (its brats.export.<fmt> tag) and holds the lineage."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    mv = client.get_model_version("brats-segmentation", "1")
    run = client.get_run(mv.tags[f"brats.export.{fmt}"])
    assert run.data.tags["brats.exported_model"] == "brats-segmentation/1" and run.data.tags["brats.data_hash"] == "abc123"
    assert run.data.params["out"] == str(out)
    assert json.loads((out / "lineage.json").read_text())["git_commit"] == "deadbeef"


def _contract_input(root, n=2):
    """``root/<ID>/<ID>-{t1n,t1c,t2w,t2f}.nii.gz`` for ``n`` cases (no labels), as the challenge mounts /input."""
    src = builders.brats2023_tiny(root.parent / f"{root.name}_src", n=n, with_validation=False)
    root.mkdir()
    for case in sorted(p for p in src.rglob("BraTS-GLI-*") if p.is_dir()):
        shutil.copytree(case, root / case.name, ignore=shutil.ignore_patterns("*-seg.nii.gz"))
    return sorted(p.name for p in root.iterdir())


def _run_offline(entrypoint, inp, out, cwd):
    """The entrypoint with no network (a new network namespace), input read-only, from a read-only folder."""
    for p in [inp, *inp.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    cwd.mkdir()
    cwd.chmod(0o555)
    cmd = [sys.executable, str(entrypoint), "--input", str(inp), "--output", str(out)]
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a network namespace needs root and unshare (util-linux)")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(["unshare", "-n", *cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_submission_container_segments_a_read_only_folder_offline_and_skips_bad_cases(registered, tmp_path):
    from brats_mlops.export import export

    out = tmp_path / "submission"
    facts = export("brats-segmentation@champion", "brats-container", out)
    assert facts["convention"] == "brats2023"  # synthetic training data: the 2023+ labels of the contract
    for f in ("entrypoint.py", "Dockerfile", "requirements.txt", "submission.json", "README.md", "MODEL_CARD.md",
              "model/MLmodel", "brats_mlops/export/submission.py"):
        assert (out / f).is_file(), f
    assert "torch" not in (out / "requirements.txt").read_text().split("torch")[0] and "mlflow==3.17.2" in (out / "requirements.txt").read_text()
    _assert_recorded("brats-container", out)

    inp = tmp_path / "input"
    ids = _contract_input(inp, n=4)
    bad_modality, bad_id, bad_file = ids[1], ids[2], ids[3]
    (inp / bad_modality / f"{bad_modality}-t2w.nii.gz").unlink()                    # a missing modality
    for f in (inp / bad_id).iterdir():                                                 # files named for another ID
        f.rename(f.with_name(f.name.replace(bad_id, "BraTS-GLI-99999-000")))
    (inp / bad_file / f"{bad_file}-t1c.nii.gz").write_bytes(b"not a NIfTI file")     # not NIfTI
    pred = tmp_path / "output"
    r = _run_offline(out / "entrypoint.py", inp, pred, tmp_path / "cwd")
    assert r.returncode == 1, r.stdout + r.stderr                                    # some cases skipped, the rest done
    assert sorted(p.name for p in pred.iterdir()) == [f"{ids[0]}.nii.gz"], r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for cid, why in ((bad_modality, f"missing {bad_modality}-t2w.nii.gz"), (bad_id, "named for another ID"), (bad_file, "")):
        hits = [ln for ln in lines if ln.startswith(f"case {cid}: skipped")]
        assert len(hits) == 1 and why in hits[0], (cid, r.stdout)
    seg = nib.load(str(pred / f"{ids[0]}.nii.gz"))
    ref = nib.load(str(inp / ids[0] / f"{ids[0]}-t1c.nii.gz"))
    assert seg.shape == ref.shape and np.allclose(seg.affine, ref.affine)
    assert set(np.unique(np.asarray(seg.dataobj)).tolist()) <= {0, 1, 2, 3}
    assert not any((tmp_path / "cwd").iterdir())


@pytest.mark.slow
def test_mlcube_export_runs_the_same_entrypoint_with_medperfs_arguments(registered, tmp_path):
    import yaml

    from brats_mlops.export import export

    out = tmp_path / "cube"
    export("brats-segmentation/1", "mlcube", out)
    cube = yaml.safe_load((out / "mlcube.yaml").read_text())
    assert set(cube["tasks"]["infer"]["parameters"]["inputs"]) == {"data_path"}
    inp = tmp_path / "input"
    ids = _contract_input(inp, n=2)
    pred = tmp_path / "pred"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**{k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}, "TMPDIR": str(scratch)}
    r = subprocess.run([sys.executable, str(out / "entrypoint.py"), "infer", f"--data_path={inp}", f"--output_path={pred}"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in pred.iterdir()) == [f"{i}.nii.gz" for i in ids]
    assert not any(scratch.iterdir())   # the entrypoint's private caches folder is removed when it ends


def test_export_refuses_what_it_cannot_do(registered, tmp_path):
    from brats_mlops.errors import UserError
    from brats_mlops.export import export

    with pytest.raises(UserError, match="--format 'zip'"):
        export("brats-segmentation", "zip", tmp_path / "a")
    with pytest.raises(UserError, match="has no version 7"):
        export("brats-segmentation/7", "onnx", tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("")
    with pytest.raises(UserError, match="not empty"):
        export("brats-segmentation", "onnx", tmp_path / "c")


def test_monai_bundle_loads_with_monai_and_gives_the_registered_labels(registered, tmp_path):
    from brats_mlops.export import bundle, export
    from brats_mlops.families import family_of

    _, case = registered
    out = tmp_path / "bundle"
    facts = export("brats-segmentation@champion", "monai-bundle", out, sample_case=case)
    assert facts["monai_verify_net_in_out"] == "passed" and facts["labels_identical"]
    for f in ("configs/metadata.json", "configs/inference.json", "models/model.pt", "models/model.ts", "docs/README.md"):
        assert (out / f).is_file(), f
    meta = json.loads((out / "configs" / "metadata.json").read_text())
    assert meta["network_data_format"]["inputs"]["image"]["num_channels"] == 4
    assert meta["network_data_format"]["outputs"]["pred"]["channel_def"] == {
        "0": "background", "1": "necrotic/non-enhancing core", "2": "edema", "3": "enhancing tumour"}
    net, mc = bundle.load_network(out)            # monai.bundle.ConfigParser builds the network from the config
    py, images, want = _registered_labels(case)
    assert np.array_equal(family_of(mc).predict_labels([net], images, mc), want)
    bundle.verify(out)                            # MONAI's own in/out check, again from the files alone
    _assert_recorded("monai-bundle", out)
