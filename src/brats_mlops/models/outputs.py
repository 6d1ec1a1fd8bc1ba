"""From a network's outputs to internal labels: label mode (softmax over classes) or region mode (sigmoid per region,
each with its threshold, painted back as labels in the label scheme's order; ``data/labels.py``)."""

from __future__ import annotations

from typing import Sequence

import torch

from brats_mlops.data.labels import get_scheme


def regions_to_labels(prob: torch.Tensor, thresholds: Sequence[float] = (0.5, 0.5, 0.5), scheme: str | None = None) -> torch.Tensor:
    """Region probabilities (B, R, ...) → labels (B, 1, ...). Glioma [WT, TC, ET]: ED where WT, NCR where TC, ET where
    ET; another scheme's regions are painted in its :meth:`~brats_mlops.data.labels.LabelScheme.paint_order`. A
    region without a threshold uses 0.5."""
    out = torch.zeros_like(prob[:, :1], dtype=torch.long)
    for channel, label in get_scheme(scheme).paint_order():
        thr = thresholds[channel] if channel < len(thresholds) else 0.5
        out[prob[:, channel:channel + 1] > thr] = label
    return out


def logits_to_labels(logits: torch.Tensor, mode: str, thresholds: Sequence[float] = (0.5, 0.5, 0.5),
                     healthy_label: bool = False, scheme: str | None = None) -> torch.Tensor:
    """(B, K, ...) logits → (B, ...) internal labels (the healthy-tissue label, the last class, folded back into
    background)."""
    if mode == "region":
        lab = regions_to_labels(torch.sigmoid(logits), thresholds, scheme)[:, 0]
    else:
        lab = logits.argmax(1)
        if healthy_label:
            lab = torch.where(lab == logits.shape[1] - 1, torch.zeros_like(lab), lab)
    return lab
