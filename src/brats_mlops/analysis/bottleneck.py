"""Bottleneck features of the segmentation network and the paper's collapse analysis (§4.1).

Features: global average pooling of the bottleneck map, one vector per case (B, C).
Collapse statistics: the share of variance on PC1; the mean feature-vector norm against the spread of the
vectors around their mean (mean distance to the centroid) — a collapsed representation has a large norm and a
tiny spread, i.e. every patient maps to nearly the same point.

The PCA's explained-variance ratios are the normalised squared singular values of the centred features, computed
in float64 — what scikit-learn's ``PCA(n_components=min(N, C))`` reports (tests/analysis/test_bottleneck.py): one
LAPACK call through NumPy, where ``sklearn.decomposition`` would cost the two stages that use it ~1.5 s of imports
(scikit-learn pulls ``scipy.stats``) for the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from brats_mlops.config.schema import AugmentationParams
from brats_mlops.data.augment import build_augmentation
from brats_mlops.data.datasets import SegmentationDataset
from brats_mlops.utils.progress import progress


@torch.no_grad()
def bottleneck_features(model: torch.nn.Module, preprocessed_dir: Path, case_ids: list[str]) -> np.ndarray:
    """(N, C) global-average-pooled bottleneck features of preprocessed (cropped, normalised) cases."""
    model.eval()
    ds = SegmentationDataset(preprocessed_dir, case_ids, build_augmentation(AugmentationParams(enabled=False)))
    feats = []
    for item in progress(ds, total=len(ds), desc="bottleneck"):
        b = model.bottleneck(item["image"][None])
        feats.append(b.mean(dim=(2, 3, 4))[0].numpy())
    return np.stack(feats)


def collapse_statistics(features: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """PCA explained-variance ratios and the collapse statistics of (N, C) features."""
    n, c = features.shape
    centroid = features.mean(0)
    # float64 whatever the features' type (scikit-learn kept float32 ones in float32: ratios differed in the 7th digit)
    var = np.linalg.svd(features.astype(np.float64) - centroid, compute_uv=False) ** 2   # min(N, C), largest first
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = var / var.sum()   # NaN for identical features, as scikit-learn's PCA gives
    norms = np.linalg.norm(features, axis=1)
    spread = np.linalg.norm(features - centroid, axis=1)
    cum = np.cumsum(ratios)
    k90 = int(min(np.searchsorted(cum, 0.90) + 1, len(ratios)))
    k98 = int(min(np.searchsorted(cum, 0.98) + 1, len(ratios)))
    stats = {
        "n_cases": n,
        "n_features": c,
        "pc1_share": float(ratios[0]),
        "pc1_2_share": float(ratios[:2].sum()),
        "components_for_90pct": k90,
        "components_for_98pct": k98,
        "mean_feature_norm": float(norms.mean()),
        "mean_distance_to_centroid": float(spread.mean()),
        "spread_to_norm_ratio": float(spread.mean() / max(norms.mean(), 1e-12)),
        "mean_feature_std": float(features.std(0).mean()),
        "dead_features": int((features.std(0) < 1e-8).sum()),
    }
    return stats, ratios
