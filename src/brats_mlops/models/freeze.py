"""Transfer learning (seed 003, Table 5): start a segmentation network from a parent's weights and freeze parts of it.

Freeze modes name groups of parameters by pattern (``fnmatch`` on ``named_parameters`` names):

* ``encoder`` — the contracting path (U-Nets: ``in_block``, ``down``, ``enc``; SegResNet: ``convInit``, ``down_layers``);
* ``decoder`` — the expanding path (U-Nets: ``up``, ``dec`` and the squeeze-excitation blocks; SegResNet: ``up_layers``,
  ``up_samples``), the output head excluded;
* ``middle`` — the layers around the bottleneck (seed 003's "encoder 5–7 / decoder 6–4"): the deepest encoder level and
  the first decoder level;
* ``none``; and any explicit list of patterns (``segmentation.freeze_patterns``) on top.

The output head always trains unless a pattern names it. A frozen parameter has ``requires_grad = False`` and is left
out of the optimiser; batch norms whose parameters are all frozen are kept in eval mode while training (their
running statistics stay the parent's; the GroupNorms of the platform's 3-D networks have none).
"""

from __future__ import annotations

import fnmatch
import logging
from typing import Any, Sequence

import torch
from torch import nn

log = logging.getLogger(__name__)
FREEZE_MODES = ("none", "encoder", "middle", "decoder")


def freeze_groups(model: nn.Module) -> dict[str, list[str]]:
    """Parameter-name patterns of each freeze mode for ``model``."""
    from brats_mlops.models.catalog import SegResNetWithBottleneck
    from brats_mlops.models.unet import UNet3D

    if isinstance(model, UNet3D):
        last = len(model.down) - 1
        return {"none": [], "encoder": ["in_block.*", "down.*", "enc.*"],
                "decoder": ["up.*", "dec.*", "skip_se.*", "dec_se.*"],
                "middle": [f"down.{last}.*", f"enc.{last}.*", "up.0.*", "dec.0.*", "skip_se.0.*", "dec_se.0.*"]}
    if isinstance(model, SegResNetWithBottleneck):
        last = len(model.net.down_layers) - 1
        return {"none": [], "encoder": ["net.convInit.*", "net.down_layers.*"], "decoder": ["net.up_layers.*", "net.up_samples.*"],
                "middle": [f"net.down_layers.{last}.*", "net.up_layers.0.*", "net.up_samples.0.*"]}
    raise ValueError(f"no freeze groups for {type(model).__name__}")


def apply_freeze(model: nn.Module, mode: str, patterns: Sequence[str] = ()) -> dict[str, int]:
    """Freeze ``mode``'s group plus ``patterns``; returns the counts of frozen and trainable parameters (elements)."""
    if mode not in FREEZE_MODES:
        raise ValueError(f"freeze mode must be one of {FREEZE_MODES}, not {mode!r}")
    pats = (freeze_groups(model)[mode] if mode != "none" else []) + list(patterns)  # any network can freeze nothing
    unmatched = [p for p in patterns if not any(fnmatch.fnmatch(n, p) for n, _ in model.named_parameters())]
    if unmatched:
        raise ValueError(f"freeze patterns {unmatched} match no parameter of {type(model).__name__} "
                         f"(names look like {[n for n, _ in model.named_parameters()][:3]})")
    frozen = trainable = 0
    for name, p in model.named_parameters():
        if any(fnmatch.fnmatch(name, pat) for pat in pats):
            p.requires_grad_(False)
            frozen += p.numel()
        else:
            trainable += p.numel()
    return {"frozen_parameters": frozen, "trainable_parameters": trainable}


def frozen_norms_eval(model: nn.Module) -> None:
    """Batch norms whose parameters are all frozen stay in eval mode (call after ``model.train()``)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            ps = list(m.parameters(recurse=False))
            if ps and not any(p.requires_grad for p in ps):
                m.eval()


def load_parent(model: nn.Module, state: dict[str, Any]) -> list[str]:
    """Load a parent's weights; tensors whose shape differs (a head with another number of outputs, label ↔ region
    mode) keep their fresh initialisation. Returns the names that were re-initialised."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"the parent checkpoint is another architecture: {len(missing)} of the network's tensors are "
                         f"missing from it (e.g. {missing[:3]})")
    reinit = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    model.load_state_dict({k: (own[k] if k in reinit else torch.as_tensor(v)) for k, v in state.items() if k in own})
    if reinit:
        log.info("transfer learning: %s re-initialised (shape differs from the parent's: another number of outputs)", reinit)
    return reinit
