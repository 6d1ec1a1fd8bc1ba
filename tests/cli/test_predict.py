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


def _biased_version(src, dst, internal_label: int) -> str:
    """The champion's checkpoint with its output bias forcing ``internal_label`` wherever the brain is: a model that
    really predicts that label, so the label content of `predict`'s files can be checked per convention."""
    import torch

    ck = torch.load(src, map_location="cpu", weights_only=True)
    n = ck["model_config"]["out_channels"]
    key = [k for k, v in ck["model"].items() if k.endswith("bias") and tuple(v.shape) == (n,)][-1]
    bias = torch.full((n,), -1e4)
    bias[internal_label] = 1e4
    ck["model"][key] = bias
    torch.save(ck, dst)
    with mlflow.start_run():
        _, version = log_and_register(dst, {"dice_brats": 0.5}, {})
    return version


def test_predict_writes_each_layouts_own_labels(champion, tmp_path):
    """BraTS 2020 (ET 4), BraTS 2023 (ET 3) and MSD (edema 1, ET 3; a 4-D image file as the case) from models that
    predict enhancing tumour (internal 3) or edema (internal 2) everywhere in the brain."""
    root20 = builders.tiny_synthetic(tmp_path / "b20", n_train=2, n_validation=0)
    case20 = sorted((root20 / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_*"))[0]
    root23 = builders.brats2023_tiny(tmp_path / "b23", n=2, with_validation=False)
    case23 = next(root23.rglob("BraTS-GLI-*-000"))
    msd = builders.msd_tiny(tmp_path / "Task01_BrainTumour", n=2)
    case_msd = msd / "imagesTr" / "BRATS_001.nii.gz"
    cases = {"b20": (case20, case20.name), "b23": (case23, case23.name), "msd": (case_msd, "BRATS_001")}
    expected = {3: {"b20": 4, "b23": 3, "msd": 3}, 2: {"b20": 2, "b23": 2, "msd": 1}}
    for internal, raw in expected.items():
        version = _biased_version(tmp_path / "ck" / "best.pt", tmp_path / f"biased{internal}.pt", internal)
        for layout, (case, cid) in cases.items():
            out = tmp_path / f"o{internal}{layout}"
            r = CliRunner().invoke(app, ["predict", "--case", str(case), "--out", str(out), "--version", version])
            assert r.exit_code == 0, r.output
            values = set(np.unique(np.asarray(nib.load(str(out / f"{cid}_seg.nii.gz")).dataobj)).tolist())
            assert raw[layout] in values and values <= {0, raw[layout]}, (internal, layout, values)  # 0 outside the brain's box
            res = json.loads((out / f"{cid}.json").read_text())
            assert res["label_convention"] in ({"b20": "brats2020", "b23": "brats2023", "msd": "msd"}[layout], "synthetic")
            v = res["volumes_cm3"]
            assert v["wt"] > 0 and (v["et"] == v["wt"] if internal == 3 else v["tc"] == 0)
    # an MSD case whose dataset.json lacks a modality: a clear error naming it
    (msd / "dataset.json").write_text(json.dumps({"modality": {"0": "FLAIR", "1": "T1w", "2": "T2w"}}))
    r = CliRunner().invoke(app, ["predict", "--case", str(case_msd), "--out", str(tmp_path / "bad"), "--version", version])
    assert r.exit_code == 2 and "t1ce" in r.output and "dataset.json" in r.output


def test_predict_with_tta_and_an_ensemble_of_versions(champion, tmp_path):
    """--ensemble averages registered versions (the champion with itself: the same labels as the champion alone),
    --tta mirror keeps the input's geometry; bad combinations are clear errors."""
    root20 = builders.tiny_synthetic(tmp_path / "b20", n_train=2, n_validation=0)
    case20 = sorted((root20 / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_*"))[0]
    ref = nib.load(str(case20 / f"{case20.name}_t1ce.nii.gz"))
    runs = {"single": [], "ensemble": ["--ensemble", champion], "tta": ["--tta", "mirror", "--ensemble", champion]}
    labels = {}
    for name, extra in runs.items():
        r = CliRunner().invoke(app, ["predict", "--case", str(case20), "--out", str(tmp_path / name), *extra])
        assert r.exit_code == 0, r.output
        _check_outputs(tmp_path / name, case20.name, ref, {0, 1, 2, 4})
        labels[name] = np.asarray(nib.load(str(tmp_path / name / f"{case20.name}_seg.nii.gz")).dataobj)
    assert np.array_equal(labels["single"], labels["ensemble"])
    res = json.loads((tmp_path / "tta" / f"{case20.name}.json").read_text())
    assert res["tta"] == "mirror" and res["ensemble_with"] == [f"models:/{MODEL_SEGMENTATION}/{champion}"]
    for extra, msg in ((["--tta", "flip"], "use none or mirror"), (["--model", "2d", "--ensemble", "1"], "--ensemble combines"),
                       (["--ensemble", "999"], "not registered")):
        r = CliRunner().invoke(app, ["predict", "--case", str(case20), "--out", str(tmp_path / "bad"), *extra])
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output, r.output
