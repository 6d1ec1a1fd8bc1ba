import math

import pytest
import torch
from monai.losses import FocalLoss

from brats_mlops.losses.slices import CategoricalFocalLoss, WeightedDiceLoss


def test_weighted_dice_by_hand():
    # 2 classes, 2 pixels; logits give p(class 1) = 0.8 on pixel 0, 0.2 on pixel 1; truth: pixel 0 is class 1
    logits = torch.stack([torch.log(torch.tensor([[0.2], [0.8]])), torch.log(torch.tensor([[0.8], [0.2]]))])[None]
    target = torch.tensor([[[1], [0]]])
    d1 = (2 * 0.8) / (0.8 + 0.2 + 1)  # class 1: intersection 0.8, sum p 1.0, sum t 1
    d0 = (2 * 0.8) / (0.2 + 0.8 + 1)
    assert WeightedDiceLoss([0, 1], smooth=0)(logits, target).item() == pytest.approx(1 - d1, abs=1e-6)
    assert WeightedDiceLoss([1, 3], smooth=0)(logits, target).item() == pytest.approx(1 - (d0 + 3 * d1) / 4, abs=1e-6)
    with pytest.raises(ValueError, match="3 class weights for 2 classes"):
        WeightedDiceLoss([0, 1, 1])(logits, target)


def test_categorical_focal_by_hand_and_against_monai():
    logits = torch.tensor([[[[2.0]], [[0.0]], [[-1.0]]]])  # (1, 3, 1, 1)
    target = torch.tensor([[[1]]])
    p = torch.softmax(logits.flatten(), 0)[1].item()
    expected = -0.25 * (1 - p) ** 2 * math.log(p)
    assert CategoricalFocalLoss()(logits, target).item() == pytest.approx(expected, rel=1e-6)
    x, y = torch.randn(2, 4, 5, 5), torch.randint(0, 4, (2, 5, 5))
    monai = FocalLoss(use_softmax=True, to_onehot_y=True, gamma=2.0, alpha=None, include_background=True)(x, y[:, None])
    ours = CategoricalFocalLoss(alpha=1.0)(x, y).item()
    assert ours == pytest.approx(4 * monai.item(), rel=1e-5)  # the same terms; MONAI also averages over the K classes
