"""Seed 001's survival bins: cohort and split, majority vote, patient-bootstrap scores, the network."""

import numpy as np
import pandas as pd
import pytest
import torch

from brats_mlops.config.slices import Survival2DParams
from brats_mlops.errors import UserError
from brats_mlops.models.survival2d import SurvivalResNet50
from brats_mlops.survival.slices2d import build_cohort, mask_channels, slice_level_split, slice_table
from brats_mlops.survival.slices2d_eval import majority_vote, patient_votes, score


def _clinical(path, n=30):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"case_id": [f"C{i:02d}" for i in range(n)], "age": rng.uniform(30, 80, n), "survival_days": rng.uniform(50, 900, n),
                       "event": 1.0, "usable": True})
    df.loc[0, "event"] = 0.0  # alive at some days: censored
    df.loc[0, "survival_days"] = 60.0
    df.to_csv(path, index=False)
    return df


def test_cohort_bins_are_equal_frequency_and_test_patients_are_the_segmentation_held_out_ones(tmp_path):
    df = _clinical(tmp_path / "clinical.csv")
    ids = df.case_id.tolist()
    split = {"train": ids[:18], "val": ids[18:24], "test": ids[24:]}
    cohort, reason = build_cohort(tmp_path / "clinical.csv", ids, split, Survival2DParams(), seed=0)
    assert reason is None
    t = cohort.table
    assert "C00" not in set(t.case_id) and cohort.excluded[0]["case_id"] == "C00"  # censored below the top bin
    assert set(t.case_id[t.subset == "test"]) == set(ids[18:])  # never trained on by the segmentation model
    assert t.groupby("case_id").subset.nunique().max() == 1
    counts = t.bin.value_counts()
    assert len(counts) == 3 and counts.max() - counts.min() <= 2
    few, why = build_cohort(tmp_path / "clinical.csv", ids[:5], split, Survival2DParams(), seed=0)
    assert few is None and "at least 9" in why


def test_slice_table_and_the_leaky_slice_split():
    masks = {c: np.zeros((8, 8, 10), np.uint8) for c in ("A", "B", "C")}
    masks["A"][2:4, 2:4, 3:6] = 2
    cohort = pd.DataFrame({"case_id": ["A", "B", "C"], "bin": [0, 1, 2], "age": [50.0, 60.0, 70.0], "subset": ["train", "val", "test"]})
    rows = slice_table(masks, cohort, stride=2)
    assert len(rows) == 15 and rows.nonempty.sum() == 1  # stride 2 keeps z 0,2,4,6,8; A's tumour (z 3-5) is in z 4 only
    assert rows.groupby("case_id").subset.nunique().max() == 1
    leaky = slice_level_split(rows, seed=0)
    assert leaky.subset.value_counts().to_dict() == rows.subset.value_counts().to_dict()
    assert leaky.groupby("case_id").subset.nunique().max() > 1  # patients now sit in several parts
    ch = mask_channels(masks["A"][..., 4])
    assert ch.shape == (3, 8, 8) and ch[1].sum() == 4 and ch[0].sum() == 0


def test_majority_vote_known_example_and_tie_break():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05]])
    assert majority_vote(probs.argmax(1), probs) == 1  # votes 0,1,1,0 tie 2-2; mean p(bin 1) 0.4625 > p(bin 0) 0.45
    probs2 = np.array([[0.5, 0.4, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1]])
    assert majority_vote(probs2.argmax(1), probs2) == 1  # 2 votes for bin 1


def test_score_counts_slices_nonempty_slices_and_patients():
    rows = pd.DataFrame({"case_id": ["A"] * 4 + ["B"] * 3, "bin": [0] * 4 + [1] * 3,
                         "nonempty": [False, True, True, True, False, True, True]})
    pred = np.array([1, 0, 0, 1, 0, 1, 1])  # A: non-empty votes 0,0,1 -> 0 (right); B: 1,1 -> 1 (right)
    probs = np.eye(2)[pred] * 0.8 + 0.1
    s = score(rows, probs, n_bins=2, n_boot=200)
    assert s["slice_accuracy"] == pytest.approx(4 / 7)
    assert s["slice_accuracy_nonempty"] == pytest.approx(4 / 5)
    assert s["patient_majority_accuracy"] == 1.0 and s["patient_majority_macro_f1"] == 1.0
    assert s["slice_accuracy_lo"] <= s["slice_accuracy"] <= s["slice_accuracy_hi"]
    assert s["n_patients"] == 2 and s["n_slices_nonempty"] == 5
    v = patient_votes(rows, probs)
    assert v.set_index("case_id").n_slices.to_dict() == {"A": 3, "B": 2}


def test_resnet50_head_is_the_seeds_and_missing_weights_are_refused(tmp_path):
    m = SurvivalResNet50(n_bins=3)
    assert m.backbone.fc[0].in_features == 2048 and m.backbone.fc[0].out_features == 128
    assert m.age[0].out_features == 10 and m.head[0].in_features == 138 and m.head[-1].out_features == 3
    out = m(torch.zeros(2, 3, 32, 32), torch.tensor([0.2, 0.9]))
    assert out.shape == (2, 3)
    with pytest.raises(UserError, match="cannot be downloaded"):
        SurvivalResNet50(weights=str(tmp_path / "resnet50.pth"))
