import pytest
import torch

from brats_mlops.config.schema import ParamsError, parse_params
from brats_mlops.losses.autoencoder import AdversarialLosses, kl_loss


def test_adversarial_losses_are_the_least_squares_formulas():
    g = torch.Generator().manual_seed(0)
    d_real, d_fake = torch.randn(2, 1, 5, 5, 4, generator=g), torch.randn(2, 1, 5, 5, 4, generator=g)
    adv = AdversarialLosses()
    assert torch.allclose(adv.generator(d_fake), ((d_fake - 1) ** 2).mean())
    assert torch.allclose(adv.discriminator(d_real, d_fake), 0.5 * (((d_real - 1) ** 2).mean() + (d_fake ** 2).mean()))
    # a perfect discriminator has zero loss, and the generator's loss is then maximal-ish
    assert float(adv.discriminator(torch.ones(3), torch.zeros(3))) == 0.0
    assert float(adv.generator(torch.zeros(3))) == 1.0


def test_kl_is_zero_at_the_prior_and_matches_the_closed_form():
    mu, sigma = torch.zeros(2, 3, 4, 4, 4), torch.ones(2, 3, 4, 4, 4)
    assert float(kl_loss(mu, sigma)) == pytest.approx(0.0, abs=1e-7)
    mu = torch.full((1, 1, 1, 1, 1), 2.0)
    sigma = torch.full((1, 1, 1, 1, 1), 0.5)
    expected = 0.5 * (4 + 0.25 - torch.log(torch.tensor(0.25)) - 1)
    assert float(kl_loss(mu, sigma)) == pytest.approx(float(expected), rel=1e-6)


def test_perceptual_weight_without_local_weights_is_refused_at_validation(tmp_path):
    with pytest.raises(ParamsError) as e:
        parse_params({"autoencoder": {"loss": {"perceptual": 0.001}}})
    msg = str(e.value)
    assert "autoencoder" in msg and "perceptual_cache_dir" in msg and "cannot be downloaded" in msg
    with pytest.raises(ParamsError, match="perceptual_cache_dir"):
        parse_params({"autoencoder": {"loss": {"perceptual": 0.001, "perceptual_cache_dir": str(tmp_path / "nope")}}})
    # an existing directory passes validation (the weights themselves are checked when the loss is built)
    assert parse_params({"autoencoder": {"loss": {"perceptual": 0.001, "perceptual_cache_dir": str(tmp_path)}}})


def test_autoencoder_shape_must_fit_the_downsamplings():
    with pytest.raises(ParamsError, match="divisible by 8"):
        parse_params({"autoencoder": {"channels": [8, 8, 8, 8]}, "preprocess": {"autoencoder": {"shape": [44, 48, 48]}}})
    with pytest.raises(ParamsError, match="norm_num_groups"):
        parse_params({"autoencoder": {"channels": [8, 12]}})
