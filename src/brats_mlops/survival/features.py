"""Patient-level feature sets (paper §4.3.2 and beyond).

Latent features take the autoencoder's posterior mean ``E`` of one patient, shape (C, H, W, D) with C = 3:
    ``channel_means``   [μ0, μ1, μ2]                       (f0, f1, f2 alone are single columns of it)
    ``channel_stats``   [μ0, σ0, max0, μ1, σ1, max1, μ2, σ2, max2]   (9-D)
    ``slice_profile``   per channel, the mean over every plane orthogonal to one axis — coronal (y),
                        sagittal (x) or axial (z) — concatenated (C · size along that axis); reduced by PCA
                        (90 % variance) *inside the training folds* (see ``grids.make_pipeline``)
    ``flattened``       E.ravel(); reduced by PCA to 10-D inside the training folds
Segmentation features (seed 001's idea) take a label volume in the internal convention:
    ``segmentation_volumes``  WT/TC/ET volumes in cm³ and the ratios TC/WT, ET/WT, ET/TC.
"""

from __future__ import annotations

import numpy as np

AXES = {"sagittal": 0, "coronal": 1, "axial": 2}  # array axes x, y, z of (C, x, y, z)


def channel_means(e: np.ndarray) -> np.ndarray:
    return e.reshape(e.shape[0], -1).mean(1)


def channel_stats(e: np.ndarray) -> np.ndarray:
    flat = e.reshape(e.shape[0], -1)
    return np.stack([flat.mean(1), flat.std(1), flat.max(1)], axis=1).ravel()


def slice_profile(e: np.ndarray, view: str) -> np.ndarray:
    """Mean of each channel over every slice of ``view`` (the planes at each index along its axis)."""
    if view not in AXES:
        raise ValueError(f"view must be one of {sorted(AXES)}, got {view!r}")
    ax = AXES[view] + 1
    other = tuple(a for a in (1, 2, 3) if a != ax)
    return e.mean(axis=other).ravel()


def flattened(e: np.ndarray) -> np.ndarray:
    return e.ravel().astype(np.float64)


VOLUME_COLUMNS = ("wt_cm3", "tc_cm3", "et_cm3", "tc_wt", "et_wt", "et_tc")


def segmentation_volumes(labels: np.ndarray, spacing: tuple[float, float, float]) -> dict[str, float]:
    vox = float(np.prod(spacing)) / 1000.0
    wt = float(np.isin(labels, (1, 2, 3)).sum()) * vox
    tc = float(np.isin(labels, (1, 3)).sum()) * vox
    et = float((labels == 3).sum()) * vox

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else 0.0

    return {"wt_cm3": wt, "tc_cm3": tc, "et_cm3": et, "tc_wt": ratio(tc, wt), "et_wt": ratio(et, wt), "et_tc": ratio(et, tc)}
