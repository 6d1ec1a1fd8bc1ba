"""From a network's outputs to internal labels (0 background, 1 NCR, 2 ED, 3 ET): label mode (softmax over
classes) or region mode (sigmoid per nested region WT ⊃ TC ⊃ ET, each with its threshold)."""

from __future__ import annotations

from typing import Sequence

import torch


def regions_to_labels(prob: torch.Tensor, thresholds: Sequence[float] = (0.5, 0.5, 0.5)) -> torch.Tensor:
    """Region probabilities (B, 3, ...) [WT, TC, ET] → labels (B, 1, ...): ED where WT, NCR where TC, ET where ET."""
    wt, tc, et = (prob[:, i:i + 1] > thresholds[i] for i in range(3))
    out = torch.zeros_like(prob[:, :1], dtype=torch.long)
    out[wt] = 2
    out[tc] = 1
    out[et] = 3
    return out


def logits_to_labels(logits: torch.Tensor, mode: str, thresholds: Sequence[float] = (0.5, 0.5, 0.5),
                     healthy_label: bool = False) -> torch.Tensor:
    """(B, K, ...) logits → (B, ...) internal labels (healthy-tissue label 4 folded back into background)."""
    if mode == "region":
        lab = regions_to_labels(torch.sigmoid(logits), thresholds)[:, 0]
    else:
        lab = logits.argmax(1)
        if healthy_label:
            lab = torch.where(lab == 4, torch.zeros_like(lab), lab)
    return lab
