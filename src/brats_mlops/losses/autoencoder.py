"""Autoencoder losses (paper §4.2): L1 reconstruction, KL to N(0, I), least-squares adversarial, perceptual.

Generator:      l1·|x − x̂|₁ + kl·KL(q(z|x) ‖ N(0, I)) + perceptual·P(x, x̂) + adversarial·E[(D(x̂) − 1)²]
Discriminator:  ½·(E[(D(x) − 1)²] + E[D(x̂)²])

The adversarial terms are MONAI's ``PatchAdversarialLoss`` (least squares, no extra activation so they are
exactly the formulas above). The perceptual term is MONAI's ``PerceptualLoss``; it needs pretrained weights
that must already be on disk (params validation refuses a weight > 0 without them).
"""

from __future__ import annotations

import torch
from monai.losses import PatchAdversarialLoss

from brats_mlops.config.schema import AutoencoderLossParams


def kl_loss(z_mu: torch.Tensor, z_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) summed over latent elements, averaged over the batch."""
    kl = 0.5 * (z_mu.pow(2) + z_sigma.pow(2) - torch.log(z_sigma.pow(2)) - 1)
    return kl.flatten(1).sum(1).mean()


class AdversarialLosses:
    """Least-squares GAN objectives on a PatchDiscriminator's last output."""

    def __init__(self) -> None:
        self.loss = PatchAdversarialLoss(criterion="least_squares", no_activation_leastsq=True)

    def generator(self, logits_fake: torch.Tensor) -> torch.Tensor:
        return self.loss(logits_fake, target_is_real=True, for_discriminator=False)

    def discriminator(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        real = self.loss(logits_real, target_is_real=True, for_discriminator=True)
        fake = self.loss(logits_fake, target_is_real=False, for_discriminator=True)
        return 0.5 * (real + fake)


def build_perceptual(cfg: AutoencoderLossParams) -> torch.nn.Module | None:
    """MONAI's PerceptualLoss from a local torch.hub directory, or None when its weight is 0."""
    if cfg.perceptual <= 0:
        return None
    from monai.losses import PerceptualLoss

    try:
        return PerceptualLoss(spatial_dims=3, network_type=cfg.perceptual_network, is_fake_3d=False,
                              cache_dir=cfg.perceptual_cache_dir)
    except Exception as err:  # hub repo or weights missing: torch.hub would try the network
        raise RuntimeError(
            f"could not load the perceptual network {cfg.perceptual_network!r} from {cfg.perceptual_cache_dir!r} "
            f"(no downloads are possible here): {type(err).__name__}: {err}. Put the torch.hub repository and its "
            "weights there, or set autoencoder.loss.perceptual: 0") from err
