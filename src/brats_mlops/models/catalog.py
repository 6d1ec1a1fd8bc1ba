"""Models by name. An unknown name lists the valid ones."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from brats_mlops.models.unet import UNet3D

PAPER_CHANNELS = (16, 32, 64, 128, 256)


class SegResNetWithBottleneck(nn.Module):
    """MONAI ``SegResNet`` with ``return_bottleneck`` / ``bottleneck`` like the U-Nets."""

    def __init__(self, in_channels: int, num_classes: int, init_filters: int = 16, **kw: Any):
        super().__init__()
        from monai.networks.nets import SegResNet

        self.net = SegResNet(spatial_dims=3, in_channels=in_channels, out_channels=num_classes, init_filters=init_filters,
                             blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1), norm=("GROUP", {"num_groups": min(8, init_filters)}), **kw)
        self.divisor = 8

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.encode(x)[0]

    def forward(self, x: torch.Tensor, return_bottleneck: bool = False):
        z, down = self.net.encode(x)
        down.reverse()
        out = self.net.decode(z, down)
        return (out, z) if return_bottleneck else out


def _seg_res_net(in_channels: int, num_classes: int, channels: tuple[int, ...] | None = None, **_: Any) -> nn.Module:
    return SegResNetWithBottleneck(in_channels, num_classes, init_filters=(channels or PAPER_CHANNELS)[0])


MODELS: dict[str, Callable[..., nn.Module]] = {
    "res_se_unet": lambda in_channels, num_classes, channels=PAPER_CHANNELS, **kw: UNet3D(
        in_channels, num_classes, tuple(channels), residual=True, se=True, downsample="strided", **kw),
    "res_se_unet_deeper": lambda in_channels, num_classes, channels=PAPER_CHANNELS, **kw: UNet3D(
        in_channels, num_classes, tuple(channels) + (320,), residual=True, se=True, downsample="strided", **kw),
    "unet3d": lambda in_channels, num_classes, channels=PAPER_CHANNELS, **kw: UNet3D(
        in_channels, num_classes, tuple(channels), residual=False, se=False, downsample="maxpool", **kw),
    "res_unet": lambda in_channels, num_classes, channels=PAPER_CHANNELS, **kw: UNet3D(
        in_channels, num_classes, tuple(channels), residual=True, se=False, downsample="strided", **kw),
    "segresnet": _seg_res_net,
}


def build_model(name: str, in_channels: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build model ``name`` (see ``MODELS``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {sorted(MODELS)}")
    return MODELS[name](in_channels=in_channels, num_classes=num_classes, **kwargs)
