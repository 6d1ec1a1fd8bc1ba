"""Building blocks of the 3-D U-Nets (shapes are (B, C, H, W, D))."""

from __future__ import annotations

import torch
from torch import nn


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return nn.GroupNorm(g, channels)


class SEBlock3d(nn.Module):
    """Squeeze-and-excitation (Hu et al.): ``x * sigmoid(W2 relu(W1 GAP(x)))``.

    Args:
        channels: C of the input.
        reduction: r; the hidden width is ``C // r`` (at least 1).
    """

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        if reduction < 1 or channels < 1:
            raise ValueError(f"reduction and channels must be positive, got reduction={reduction} channels={channels}.")
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3, 4))  # (B, C) squeeze
        e = torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))  # (B, C) excitation
        return x * e[:, :, None, None, None]


class ConvBlock(nn.Module):
    """Two 3×3×3 convolutions, each followed by GroupNorm and ReLU; optionally residual.

    With ``residual=True`` the block's input (projected by a 1×1×1 convolution when the channel count
    changes) is added before the last ReLU.
    """

    def __init__(self, in_ch: int, out_ch: int, groups: int = 8, residual: bool = True):
        super().__init__()
        self.conv1 = nn.Conv3d(in_ch, out_ch, 3, padding=1, bias=False)
        self.norm1 = _norm(out_ch, groups)
        self.conv2 = nn.Conv3d(out_ch, out_ch, 3, padding=1, bias=False)
        self.norm2 = _norm(out_ch, groups)
        self.residual = residual
        self.skip = (nn.Conv3d(in_ch, out_ch, 1, bias=False) if in_ch != out_ch else nn.Identity()) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        if self.residual:
            y = y + self.skip(x)
        return torch.relu(y)
