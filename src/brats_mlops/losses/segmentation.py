"""Losses of the paper and of seed 003, composed from MONAI's where they match.

Label mode (softmax over the labels, logits (B, K, H, W, D), target (B, 1, H, W, D) integer labels):
    ``dice``: the paper's soft Dice, ``1 - (2 Σ P_c T_c + ε) / (Σ P_c + Σ T_c + ε)`` per class and sample,
    averaged over the non-background classes (MONAI ``DiceLoss(include_background=False)``).
    ``+ β · CE``: cross-entropy with class weights inversely proportional to the training split's voxel
    frequencies (``class_weights_from_frequencies``).
Region mode (sigmoid over WT, TC, ET — or the label scheme's regions, e.g. + RC; logits (B, R, H, W, D)):
    Dice over the region channels, BCE instead of CE; predictions go back to labels by thresholds.
Both modes: ``+ focal`` (MONAI ``FocalLoss``, γ = 2) and ``+ λ · edge`` (seed 003: MSE between the normalised
gradient magnitudes of the predicted probabilities and of the target).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss, FocalLoss
from torch import nn

from brats_mlops.data.case import REGIONS


def class_weights_from_frequencies(counts: Sequence[float]) -> torch.Tensor:
    """Weights ∝ 1 / frequency, scaled so that their mean is 1. Classes never seen get the largest weight."""
    c = torch.as_tensor(counts, dtype=torch.float64)
    freq = c / c.sum()
    w = 1.0 / freq.clamp_min(freq[freq > 0].min() if (freq > 0).any() else 1.0)
    return (w / w.mean()).float()


def labels_to_regions(y: torch.Tensor, regions: Mapping[str, Sequence[int]] = REGIONS) -> torch.Tensor:
    """Integer labels (B, 1, ...) in the internal convention → (B, R, ...) float masks of ``regions`` (default the
    glioma WT, TC, ET; a label scheme's ``regions``, ``data/labels.py``)."""
    return torch.cat([torch.isin(y, torch.tensor(v, device=y.device)).float() for v in regions.values()], dim=1)


class EdgeLoss(nn.Module):
    """MSE between normalised gradient magnitudes of prediction and target (B, C, H, W, D), per channel."""

    @staticmethod
    def edges(x: torch.Tensor) -> torch.Tensor:
        gx = F.pad(x[:, :, 2:] - x[:, :, :-2], (0, 0, 0, 0, 1, 1)) / 2
        gy = F.pad(x[:, :, :, 2:] - x[:, :, :, :-2], (0, 0, 1, 1)) / 2
        gz = F.pad(x[..., 2:] - x[..., :-2], (1, 1)) / 2
        mag = torch.sqrt(gx**2 + gy**2 + gz**2 + 1e-12)
        return mag / mag.flatten(2).amax(-1).clamp_min(1e-6)[..., None, None, None]

    def forward(self, prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.edges(prob), self.edges(target))


class SegmentationLoss(nn.Module):
    """``dice_weight · Dice + ce_weight · CE + focal_weight · Focal + edge_weight · Edge + mse_weight · MSE`` (MSE of the
    softmax/sigmoid probabilities against the one-hot labels/regions, seed 003).

    Args:
        mode: ``"label"`` (softmax over ``num_classes``) or ``"region"`` (sigmoid per region: WT, TC, ET, or
            ``regions`` of the label scheme).
        class_weights: CE class weights in label mode (None: unweighted).
        eps: ε of the soft Dice (numerator and denominator).
    """

    def __init__(
        self,
        mode: Literal["label", "region"] = "label",
        dice_weight: float = 1.0,
        ce_weight: float = 0.0,
        focal_weight: float = 0.0,
        edge_weight: float = 0.0,
        class_weights: torch.Tensor | None = None,
        eps: float = 1e-5,
        mse_weight: float = 0.0,
        regions: Mapping[str, Sequence[int]] = REGIONS,
    ):
        super().__init__()
        if mode not in ("label", "region"):
            raise ValueError(f"mode must be 'label' or 'region', got {mode!r}.")
        if min(dice_weight, ce_weight, focal_weight, edge_weight, mse_weight) < 0:
            raise ValueError("loss weights must be >= 0")
        self.mode = mode
        self.regions = dict(regions)
        self.w = {"dice": dice_weight, "ce": ce_weight, "focal": focal_weight, "edge": edge_weight, "mse": mse_weight}
        if mode == "label":
            self.dice = DiceLoss(include_background=False, to_onehot_y=True, softmax=True, smooth_nr=eps, smooth_dr=eps)
            self.focal = FocalLoss(include_background=True, to_onehot_y=True, use_softmax=True, gamma=2.0)
        else:
            self.dice = DiceLoss(include_background=True, sigmoid=True, smooth_nr=eps, smooth_dr=eps)
            self.focal = FocalLoss(include_background=True, use_softmax=False, gamma=2.0)
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.empty(0))
        self.edge = EdgeLoss()

    def terms(self, logits: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each active term, unweighted. ``y``: (B, 1, ...) integer labels."""
        out: dict[str, torch.Tensor] = {}
        if self.mode == "label":
            target = y
            if self.w["dice"]:
                out["dice"] = self.dice(logits, target)
            if self.w["ce"]:
                cw = self.class_weights if self.class_weights.numel() else None
                out["ce"] = F.cross_entropy(logits, target[:, 0].long(), weight=cw)
            if self.w["focal"]:
                out["focal"] = self.focal(logits, target)
            if self.w["edge"]:
                onehot = F.one_hot(target[:, 0].long(), logits.shape[1]).movedim(-1, 1).float()
                out["edge"] = self.edge(torch.softmax(logits, 1), onehot)
            if self.w["mse"]:
                onehot = F.one_hot(target[:, 0].long(), logits.shape[1]).movedim(-1, 1).float()
                out["mse"] = F.mse_loss(torch.softmax(logits, 1), onehot)
        else:
            target = labels_to_regions(y, self.regions)
            if self.w["dice"]:
                out["dice"] = self.dice(logits, target)
            if self.w["ce"]:
                out["ce"] = F.binary_cross_entropy_with_logits(logits, target)
            if self.w["focal"]:
                out["focal"] = self.focal(logits, target)
            if self.w["edge"]:
                out["edge"] = self.edge(torch.sigmoid(logits), target)
            if self.w["mse"]:
                out["mse"] = F.mse_loss(torch.sigmoid(logits), target)
        return out

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sum(self.w[k] * v for k, v in self.terms(logits, y).items())
