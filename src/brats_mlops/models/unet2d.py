"""2-D networks for axial slices (seeds 001 and 004).

* ``resnet18_unet`` — seed 001: a U-Net with a ResNet-18 encoder, MONAI's ``FlexibleUNet(backbone="resnet18")``.
  ImageNet weights cannot be downloaded here: ``encoder_weights`` takes a local file (a ResNet-18 state dict, e.g.
  torchvision's ``resnet18-*.pth``) and is refused with a clear message when it does not exist.
* ``seed004_model1`` / ``seed004_model2`` — seed 004's two plain 2-D U-Nets, written here because MONAI's U-Nets
  have no spatial (channel-wise) dropout: Model 1 has 3 levels starting at 32 filters with spatial dropout 0.2 and
  batch norm; Model 2 has 4 levels starting at 64 filters, no dropout, no batch norm. A *level* is one resolution:
  filters ``base · 2^i`` for ``i < levels``, two 3×3 convolutions + ReLU each, 2×2 max-pooling between levels
  (``levels - 1`` poolings; the deepest level is the bottleneck), transposed-convolution up-sampling and skip
  concatenation on the way up, a 1×1 convolution to the classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from brats_mlops.errors import UserError


def _block(cin: int, cout: int, dropout: float, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(2):
        layers.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))  # spatial dropout: whole feature maps
    return nn.Sequential(*layers)


class SliceUNet(nn.Module):
    """A plain 2-D U-Net (see the module docstring for what a level is)."""

    def __init__(self, in_channels: int, num_classes: int, levels: int = 3, base_filters: int = 32,
                 dropout: float = 0.0, batch_norm: bool = True):
        super().__init__()
        if levels < 2:
            raise ValueError("a U-Net needs at least 2 levels")
        f = [base_filters * 2**i for i in range(levels)]
        self.filters = f
        self.down = nn.ModuleList([_block(in_channels if i == 0 else f[i - 1], f[i], dropout, batch_norm) for i in range(levels)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(f[i + 1], f[i], 2, stride=2) for i in reversed(range(levels - 1))])
        self.dec = nn.ModuleList([_block(2 * f[i], f[i], dropout, batch_norm) for i in reversed(range(levels - 1))])
        self.head = nn.Conv2d(f[0], num_classes, 1)
        self.divisor = 2 ** (levels - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = self.pool(x)
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


def resnet18_unet(in_channels: int, num_classes: int, encoder_weights: str | None = None, **_: Any) -> nn.Module:
    """Seed 001's ResNet-18-encoder U-Net (MONAI ``FlexibleUNet``), random init unless ``encoder_weights`` is a local
    ResNet-18 state dict (the first convolution is adapted to ``in_channels`` by repeating/averaging its filters)."""
    from monai.networks.nets import FlexibleUNet

    from brats_mlops.models.serialization import load_checkpoint

    net = FlexibleUNet(in_channels=in_channels, out_channels=num_classes, backbone="resnet18", pretrained=False, spatial_dims=2)
    if encoder_weights:
        p = Path(encoder_weights)
        if not p.is_file():
            raise UserError(f"encoder weights {p} do not exist: pretrained weights cannot be downloaded here; put a "
                            "ResNet-18 state dict (e.g. torchvision's resnet18-f37072fd.pth) at that path or set it to null")
        state = load_checkpoint(p)  # weights_only=True
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        w = state.get("conv1.weight")
        if w is not None and w.shape[1] != in_channels:  # 3 RGB channels -> in_channels MRI channels
            state["conv1.weight"] = w.mean(1, keepdim=True).repeat(1, in_channels, 1, 1) * 3 / in_channels
        missing, unexpected = net.encoder.load_state_dict(state, strict=False)
        if unexpected or len(missing) > 0.1 * len(state):
            raise UserError(f"{p} is not a ResNet-18 state dict ({len(missing)} missing, {len(unexpected)} unexpected keys)")
    net.divisor = 32
    return net


MODELS_2D: dict[str, Callable[..., nn.Module]] = {
    "resnet18_unet": resnet18_unet,
    "seed004_model1": lambda in_channels, num_classes, **_: SliceUNet(in_channels, num_classes, levels=3, base_filters=32,
                                                                      dropout=0.2, batch_norm=True),
    "seed004_model2": lambda in_channels, num_classes, **_: SliceUNet(in_channels, num_classes, levels=4, base_filters=64,
                                                                      dropout=0.0, batch_norm=False),
}


def build_model_2d(name: str, in_channels: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """Build 2-D model ``name`` (see ``MODELS_2D``); an unknown name lists the valid ones."""
    if name not in MODELS_2D:
        raise ValueError(f"unknown 2-D model {name!r}; valid: {sorted(MODELS_2D)}")
    return MODELS_2D[name](in_channels=in_channels, num_classes=num_classes, **kwargs)
