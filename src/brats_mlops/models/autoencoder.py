"""The autoencoder branch's networks (paper Table 6): MONAI ``AutoencoderKL`` and ``PatchDiscriminator``.

The model config (a plain dict stored in every checkpoint and in the registered model) is everything needed
to rebuild both networks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from brats_mlops.config.schema import AutoencoderParams

if TYPE_CHECKING:  # MONAI is imported where a network is built: `import monai` costs ~10 s (issue 26, BENCHMARKS)
    from monai.networks.nets import AutoencoderKL, PatchDiscriminator


def autoencoder_config(cfg: AutoencoderParams, input_shape: tuple[int, int, int], modality: str) -> dict[str, Any]:
    return {
        "channels": list(cfg.channels), "latent_channels": cfg.latent_channels, "num_res_blocks": cfg.num_res_blocks,
        "norm_num_groups": cfg.norm_num_groups, "disc_layers": cfg.disc_layers, "disc_channels": cfg.disc_channels,
        "input_shape": list(input_shape), "modality": modality,
        "latent_shape": [cfg.latent_channels, *(s // 2 ** (len(cfg.channels) - 1) for s in input_shape)],
        **({"use_convtranspose": True} if cfg.use_convtranspose else {}),  # absent = MONAI's default (nearest + conv)
    }


def build_autoencoder(mc: dict[str, Any]) -> AutoencoderKL:
    """AutoencoderKL: one residual block per level, GroupNorm, no attention anywhere (Table 6)."""
    from monai.networks.nets import AutoencoderKL

    levels = len(mc["channels"])
    return AutoencoderKL(
        spatial_dims=3, in_channels=1, out_channels=1, channels=tuple(mc["channels"]),
        latent_channels=mc["latent_channels"], num_res_blocks=(mc["num_res_blocks"],) * levels,
        norm_num_groups=mc["norm_num_groups"], attention_levels=(False,) * levels,
        with_encoder_nonlocal_attn=False, with_decoder_nonlocal_attn=False, use_convtranspose=mc.get("use_convtranspose", False),
    )


def build_discriminator(mc: dict[str, Any]) -> PatchDiscriminator:
    """PatchGAN: ``disc_layers`` strided convolutions (kernel 4), LeakyReLU(0.2); outputs a patch map."""
    from monai.networks.nets import PatchDiscriminator

    return PatchDiscriminator(spatial_dims=3, num_layers_d=mc["disc_layers"], channels=mc["disc_channels"],
                              in_channels=1, out_channels=1, kernel_size=4,
                              activation=("LEAKYRELU", {"negative_slope": 0.2}))


@torch.no_grad()
def encode_mean(model: AutoencoderKL, x: torch.Tensor) -> torch.Tensor:
    """The posterior mean E of ``x`` (B, 1, X, Y, Z) → (B, C, x, y, z): the latent the survival features use."""
    z_mu, _ = model.encode(x)
    return z_mu
