"""Mirroring test-time augmentation (evaluate.tta: mirror): same shape, equal to the plain prediction for a
mirror-symmetric model, and at least the plain Dice on a known example where the network is off by one voxel."""

import numpy as np
import torch

from brats_mlops.inference.segment import MIRROR_AXES, mirror_tta, predict_labels
from brats_mlops.metrics import region_dice
from brats_mlops.models.outputs import logits_to_labels


class Shifted(torch.nn.Module):
    """Label-mode logits: background 0.5 everywhere, NCR 1 on the input cube shifted one voxel along the first axis."""

    def forward(self, x):
        out = torch.zeros(x.shape[0], 4, *x.shape[2:])
        out[:, 0] = 0.5
        out[:, 1, 1:] = (x[:, 0, :-1] > 0).float()
        return out


def test_mirror_tta_recovers_a_cube_the_network_shifts():
    x = torch.zeros(1, 4, 16, 16, 16)
    x[:, :, 5:11, 5:11, 5:11] = 1.0
    truth = (x[0, 0] > 0).numpy().astype(np.uint8)                       # the cube as NCR (label 1)
    model = Shifted()
    plain = logits_to_labels(model(x), "label")[0].numpy()
    tta = logits_to_labels(mirror_tta(model, x, "label"), "label")[0].numpy()
    assert len(MIRROR_AXES) == 8 and tta.shape == plain.shape == truth.shape
    d_plain, d_tta = region_dice(plain, truth)["wt"], region_dice(tta, truth)["wt"]
    assert d_plain == np.float64(2 * 5 / 12) or abs(d_plain - 2 * 5 / 12) < 1e-9   # 5 of 6 voxels per row overlap
    assert d_tta >= d_plain and abs(d_tta - 12 / 14) < 1e-9                          # cube +-1 averaged: 6 of 8 per row


def test_mirror_tta_of_a_symmetric_model_changes_nothing_and_keeps_the_geometry():
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(4, 4, 1)                                        # a 1x1x1 convolution commutes with mirroring
    images = np.zeros((4, 20, 18, 14), np.float32)
    images[:, 3:17, 2:16, 2:12] = np.random.default_rng(0).normal(1, 0.3, (4, 14, 14, 10))
    mc = {"in_channels": 4, "modalities": ["t1", "t1ce", "t2", "flair"], "roi_size": [8, 8, 8], "mode": "label",
          "region_thresholds": [0.5, 0.5, 0.5], "sw_overlap": 0.25}
    plain = predict_labels(conv, images, mc)
    tta = predict_labels(conv, images, mc, tta="mirror")
    assert tta.shape == plain.shape == images.shape[1:] and tta.dtype == np.uint8
    assert np.array_equal(tta, plain)
    region = {**mc, "mode": "region", "out_channels": 3}
    conv3 = torch.nn.Conv3d(4, 3, 1)
    assert predict_labels(conv3, images, region, tta="mirror").shape == images.shape[1:]
