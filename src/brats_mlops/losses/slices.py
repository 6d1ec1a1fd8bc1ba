"""Losses of the 2-D slice models, as the seeds define them (logits (B, K, H, W), integer target (B, H, W)).

``WeightedDiceLoss`` (seed 001): soft Dice per class over the batch, ``D_c = (2 Σ p_c t_c + ε) / (Σ p_c + Σ t_c + ε)``,
combined as ``1 - Σ_c w_c D_c / Σ_c w_c``; the seed's weights ``[0, 1, 1, 1]`` leave the background out.
MONAI's ``DiceLoss(weight=...)`` averages the weighted per-class losses over *all* classes (a zero-weight class
still counts in the mean), which is not the seed's normalisation — hence these few lines.

``CategoricalFocalLoss`` (seed 004, Keras' ``CategoricalFocalCrossentropy``): per pixel
``-Σ_c α y_c (1 - p_c)^γ log p_c`` with α = 0.25, γ = 2, averaged over pixels. MONAI's ``FocalLoss(use_softmax=True)``
computes the same terms but averages over the classes too (a factor 1/K, checked by the tests) and, with ``alpha``,
weights the background by 1 - α and the other classes by α, unlike Keras.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class WeightedDiceLoss(nn.Module):
    def __init__(self, weights: Sequence[float], smooth: float = 1e-5):
        super().__init__()
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = logits.shape[1]
        if self.weights.numel() != k:
            raise ValueError(f"{self.weights.numel()} class weights for {k} classes")
        p = logits.softmax(1)
        t = F.one_hot(target.long(), k).movedim(-1, 1).to(p.dtype)
        dims = (0, *range(2, p.ndim))
        dice = (2 * (p * t).sum(dims) + self.smooth) / (p.sum(dims) + t.sum(dims) + self.smooth)
        return 1 - (self.weights * dice).sum() / self.weights.sum()


class CategoricalFocalLoss(nn.Module):
    def __init__(self, gamma: float = 2.0, alpha: float = 0.25):
        super().__init__()
        self.gamma, self.alpha = gamma, alpha

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(logits, 1)
        logp_t = logp.gather(1, target.long().unsqueeze(1)).squeeze(1)  # log p of the true class
        return (-self.alpha * (1 - logp_t.exp()) ** self.gamma * logp_t).mean()


class SliceLoss(nn.Module):
    """``weighted_dice·WeightedDice + focal·CategoricalFocal + ce·CE`` (terms with weight 0 are not computed)."""

    def __init__(self, weighted_dice: float, focal: float, ce: float, class_weights: Sequence[float],
                 focal_gamma: float = 2.0, focal_alpha: float = 0.25):
        super().__init__()
        self.w = (weighted_dice, focal, ce)
        self.dice = WeightedDiceLoss(class_weights)
        self.focal = CategoricalFocalLoss(focal_gamma, focal_alpha)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = logits.new_zeros(())
        if self.w[0]:
            total = total + self.w[0] * self.dice(logits, target)
        if self.w[1]:
            total = total + self.w[1] * self.focal(logits, target)
        if self.w[2]:
            total = total + self.w[2] * F.cross_entropy(logits, target.long())
        return total
