"""Seed 003's training options: MSE as a loss term, Adam with exponential decay, checkpoints picked on Dice + HD95."""

import pytest
import torch
import torch.nn.functional as F

from brats_mlops.config.schema import parse_params
from brats_mlops.losses import SegmentationLoss
from brats_mlops.models.checkpoint import load_checkpoint
from brats_mlops.training.segmentation import SegmentationTrainer
from tests.conftest import TINY_SEG


def test_mse_term_is_the_mean_squared_error_of_the_probabilities():
    logits = torch.randn(2, 4, 3, 3, 3)
    y = torch.randint(0, 4, (2, 1, 3, 3, 3))
    expected = F.mse_loss(torch.softmax(logits, 1), F.one_hot(y[:, 0], 4).movedim(-1, 1).float())
    assert float(SegmentationLoss("label", dice_weight=0, mse_weight=1)(logits, y)) == pytest.approx(float(expected), rel=1e-6)
    both = SegmentationLoss("label", dice_weight=0, ce_weight=0.0044, edge_weight=0.00015, mse_weight=0.25)  # combination 1
    assert set(both.terms(logits, y)) == {"ce", "edge", "mse"}


def test_adam_exponential_decay_and_selection_on_dice_and_hd95(tiny_preprocessed, tmp_path):
    pre, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 2, "optimizer": "adam", "schedule": "exponential", "exp_gamma": 0.5,
                                         "weight_decay": 0.0, "select_on": "dice_hd95"},
                        "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    t = SegmentationTrainer(cfg, pre, split, plans.num_classes, plans.modalities, plans.crop_size, False, tmp_path, seed=0)
    assert type(t.opt) is torch.optim.Adam and t.score_key == "val_dice_hd95"
    res = t.fit()
    assert [h["lr"] for h in res.history] == pytest.approx([cfg.lr, cfg.lr * 0.5])
    for h in res.history:
        assert h["val_dice_hd95"] == pytest.approx(h["val_dice_composite"] - h["val_hd95_mean"] / cfg.hd95_scale)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["score_key"] == "val_dice_hd95" and best["score"] == max(h["val_dice_hd95"] for h in res.history)
