import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from brats_mlops.cli.main import app

CASES = Path(__file__).resolve().parents[1] / "data" / "brats2023_official_cases"


@pytest.fixture
def folders(tmp_path):
    """Two folders in BraTS 2020 naming: predictions <id>.nii.gz, a dataset-style GT tree with images beside segs."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    for i, name in enumerate(("syn_merge_axis", "et_missing")):
        cid = f"BraTS20_Training_{i + 1:03d}"
        shutil.copy(CASES / name / "pred.nii.gz", pred / f"{cid}.nii.gz")
        (gt / cid).mkdir(parents=True)
        shutil.copy(CASES / name / "gt.nii.gz", gt / cid / f"{cid}_seg.nii.gz")
        shutil.copy(CASES / name / "gt.nii.gz", gt / cid / f"{cid}_flair.nii.gz")  # an image: must be ignored
    return pred, gt


def test_evaluate_folders_prints_and_writes_json(folders, tmp_path):
    pred, gt = folders
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(pred), "--gt", str(gt), "--labels", "brats2020", "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0, r.output
    out = json.loads((tmp_path / "s.json").read_text())
    assert sorted(out["cases"]) == ["BraTS20_Training_001", "BraTS20_Training_002"]
    exp = json.loads((CASES / "et_missing" / "expected.json").read_text())
    assert out["cases"]["BraTS20_Training_002"]["lesion_hd95_et"] == exp["lesion_hd95_et"] == 374.0
    assert out["mean"]["dice_wt"] == pytest.approx(np.mean([c["dice_wt"] for c in out["cases"].values()]))
    assert "BraTS20_Training_001" in r.output and "mean" in r.output


def test_evaluate_errors_name_the_file(folders, tmp_path):
    pred, gt = folders
    runner = CliRunner()
    # labels of another convention
    r = runner.invoke(app, ["evaluate", "--pred", str(pred), "--gt", str(gt), "--labels", "brats2023"])
    assert r.exit_code == 2 and "label value(s) [4]" in r.output and "--labels brats2020" in r.output and "Traceback" not in r.output
    # a missing prediction
    (pred / "BraTS20_Training_002.nii.gz").unlink()
    r = runner.invoke(app, ["evaluate", "--pred", str(pred), "--gt", str(gt), "--labels", "brats2020"])
    assert r.exit_code == 2 and "BraTS20_Training_002" in r.output and "no prediction" in r.output
    # a shape mismatch
    img = nib.load(str(pred / "BraTS20_Training_001.nii.gz"))
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[:-1], img.affine), str(tmp_path / "small.nii.gz"))
    r = runner.invoke(app, ["evaluate", "--pred", str(tmp_path / "small.nii.gz"), "--gt", str(gt / "BraTS20_Training_001" / "BraTS20_Training_001_seg.nii.gz"),
                            "--labels", "brats2020"])
    assert r.exit_code == 2 and "shape mismatch" in r.output and "small.nii.gz" in r.output
