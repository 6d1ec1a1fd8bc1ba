"""Configurable 3-D U-Net: the paper's Res-SE U-Net and its plain / residual baselines.

``ResSEUNet`` (the paper's Table 3, §3.2.1): levels with ``channels`` (16-32-64-128-256), two 3×3×3
convolutions + GroupNorm(8) + ReLU per block, a residual connection around every encoder and decoder block,
down-sampling by strided convolution (k3, s2, p1) that also changes the channel count, up-sampling by
transposed convolution (k2, s2), squeeze-and-excitation (r = 8) on each skip connection before concatenation
and after each decoder block. ``channels=(16, 32, 64, 128, 256, 320)`` is the paper's "deeper" variant.

``UNet3D(residual=False, se=False, downsample="maxpool")`` is the plain 3-D U-Net of Çiçek et al. (max-pool
down-sampling, transposed-conv up-sampling; GroupNorm instead of BatchNorm for batch size 2).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from brats_mlops.models.blocks import ConvBlock, SEBlock3d


class UNet3D(nn.Module):
    """Args:
        in_channels: input modalities.
        num_classes: output channels (labels, or 3 regions in region mode).
        channels: width per level, shallow to deep; the last level is the bottleneck.
        residual: residual connection around every block.
        se: squeeze-and-excitation on the skips and after each decoder block.
        downsample: ``"strided"`` convolution (k3 s2 p1) or ``"maxpool"`` then a block.
        groups: GroupNorm groups.
        reduction: SE reduction ratio r.

    Input (B, in_channels, H, W, D) with H, W, D divisible by ``2 ** (len(channels) - 1)``;
    output logits (B, num_classes, H, W, D).
    """

    def __init__(
        self,
        in_channels: int = 4,
        num_classes: int = 4,
        channels: tuple[int, ...] = (16, 32, 64, 128, 256),
        residual: bool = True,
        se: bool = True,
        downsample: Literal["strided", "maxpool"] = "strided",
        groups: int = 8,
        reduction: int = 8,
    ):
        super().__init__()
        if len(channels) < 2:
            raise ValueError(f"need at least 2 levels, got channels={channels}.")
        if downsample not in ("strided", "maxpool"):
            raise ValueError(f"downsample must be 'strided' or 'maxpool', got {downsample!r}.")
        self.channels = tuple(channels)
        self.in_block = ConvBlock(in_channels, channels[0], groups, residual)
        self.down = nn.ModuleList()
        self.enc = nn.ModuleList()
        for c_prev, c in zip(channels[:-1], channels[1:]):
            if downsample == "strided":
                self.down.append(nn.Sequential(nn.Conv3d(c_prev, c, 3, stride=2, padding=1, bias=False), nn.GroupNorm(min(groups, c), c), nn.ReLU()))
                self.enc.append(ConvBlock(c, c, groups, residual))
            else:
                self.down.append(nn.MaxPool3d(2))
                self.enc.append(ConvBlock(c_prev, c, groups, residual))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        self.skip_se = nn.ModuleList()
        self.dec_se = nn.ModuleList()
        for c_low, c in zip(reversed(channels[:-1]), reversed(channels[1:])):
            self.up.append(nn.ConvTranspose3d(c, c_low, 2, stride=2))
            self.dec.append(ConvBlock(2 * c_low, c_low, groups, residual))
            self.skip_se.append(SEBlock3d(c_low, reduction) if se else nn.Identity())
            self.dec_se.append(SEBlock3d(c_low, reduction) if se else nn.Identity())
        self.head = nn.Conv3d(channels[0], num_classes, 1)

    @property
    def divisor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of every level, shallow to deep; the last is the bottleneck."""
        feats = [self.in_block(x)]
        for down, enc in zip(self.down, self.enc):
            feats.append(enc(down(feats[-1])))
        return feats

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        """Bottleneck features (B, channels[-1], H/2^L, W/2^L, D/2^L)."""
        return self.encode(x)[-1]

    def forward(self, x: torch.Tensor, return_bottleneck: bool = False):
        feats = self.encode(x)
        y = feats[-1]
        for i, (up, dec, sse, dse) in enumerate(zip(self.up, self.dec, self.skip_se, self.dec_se)):
            skip = feats[-2 - i]
            y = dse(dec(torch.cat([sse(skip), up(y)], dim=1)))
        out = self.head(y)
        return (out, feats[-1]) if return_bottleneck else out
