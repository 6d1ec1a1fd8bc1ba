import json

import mlflow
import nibabel as nib
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from brats_mlops.cli.main import app
from brats_mlops.config.schema import parse_params
from brats_mlops.names import MODEL_SEGMENTATION
from brats_mlops.registry.segmentation import log_and_register
from brats_mlops.training.segmentation import SegmentationTrainer
from tests import builders
from tests.conftest import TINY_SEG


@pytest.fixture
def champion(tiny_preprocessed, tmp_path):
    out, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 1}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    SegmentationTrainer(cfg, out, split, plans.num_classes, plans.modalities, plans.crop_size, False, tmp_path / "ck", seed=0).fit()
    with mlflow.start_run():
        _, version = log_and_register(tmp_path / "ck" / "best.pt", {"dice_brats": 0.5}, {})
    MlflowClient().set_registered_model_alias(MODEL_SEGMENTATION, "champion", version)
    return version


def _check_outputs(out, cid, ref_img, allowed):
    seg = nib.load(str(out / f"{cid}_seg.nii.gz"))
    assert seg.shape == ref_img.shape and np.allclose(seg.affine, ref_img.affine)
    assert seg.header.get_zooms() == ref_img.header.get_zooms()
    assert set(np.unique(np.asarray(seg.dataobj)).tolist()) <= allowed
    assert (out / f"{cid}_overlay.png").stat().st_size > 5000
    r = json.loads((out / f"{cid}.json").read_text())
    assert set(r["volumes_cm3"]) == {"wt", "tc", "et"} and r["volumes_cm3"]["wt"] >= r["volumes_cm3"]["tc"] >= r["volumes_cm3"]["et"] >= 0
    vox = float(np.prod(ref_img.header.get_zooms())) / 1000
    labels = np.asarray(seg.dataobj)
    assert r["volumes_cm3"]["wt"] == pytest.approx((labels > 0).sum() * vox)
    return r


def test_predict_on_both_naming_schemes_and_clear_errors(champion, tmp_path):
    runner = CliRunner()
    root20 = builders.tiny_synthetic(tmp_path / "b20", n_train=2, n_validation=0)
    case20 = sorted((root20 / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_*"))[0]
    r = runner.invoke(app, ["predict", "--case", str(case20), "--out", str(tmp_path / "o20")])
    assert r.exit_code == 0, r.output
    res = _check_outputs(tmp_path / "o20", case20.name, nib.load(str(case20 / f"{case20.name}_t1ce.nii.gz")), {0, 1, 2, 4})
    assert res["label_convention"] in ("brats2020", "synthetic") and res["segmentation_model"].endswith("@champion")

    root23 = builders.brats2023_tiny(tmp_path / "b23", n=2, with_validation=False)
    case23 = next(root23.rglob("BraTS-GLI-*-000"))
    r = runner.invoke(app, ["predict", "--case", str(case23), "--out", str(tmp_path / "o23"), "--version", champion])
    assert r.exit_code == 0, r.output
    _check_outputs(tmp_path / "o23", case23.name, nib.load(str(case23 / f"{case23.name}-t1c.nii.gz")), {0, 1, 2, 3})

    # a missing modality and a malformed file are clear errors naming them
    (case23 / f"{case23.name}-t2f.nii.gz").unlink()
    r = runner.invoke(app, ["predict", "--case", str(case23), "--out", str(tmp_path / "bad")])
    assert r.exit_code == 2 and "t2f" in r.output and "Traceback" not in r.output
    bad = case20 / f"{case20.name}_flair.nii.gz"
    bad.write_bytes(bad.read_bytes()[:200])
    r = runner.invoke(app, ["predict", "--case", str(case20), "--out", str(tmp_path / "bad2")])
    assert r.exit_code == 2 and "flair" in r.output and "Traceback" not in r.output
    # no such alias: says what to do
    r = runner.invoke(app, ["predict", "--case", str(next(root20.rglob("BraTS20_Training_002"))), "--out", str(tmp_path / "x"),
                            "--alias", "nope"])
    assert r.exit_code == 2 and "brats-mlops promote" in r.output


def test_predict_checks_every_model_before_any_work(champion, tmp_path):
    """--age without a survival model fails at once: nothing is segmented or written first."""
    root20 = builders.tiny_synthetic(tmp_path / "b20", n_train=2, n_validation=0)
    case20 = next((root20 / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_*"))
    r = CliRunner().invoke(app, ["predict", "--case", str(case20), "--out", str(tmp_path / "o"), "--age", "60"])
    assert r.exit_code == 2 and "brats-survival@champion" in r.output and "not registered" in r.output
    assert not (tmp_path / "o").exists()
