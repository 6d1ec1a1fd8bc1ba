import pytest
import torch
import torch.nn.functional as F

from brats_mlops.losses import (
    EdgeLoss,
    SegmentationLoss,
    class_weights_from_frequencies,
    labels_to_regions,
)
from brats_mlops.models.outputs import regions_to_labels


def paper_dice(logits, y, eps=1e-5):
    """The paper's formula written out: mean over samples and non-background classes."""
    p = torch.softmax(logits, 1)
    t = F.one_hot(y[:, 0].long(), logits.shape[1]).movedim(-1, 1).float()
    losses = []
    for b in range(p.shape[0]):
        for c in range(1, p.shape[1]):
            inter = (p[b, c] * t[b, c]).sum()
            losses.append(1 - (2 * inter + eps) / (p[b, c].sum() + t[b, c].sum() + eps))
    return torch.stack(losses).mean()


def test_soft_dice_is_the_paper_formula():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6, 6, 6)
    y = torch.randint(0, 4, (2, 1, 6, 6, 6))
    loss = SegmentationLoss("label", dice_weight=1.0)
    assert torch.allclose(loss(logits, y), paper_dice(logits, y), atol=1e-6)


@pytest.mark.parametrize("perfect, expected", [(True, 0.0), (False, 1.0)])
def test_dice_extremes(perfect, expected):
    y = torch.zeros(1, 1, 4, 4, 4, dtype=torch.long)
    y[..., :2, :, :] = 1
    y[..., 2:, :2, :] = 2
    y[..., 2:, 2:, :] = 3
    target = y if perfect else (y % 3) + 1  # every voxel a wrong non-background class
    logits = 50.0 * F.one_hot(target[:, 0], 4).movedim(-1, 1).float()
    assert float(SegmentationLoss("label")(logits, y)) == pytest.approx(expected, abs=1e-4)


def test_dice_ce_uses_beta_and_class_weights():
    torch.manual_seed(1)
    logits = torch.randn(1, 4, 5, 5, 5)
    y = torch.randint(0, 4, (1, 1, 5, 5, 5))
    w = torch.tensor([0.1, 1.0, 2.0, 3.0])
    loss = SegmentationLoss("label", dice_weight=1.0, ce_weight=0.5, class_weights=w)
    expected = paper_dice(logits, y) + 0.5 * F.cross_entropy(logits, y[:, 0], weight=w)
    assert torch.allclose(loss(logits, y), expected, atol=1e-6)


def test_class_weights_inverse_frequency():
    w = class_weights_from_frequencies([900, 50, 40, 10])
    assert w.mean() == pytest.approx(1.0)
    assert float(w[3] / w[0]) == pytest.approx(90.0, rel=1e-5)


def test_regions_roundtrip():
    y = torch.tensor([0, 1, 2, 3]).view(1, 1, 4, 1, 1)
    r = labels_to_regions(y)
    assert r[0, :, :, 0, 0].tolist() == [[0, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1]]
    assert torch.equal(regions_to_labels(r), y)


def test_region_mode_and_composite_terms():
    torch.manual_seed(2)
    logits = torch.randn(1, 3, 6, 6, 6, requires_grad=True)
    y = torch.randint(0, 4, (1, 1, 6, 6, 6))
    loss = SegmentationLoss("region", dice_weight=1, ce_weight=1, focal_weight=1, edge_weight=0.05)
    terms = loss.terms(logits, y)
    assert set(terms) == {"dice", "ce", "focal", "edge"}
    total = loss(logits, y)
    assert torch.allclose(total, terms["dice"] + terms["ce"] + terms["focal"] + 0.05 * terms["edge"])
    total.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_edge_loss_zero_for_identical_and_positive_otherwise():
    t = torch.zeros(1, 1, 8, 8, 8)
    t[..., 2:6, 2:6, 2:6] = 1
    e = EdgeLoss()
    assert float(e(t, t)) == pytest.approx(0.0, abs=1e-8)
    assert float(e(torch.roll(t, 2, dims=2), t)) > 0


def test_bad_options():
    with pytest.raises(ValueError, match="mode"):
        SegmentationLoss("softmax")
    with pytest.raises(ValueError, match=">= 0"):
        SegmentationLoss(ce_weight=-1)
