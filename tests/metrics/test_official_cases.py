"""Known values: ten prediction / ground-truth pairs scored by the official BraTS 2023 evaluation code
(rachitsaluja/BraTS-2023-Metrics, commit 43c905242b2e, challenge BraTS-GLI; tests/data/brats2023_official_cases/README.md).
A faithful implementation reproduces Dice to 1e-6 and HD95 to 0.1 mm."""

import json
from pathlib import Path

import pytest

from brats_mlops.metrics.evaluate import evaluate, score_pair

CASES = Path(__file__).resolve().parents[1] / "data" / "brats2023_official_cases"
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def test_all_ten_reference_cases_are_present():
    assert len(NAMES) == 10


@pytest.mark.parametrize("name", NAMES)
def test_matches_official_code(name):
    exp = json.loads((CASES / name / "expected.json").read_text())
    got = score_pair(CASES / name / "pred.nii.gz", CASES / name / "gt.nii.gz", "brats2020")
    for r in ("wt", "tc", "et"):
        assert got[f"lesion_dice_{r}"] == pytest.approx(exp[f"lesion_dice_{r}"], abs=1e-6), (name, r)
        assert got[f"dice_{r}"] == pytest.approx(exp[f"legacy_dice_{r}"], abs=1e-6), (name, r)
        assert got[f"lesion_hd95_{r}"] == pytest.approx(exp[f"lesion_hd95_{r}"], abs=0.1), (name, r)
        assert got[f"hd95_{r}"] == pytest.approx(exp[f"legacy_hd95_{r}"], abs=0.1), (name, r)
        for k in ("tp", "fp", "fn"):
            assert got[f"lesion_num_{k}_{r}"] == exp[f"num_{k}_{r}"], (name, r, k)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("challenge, profile", [("BraTS-MEN", "2023-MEN"), ("BraTS-MET", "2023-MET")])
def test_matches_official_code_of_the_other_2023_challenges(name, challenge, profile):
    """The same official function with MEN's (1 dilation) and MET's (1 dilation, GT lesions <= 2 mm^3 dropped) settings."""
    exp = json.loads((CASES / name / f"expected_2023_{challenge}.json").read_text())
    got = score_pair(CASES / name / "pred.nii.gz", CASES / name / "gt.nii.gz", "brats2020", profile)
    for r in ("wt", "tc", "et"):
        assert got[f"lesion_dice_{r}"] == pytest.approx(exp[f"lesion_dice_{r}"], abs=1e-6), (name, r)
        assert got[f"lesion_hd95_{r}"] == pytest.approx(exp[f"lesion_hd95_{r}"], abs=0.1), (name, r)
        assert got[f"dice_{r}"] == pytest.approx(exp[f"legacy_dice_{r}"], abs=1e-6), (name, r)
        for k in ("tp", "fp", "fn"):
            assert got[f"lesion_num_{k}_{r}"] == exp[f"num_{k}_{r}"], (name, r, k)


def test_the_profiles_differ_where_the_official_settings_do():
    """syn_merge_axis: 3 dilations merge two GT lesions (GLI), 1 does not (MEN); syn_small: the 27-voxel lesion is
    dropped at <= 50 mm^3 (GLI, MEN) and kept at <= 2 mm^3 (MET)."""
    def tp(name, profile, r="wt"):
        return score_pair(CASES / name / "pred.nii.gz", CASES / name / "gt.nii.gz", "brats2020", profile)
    merge = {p: tp("syn_merge_axis", p) for p in ("2023-GLI", "2023-MEN")}
    assert merge["2023-GLI"]["lesion_num_tp_wt"] + merge["2023-GLI"]["lesion_num_fn_wt"] < \
        merge["2023-MEN"]["lesion_num_tp_wt"] + merge["2023-MEN"]["lesion_num_fn_wt"]
    small = {p: tp("syn_small", p) for p in ("2023-MEN", "2023-MET")}
    assert small["2023-MEN"]["lesion_num_tp_wt"] + small["2023-MEN"]["lesion_num_fn_wt"] < \
        small["2023-MET"]["lesion_num_tp_wt"] + small["2023-MET"]["lesion_num_fn_wt"]
    assert tp("syn_small", "2023-SSA") == tp("syn_small", "2023-GLI") == tp("syn_small", "2023-PED")


def test_an_unknown_profile_is_one_clear_error():
    from brats_mlops.errors import UserError

    with pytest.raises(UserError, match="unknown metric profile '2019'; choose one of 2023-GLI, 2023-SSA"):
        score_pair(CASES / NAMES[0] / "pred.nii.gz", CASES / NAMES[0] / "gt.nii.gz", "brats2020", "2019")


def test_folder_evaluation_matches_the_per_case_numbers(tmp_path):
    import shutil

    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    for n in NAMES[:3]:
        shutil.copy(CASES / n / "pred.nii.gz", tmp_path / "pred" / f"{n}.nii.gz")
        shutil.copy(CASES / n / "gt.nii.gz", tmp_path / "gt" / f"{n}.nii.gz")
    shutil.copy(CASES / NAMES[3] / "pred.nii.gz", tmp_path / "pred" / "extra.nii.gz")  # no ground truth: reported
    out = evaluate(tmp_path / "pred", tmp_path / "gt", "brats2020")
    assert sorted(out["cases"]) == NAMES[:3] and out["n_cases"] == 3 and out["unmatched_predictions"] == ["extra"]
    exp = [json.loads((CASES / n / "expected.json").read_text())["lesion_dice_wt"] for n in NAMES[:3]]
    assert out["mean"]["lesion_dice_wt"] == pytest.approx(sum(exp) / 3, abs=1e-6)
