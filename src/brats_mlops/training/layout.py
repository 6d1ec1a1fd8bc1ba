"""Memory layout of 3-D networks on the CPU: channels-last (NDHWC) lets oneDNN pick its fast 3-D convolution
kernels — a training step of the CPU-default segmentation network takes 0.64 s instead of 0.95 s, the
autoencoder's 0.81 s instead of 1.08 s (BENCHMARKS.md, "Channels-last"). Values are the same up to
floating-point summation order; ``BRATS_CHANNELS_LAST=0`` keeps the default layout (e.g. to compare bit for bit
with a run made before). On CUDA the layout is left alone (cuDNN chooses its own)."""

from __future__ import annotations

import os

import torch


def enabled(device: torch.device) -> bool:
    return device.type == "cpu" and os.environ.get("BRATS_CHANNELS_LAST", "1") != "0"


def to_layout(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` in channels-last-3d when it has 3-D convolutions and the layout is enabled on ``device``."""
    if enabled(device) and any(isinstance(m, (torch.nn.Conv3d, torch.nn.ConvTranspose3d)) for m in module.modules()):
        return module.to(memory_format=torch.channels_last_3d)
    return module


def as_input(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A 5-D batch on ``device`` in the layout :func:`to_layout` gave the network."""
    x = x.to(device)
    return x.contiguous(memory_format=torch.channels_last_3d) if x.dim() == 5 and enabled(device) else x
