"""Known values of the BraTS 2025 rule: numbers of the official scorer (BraTS/BraTS_evaluation 0.0.10 on panoptica
2.1.7: ``config_<task>.yaml``, then ``metrics_parser``) for

* the ten pairs of ``tests/data/brats2023_official_cases`` under every bundled config (stored in BraTS 2020 labels;
  converted to the task's labels as ``CONVERT`` says, as they were for the official run),
* the task-label pairs of ``tests/data/brats_task_pairs`` (resection cavity, paediatric labels, many small metastases
  at 0.9×0.9×2 mm, empty volumes),
* the four real metastasis cases that ship with the official scorer (``tests/data/brats2025_mets_sample``), against
  the panoptica output file the official repository ships beside them.

Dice and NSD agree to 1e-6, HD95 to 0.1 mm (in fact to 1e-6), counts exactly, NaN where the parser gives NaN."""

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brats_mlops.metrics.brats2025 import TASK_GROUPS, case_metrics_2025, panoptica_results

DATA = Path(__file__).resolve().parents[1] / "data"
CASES = DATA / "brats2023_official_cases"
PAIRS = DATA / "brats_task_pairs"
METS = DATA / "brats2025_mets_sample"
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
CONVERT = {  # BraTS 2020 labels (1 NCR, 2 ED, 4 ET) -> the task's labels
    "gli": {1: 1, 2: 2, 4: 3}, "mets": {1: 1, 2: 2, 4: 3}, "MenPre": {1: 1, 2: 2, 4: 3}, "GoAT": {1: 1, 2: 2, 4: 3},
    "ped": {1: 2, 2: 4, 4: 1}, "MenRT": {1: 1, 2: 1, 4: 1},
}
RENAME = {"all_instance": "lesion", "large_instance": "large", "small_instance": "small"}
COUNT = {"tp": "num_tp", "fp": "num_fp", "fn": "num_fn", "prec": "precision", "rec": "recall", "f1": "f1"}


def flat_key(official: str) -> str:
    """The official parser's column name -> ours (``brats2025`` module docstring)."""
    for pre, ours in RENAME.items():
        if official.startswith(pre + "_"):
            stat, group = official[len(pre) + 1:].split("_", 1)
            return f"{ours}_{COUNT[stat]}_{group}"
    if official.startswith("global_"):
        m, group = official[len("global_"):].split("_", 1)
        return f"{'dice' if m == 'dsc' else m}_{group}"
    m, stat, group = official[len("lesionwise_"):].split("_", 2)
    return f"lesion_{'dice' if m == 'dsc' else m}{'' if stat == 'mean' else '_std'}_{group}"


def load(path: Path, convert: dict[int, int] | None = None):
    img = nib.load(str(path))
    a = np.asarray(img.dataobj).astype(np.int16)
    if convert:
        out = np.zeros_like(a)
        for k, v in convert.items():
            out[a == k] = v
        a = out
    return a.astype(np.uint8), tuple(float(z) for z in img.header.get_zooms()[:3])


def assert_row(got: dict, parsed: dict, where) -> None:
    for k, v in parsed.items():
        ours = got[flat_key(k)]
        if v is None:
            assert math.isnan(ours), (where, k, ours)
        elif "hd95" in k:
            assert ours == pytest.approx(float(v), abs=0.1), (where, k)
        elif k.split("_")[2] in ("tp", "fp", "fn"):
            assert ours == v, (where, k, ours, v)
        else:
            assert ours == pytest.approx(float(v), abs=1e-6), (where, k)


def test_the_flat_key_names_are_the_parsers_one_to_one():
    assert flat_key("all_instance_f1_et") == "lesion_f1_et"
    assert flat_key("global_dsc_wt") == "dice_wt"
    assert flat_key("lesionwise_hd95_std_netc") == "lesion_hd95_std_netc"
    assert flat_key("small_instance_prec_rc") == "small_precision_rc"


@pytest.mark.parametrize("task", sorted(TASK_GROUPS))
@pytest.mark.parametrize("name", NAMES)
def test_ten_pairs_match_the_official_scorer(name, task):
    exp = json.loads((CASES / name / f"expected_2025_{task}.json").read_text())
    pred, spacing = load(CASES / name / "pred.nii.gz", CONVERT[task])
    gt, _ = load(CASES / name / "gt.nii.gz", CONVERT[task])
    got = case_metrics_2025(pred, gt, spacing, task)
    assert_row(got, exp["parsed"], (name, task))
    assert {k for k in got if k != "dice_brats"} == {flat_key(k) for k in exp["parsed"]}


@pytest.mark.parametrize("name, task", sorted(
    (p.parent.name, p.stem.removeprefix("expected_2025_")) for p in PAIRS.glob("*/expected_2025_*.json")))
def test_task_label_pairs_match_the_official_scorer(name, task):
    exp = json.loads((PAIRS / name / f"expected_2025_{task}.json").read_text())
    pred, spacing = load(PAIRS / name / "pred.nii.gz")
    gt, _ = load(PAIRS / name / "gt.nii.gz")
    assert_row(case_metrics_2025(pred, gt, spacing, task), exp["parsed"], (name, task))


def test_task_label_pairs_cover_every_edge_case_they_claim():
    found = {(p.parent.name, p.stem.removeprefix("expected_2025_")) for p in PAIRS.glob("*/expected_2025_*.json")}
    assert {("gli_rc", "gli"), ("ped_cc", "ped"), ("mets_many_small", "mets"), ("empty_both", "MenRT"),
            ("empty_pred", "mets")} <= found


def _mets_sample():
    for ref in sorted((METS / "ref").glob("*-seg.nii.gz")):
        cid = ref.name.removeprefix("BraTS-MET-").removesuffix("-seg.nii.gz")
        (pred,) = [p for p in (METS / "pred").iterdir() if p.name.endswith(f"{cid}.nii.gz")]
        yield cid, ref, pred


def test_the_official_mets_sample_matches_the_panoptica_output_shipped_with_it():
    """The official repository's own output (``sample_mets_metrics.json``) for its four real metastasis cases."""
    shipped = {s["subject_name"]: s for s in json.loads((METS / "sample_mets_metrics.json").read_text())["metrics"]}
    assert len(shipped) == 4
    for cid, ref, pred_path in _mets_sample():
        pred, spacing = load(pred_path)
        gt, _ = load(ref)
        raw = panoptica_results(pred, gt, spacing, "mets")
        for group, official in shipped[ref.name].items():
            if group == "subject_name":
                continue
            for k, v in official.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    mine = raw[group][k]
                    assert (math.isnan(v) and math.isnan(mine)) or mine == pytest.approx(v, abs=1e-6), (cid, group, k)


@pytest.mark.parametrize("cid", ["00132-000", "00217-000", "00630-001", "01325-000"])
def test_the_official_mets_sample_parses_like_the_official_parser(cid):
    (_, ref, pred_path), = [c for c in _mets_sample() if c[0] == cid]
    exp = json.loads((METS / f"expected_2025_mets_{cid}.json").read_text())
    pred, spacing = load(pred_path)
    gt, _ = load(ref)
    assert_row(case_metrics_2025(pred, gt, spacing, "mets"), exp["parsed"], cid)


def test_spacing_is_applied_as_the_official_scorer_applies_it():
    """On an anisotropic pair the official numbers need the spacing reversed (SimpleITK's axis order); with the
    spacing in nibabel's own order lesion-wise HD95 differs — the reason ``panoptica_results`` reverses it."""
    exp = json.loads((CASES / "hd_shift_aniso" / "expected_2025_gli.json").read_text())["parsed"]
    pred, spacing = load(CASES / "hd_shift_aniso" / "pred.nii.gz", CONVERT["gli"])
    gt, _ = load(CASES / "hd_shift_aniso" / "gt.nii.gz", CONVERT["gli"])
    assert case_metrics_2025(pred, gt, spacing, "gli")["lesion_hd95_wt"] == pytest.approx(exp["lesionwise_hd95_mean_wt"], abs=1e-6)
    assert case_metrics_2025(pred, gt, tuple(reversed(spacing)), "gli")["lesion_hd95_wt"] != pytest.approx(
        exp["lesionwise_hd95_mean_wt"], abs=0.1)


def test_internal_labels_scored_under_a_2025_profile_give_the_official_numbers():
    """The evaluate stages hold internal labels (1 NCR, 2 ED, 3 ET); ``case_metrics`` with a 2025 profile writes
    them in the profile's labels and gives the official numbers of the pair."""
    from brats_mlops.metrics.brats import case_metrics

    exp = json.loads((CASES / "fp_blob_missed_satellite" / "expected_2025_gli.json").read_text())["parsed"]
    pred, spacing = load(CASES / "fp_blob_missed_satellite" / "pred.nii.gz", {1: 1, 2: 2, 4: 3})  # internal = 2023 here
    gt, _ = load(CASES / "fp_blob_missed_satellite" / "gt.nii.gz", {1: 1, 2: 2, 4: 3})
    got = case_metrics(pred, gt, spacing, profile="2025-GLI")
    assert_row(got, exp, "internal")
    assert got["dice_brats"] == pytest.approx(np.mean([exp["global_dsc_wt"], exp["global_dsc_tc"], exp["global_dsc_et"]]), abs=1e-9)
