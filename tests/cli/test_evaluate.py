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


def test_profile_option_scores_with_the_chosen_challenges_rule(tmp_path):
    """`--profile 2023-MEN` gives the official MEN numbers (1 dilation: two GT lesions stay apart) and names the profile
    in the table and the JSON; an unknown profile is one error line."""
    exp = json.loads((CASES / "syn_merge_axis" / "expected_2023_BraTS-MEN.json").read_text())
    out = tmp_path / "men.json"
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(CASES / "syn_merge_axis" / "pred.nii.gz"), "--gt",
                                 str(CASES / "syn_merge_axis" / "gt.nii.gz"), "--labels", "brats2020", "--profile", "2023-MEN",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert "profile 2023-MEN" in r.output and res["profile"] == "2023-MEN"
    assert res["mean"]["lesion_dice_wt"] == pytest.approx(exp["lesion_dice_wt"], abs=1e-6)
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(CASES / "syn_merge_axis" / "pred.nii.gz"), "--gt",
                                 str(CASES / "syn_merge_axis" / "gt.nii.gz"), "--labels", "brats2020", "--profile", "2019"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert [ln for ln in r.output.splitlines() if ln.startswith("error:")] == [
        "error: unknown metric profile '2019'; choose one of 2023-GLI, 2023-SSA, 2023-PED, 2023-MEN, 2023-MET, 2024-GLI, "
        "2025-GLI, 2025-MET, 2025-PED, 2025-MEN-RT, 2025-MEN, 2025-GoAT"]


METS = CASES.parent / "brats2025_mets_sample"
PAIRS = CASES.parent / "brats_task_pairs"


def test_a_2025_profile_scores_the_official_mets_sample_folder_as_the_official_scorer(tmp_path):
    """The official scorer's four real metastasis cases, as folders: predictions named by case number only
    (``00132-000.nii.gz``) are matched to ``BraTS-MET-00132-000-seg.nii.gz`` as the 2025 scorer matches them; the
    per-case numbers are the official parser's (0.0.10), the labels default to the profile's, the table has one row
    per label group and the JSON carries the profile."""
    out = tmp_path / "mets.json"
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(METS / "pred"), "--gt", str(METS / "ref"), "--profile", "2025-MET",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "profile 2025-MET (brats2024 labels, 4 case(s))" in r.output
    assert all(f"│ {g} " in r.output for g in ("et", "rc", "tc", "wt"))
    res = json.loads(out.read_text())
    assert res["profile"] == "2025-MET" and res["n_cases"] == 4
    exp = json.loads((METS / "expected_2025_mets_00217-000.json").read_text())["parsed"]
    got = res["cases"]["BraTS-MET-00217-000"]
    assert got["lesion_dice_et"] == pytest.approx(exp["lesionwise_dsc_mean_et"], abs=1e-6)
    assert got["small_f1_wt"] == pytest.approx(exp["small_instance_f1_wt"], abs=1e-6)
    assert got["lesion_num_fp_et"] == exp["all_instance_fp_et"]


def test_a_2025_profile_converts_labels_only_without_loss(tmp_path):
    """BraTS 2020 labels convert to 2025-GLI's (4 ET -> 3) and give the official numbers; paediatric labels do not
    convert to the glioma ones (CC and NETC would merge): one error line saying what to pass."""
    exp = json.loads((CASES / "hd_shift_aniso" / "expected_2025_gli.json").read_text())["parsed"]
    out = tmp_path / "gli.json"
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(CASES / "hd_shift_aniso" / "pred.nii.gz"), "--gt",
                                 str(CASES / "hd_shift_aniso" / "gt.nii.gz"), "--labels", "brats2020", "--profile", "2025-GLI",
                                 "--json", str(out)])
    assert r.exit_code == 0, r.output
    got = json.loads(out.read_text())["mean"]
    assert got["lesion_hd95_wt"] == pytest.approx(exp["lesionwise_hd95_mean_wt"], abs=0.1)
    assert got["nsd_tc"] == pytest.approx(exp["global_nsd_tc"], abs=1e-6)
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(PAIRS / "ped_cc" / "pred.nii.gz"), "--gt",
                                 str(PAIRS / "ped_cc" / "gt.nii.gz"), "--labels", "ped2024", "--profile", "2025-GLI"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    (line,) = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert "ped2024" in line and "--labels brats2024" in line
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(PAIRS / "ped_cc" / "pred.nii.gz"), "--gt",
                                 str(PAIRS / "ped_cc" / "gt.nii.gz"), "--profile", "2025-PED"])
    assert r.exit_code == 0 and "│ cc " in r.output, r.output


def test_2024_gli_profile_scores_six_regions_with_the_official_numbers(tmp_path):
    """`--profile 2024-GLI` reads the 2024 labels (4 = resection cavity) by default, prints one row per region
    WT, TC, NETC, SNFH, ET, RC and gives the official 2024 code's numbers."""
    exp = json.loads((PAIRS / "gli_rc" / "expected_2024_GLI.json").read_text())["results"]
    out = tmp_path / "gli24.json"
    r = CliRunner().invoke(app, ["evaluate", "--pred", str(PAIRS / "gli_rc" / "pred.nii.gz"), "--gt",
                                 str(PAIRS / "gli_rc" / "gt.nii.gz"), "--profile", "2024-GLI", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "profile 2024-GLI (brats2024 labels" in r.output and all(f"│ {g} " in r.output for g in ("netc", "snfh", "rc"))
    got = json.loads(out.read_text())["mean"]
    assert got["lesion_dice_rc"] == pytest.approx(exp["RC"]["LesionWise_Score_Dice"], abs=1e-6)
    assert got["lesion_num_fp_rc"] == exp["RC"]["Num_FP"]
    assert got["nsd10_snfh"] == pytest.approx(exp["SNFH"]["Legacy NSD @ 1.0"], abs=1e-6)
