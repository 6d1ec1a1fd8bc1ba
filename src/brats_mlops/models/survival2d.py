"""Seed 001's survival-bin classifier: a ResNet50 on 3-channel mask slices plus an age branch.

Exactly the seed's head (``001``, §4.2.2): ResNet50 with its fc replaced by Linear(2048→128) + ReLU + Dropout(0.3);
age (min-max scaled) → Linear(1→10) + ReLU + Linear(10→10); the 138 concatenated features → Linear(→256) + ReLU +
Dropout → Linear(→128) + ReLU + Dropout → Linear(→n_bins). The backbone is MONAI's ``resnet50(spatial_dims=2)``
(torchvision cannot be installed beside the CPU torch, see STACK-NOTES); ImageNet weights cannot be downloaded
here, so ``weights`` takes a local ResNet50 state dict (torchvision's key names) and is refused with a clear
message when the file does not exist; without it the backbone starts from random weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from brats_mlops.errors import UserError


class SurvivalResNet50(nn.Module):
    def __init__(self, n_bins: int = 3, dropout: float = 0.3, weights: str | None = None):
        super().__init__()
        from monai.networks.nets import resnet50

        self.backbone = resnet50(spatial_dims=2, n_input_channels=3, num_classes=128)
        if weights:
            load_backbone(self.backbone, Path(weights))
        self.backbone.fc = nn.Sequential(nn.Linear(2048, 128), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.age = nn.Sequential(nn.Linear(1, 10), nn.ReLU(inplace=True), nn.Linear(10, 10))
        self.head = nn.Sequential(nn.Linear(138, 256), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(128, n_bins))

    def forward(self, masks: torch.Tensor, age: torch.Tensor) -> torch.Tensor:
        """masks (B, 3, S, S), age (B,) scaled to [0, 1] → logits (B, n_bins)."""
        return self.head(torch.cat([self.backbone(masks), self.age(age.reshape(-1, 1).to(masks.dtype))], dim=1))


def load_backbone(backbone: nn.Module, path: Path) -> None:
    """Load a local ResNet50 state dict into MONAI's ResNet50 (its fc is replaced afterwards)."""
    from brats_mlops.models.checkpoint import load_checkpoint

    if not path.is_file():
        raise UserError(f"ResNet50 weights {path} do not exist: pretrained weights cannot be downloaded here; put a ResNet50 "
                        "state dict (e.g. torchvision's resnet50-0676ba61.pth) at that path or set survival2d.weights to null")
    state = {k: v for k, v in load_checkpoint(path).items() if not k.startswith("fc.")}
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("fc.") and "downsample.0.bias" not in k]
    if unexpected or missing:
        raise UserError(f"{path} is not a ResNet50 state dict ({len(missing)} missing, {len(unexpected)} unexpected keys)")
