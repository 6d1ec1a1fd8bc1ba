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
