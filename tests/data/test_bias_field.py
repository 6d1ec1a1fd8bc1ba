"""The bias field computed per axis (data/augment.py) is TorchIO's, bit for bit."""

import numpy as np
import pytest
import torch
import torchio as tio

from brats_mlops.config.schema import AugmentationParams
from brats_mlops.data.augment import RandomSeparableBiasField, SeparableBiasField, build_augmentation


@pytest.mark.parametrize("shape", [(1, 16, 16, 16), (1, 15, 22, 9), (1, 1, 8, 5), (1, 64, 64, 48)])
@pytest.mark.parametrize("order", [0, 1, 3, 4])
def test_the_field_is_torchios_bit_for_bit(shape, order):
    n = (order + 1) * (order + 2) * (order + 3) // 6
    coefficients = list(np.random.default_rng(order).uniform(-0.5, 0.5, n))
    data = torch.zeros(shape)
    ours = SeparableBiasField.generate_bias_field(data, order, coefficients)
    theirs = tio.BiasField.generate_bias_field(data, order, coefficients)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape == shape[1:]
    assert ours.tobytes() == theirs.tobytes()


def _subject(seed: int) -> tio.Subject:
    g = torch.Generator().manual_seed(seed)
    return tio.Subject(t1=tio.ScalarImage(tensor=torch.rand(1, 20, 18, 12, generator=g)),
                       t2=tio.ScalarImage(tensor=torch.rand(1, 20, 18, 12, generator=g)))


def test_the_random_transform_draws_and_applies_as_torchios():
    for seed in range(3):
        torch.manual_seed(seed)
        theirs = tio.RandomBiasField(coefficients=0.5, order=3)(_subject(seed))
        torch.manual_seed(seed)
        ours = RandomSeparableBiasField(coefficients=0.5, order=3)(_subject(seed))
        for name in ("t1", "t2"):
            assert torch.equal(ours[name].data, theirs[name].data)
        assert not torch.equal(ours["t1"].data, _subject(seed)["t1"].data)   # a field was applied


def test_the_augmentation_uses_it_when_the_bias_field_is_on():
    steps = build_augmentation(AugmentationParams(enabled=True, bias_field=True, bias_field_p=0.2)).transforms
    bias = [t for t in steps if isinstance(t, tio.RandomBiasField)]
    assert len(bias) == 1 and isinstance(bias[0], RandomSeparableBiasField) and bias[0].probability == 0.2
