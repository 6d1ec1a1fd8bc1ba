"""Full-volume sliding-window segmentation of a case in its original geometry."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from brats_mlops.data.preprocessing import brain_mask, normalise
from brats_mlops.families import family_of
from brats_mlops.models.outputs import logits_to_labels


MIRROR_AXES = ((), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4))  # nnU-Net's 8 mirrorings of a 3-D volume


@torch.no_grad()
def mirror_tta(predict: Any, x: torch.Tensor, mode: str) -> torch.Tensor:
    """Test-time augmentation by mirroring (nnU-Net's): ``predict`` on ``x`` and its 7 mirror images, each output
    mirrored back and turned into probabilities (softmax over labels, or sigmoid per region), averaged; returned as
    logits of the mean probabilities, so ``logits_to_labels`` applies unchanged."""
    total = None
    for axes in MIRROR_AXES:
        out = predict(torch.flip(x, axes) if axes else x)
        out = torch.flip(out, axes) if axes else out
        prob = torch.sigmoid(out) if mode == "region" else torch.softmax(out, 1)
        total = prob if total is None else total + prob
    mean = total / len(MIRROR_AXES)
    return torch.logit(mean, eps=1e-6) if mode == "region" else torch.log(mean.clamp_min(1e-8))


def _mean_probabilities(outs: list[torch.Tensor], mode: str) -> torch.Tensor:
    """Outputs → probabilities (softmax over labels, or sigmoid per region), averaged, returned as logits of the mean."""
    mean = torch.stack([torch.sigmoid(o) if mode == "region" else torch.softmax(o, 1) for o in outs]).mean(0)
    return torch.logit(mean, eps=1e-6) if mode == "region" else torch.log(mean.clamp_min(1e-8))


def ensemble(models: list[torch.nn.Module], mode: str) -> Any:
    """One predictor of several networks (the folds of a k-fold training, or registered versions): nnU-Net's
    ensembling — each network's probabilities averaged."""
    if len(models) == 1:
        return models[0]
    return lambda v: _mean_probabilities([m(v) for m in models], mode)


def predict_labels(model: torch.nn.Module | list[torch.nn.Module], images: np.ndarray, mc: dict[str, Any],
                   device: str | torch.device = "cpu", overlap: float | None = None, tta: str | None = None) -> np.ndarray:
    """(C, H, W, D) raw intensities → (H, W, D) uint8 internal labels of the model's label scheme (glioma: 0 bg,
    1 NCR, 2 ED, 3 ET; ``mc["label_scheme"]``, ``data/labels.py``), predicted the way the model's family predicts
    (``brats_mlops.families``: the 3-D networks by :func:`sliding_window_labels`, the 2-D slice models slice by
    slice). A list of models (same ``mc``: the folds of a k-fold training) is an ensemble where the family supports it."""
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    return family_of(mc).predict_labels(models, images, mc, device=device, overlap=overlap, tta=tta)


@torch.no_grad()
def sliding_window_labels(model: torch.nn.Module | list[torch.nn.Module], images: np.ndarray, mc: dict[str, Any],
                          device: str | torch.device = "cpu", overlap: float | None = None, tta: str | None = None) -> np.ndarray:
    """:func:`predict_labels` of a 3-D network (or an ensemble of them).

    Any spatial size works: windows of the training crop (``mc["roi_size"]``) slide over the volume with a
    Gaussian blend. ``tta="mirror"`` averages the 8 mirror images (:func:`mirror_tta`; 8× the time); None takes
    ``mc["tta"]`` (default "none"). A list of models (same ``mc``: the folds of a k-fold training) is an ensemble:
    their probabilities are averaged in every window (:func:`ensemble`).
    """
    if images.ndim != 4 or images.shape[0] != mc["in_channels"]:
        raise ValueError(f"expected a (C={mc['in_channels']}, H, W, D) array of modalities {mc['modalities']}, got shape {images.shape}")
    models = model if isinstance(model, (list, tuple)) else [model]
    for m in models:
        m.eval()
    net = ensemble(list(models), mc["mode"])
    out = np.zeros(images.shape[1:], np.uint8)
    mask = brain_mask(images)
    if not mask.any():
        return out
    # windows only over the brain's bounding box (+ a margin): background outside it is label 0 anyway
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - 4, 0)
    hi = np.minimum(idx.max(0) + 5, mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    x = torch.from_numpy(normalise(images[(slice(None), *box)], mc.get("percentile_clip"), mc.get("gaussian_sigma")))[None].to(device)
    def window(v: torch.Tensor) -> torch.Tensor:
        return sliding_window_inference(v, roi_size=tuple(mc["roi_size"]), sw_batch_size=1, predictor=net,
                                        overlap=mc.get("sw_overlap", 0.5) if overlap is None else overlap, mode="gaussian")

    tta = tta or mc.get("tta", "none")
    if tta not in ("none", "mirror"):
        raise ValueError(f"unknown test-time augmentation {tta!r}; valid: none, mirror")
    logits = mirror_tta(window, x, mc["mode"]) if tta == "mirror" else window(x)
    lab = logits_to_labels(logits, mc["mode"], tuple(mc["region_thresholds"]), mc.get("healthy_label", False),
                           mc.get("label_scheme"))[0]
    out[box] = lab.cpu().numpy().astype(np.uint8)
    return out
