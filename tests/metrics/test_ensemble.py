"""Ensembling (evaluate.ensemble: folds, predict --ensemble): each network's probabilities averaged. On a known
example where each of two networks misses a different half of the tumour, the ensemble finds all of it (Dice above
either network); a single-network "ensemble" is that network; through predict_labels the shape is the input's."""

import numpy as np
import torch

from brats_mlops.inference.segment import ensemble, predict_labels
from brats_mlops.metrics import region_dice
from brats_mlops.models.outputs import logits_to_labels


class HalfBlind(torch.nn.Module):
    """Label-mode logits on a cube: ED (label 2) with probability ~0.8 on the cube, except on one half (``side``) of it,
    where it says background with probability ~0.6 (ED ~0.4)."""

    def __init__(self, side: int):
        super().__init__()
        self.side = side

    def forward(self, x):
        cube = x[:, 0] > 0
        half = torch.zeros_like(cube)
        mid = x.shape[2] // 2
        if self.side == 0:
            half[:, :mid] = True
        else:
            half[:, mid:] = True
        p = torch.full((x.shape[0], 4, *x.shape[2:]), 0.02)
        p[:, 0] = 0.94
        on, blind = cube & ~half, cube & half
        for mask, (bg, ed) in ((on, (0.14, 0.8)), (blind, (0.56, 0.38))):
            p[:, 0][mask], p[:, 2][mask] = bg, ed
        return torch.log(p)


def test_ensemble_recovers_what_each_network_misses():
    x = torch.zeros(1, 4, 16, 16, 16)
    x[:, :, 4:12, 4:12, 4:12] = 1.0
    truth = np.where((x[0, 0] > 0).numpy(), 2, 0).astype(np.uint8)
    a, b = HalfBlind(0), HalfBlind(1)
    dice = {name: region_dice(logits_to_labels(net(x), "label")[0].numpy(), truth)["wt"]
            for name, net in (("a", a), ("b", b), ("ensemble", ensemble([a, b], "label")))}
    assert abs(dice["a"] - 2 * 256 / (256 + 512)) < 1e-9 and abs(dice["b"] - dice["a"]) < 1e-9  # each finds half the cube
    assert dice["ensemble"] == 1.0 > dice["a"]  # averaged: ED (0.8 + 0.38) / 2 = 0.59 beats background (0.14 + 0.56) / 2
    assert ensemble([a], "label") is a


def test_region_mode_ensemble_averages_sigmoids():
    lo, hi = torch.full((1, 3, 2, 2, 2), -2.0), torch.full((1, 3, 2, 2, 2), 4.0)
    out = ensemble([lambda v: lo, lambda v: hi], "region")(None)
    expected = (torch.sigmoid(lo) + torch.sigmoid(hi)) / 2
    assert torch.allclose(torch.sigmoid(out), expected, atol=1e-5)


def test_predict_labels_with_an_ensemble_keeps_the_inputs_geometry():
    torch.manual_seed(0)
    nets = [torch.nn.Conv3d(4, 4, 1), torch.nn.Conv3d(4, 4, 1)]
    images = np.zeros((4, 20, 18, 14), np.float32)
    images[:, 3:17, 2:16, 2:12] = np.random.default_rng(0).normal(1, 0.3, (4, 14, 14, 10))
    mc = {"in_channels": 4, "modalities": ["t1", "t1ce", "t2", "flair"], "roi_size": [8, 8, 8], "mode": "label",
          "region_thresholds": [0.5, 0.5, 0.5], "sw_overlap": 0.25}
    one = predict_labels(nets[:1], images, mc)
    assert np.array_equal(one, predict_labels(nets[0], images, mc))  # a list of one network is that network
    both = predict_labels(nets, images, mc, tta="mirror")
    assert both.shape == images.shape[1:] and both.dtype == np.uint8
