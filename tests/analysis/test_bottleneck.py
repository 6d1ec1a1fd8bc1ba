"""Collapse statistics (analysis/bottleneck.py): the PCA part against scikit-learn's PCA, and the collapse signature."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from brats_mlops.analysis.bottleneck import collapse_statistics


@pytest.mark.parametrize("shape", [(72, 256), (20, 5000), (300, 8)])   # bottleneck, flattened latents, n >> c
def test_explained_variance_ratios_are_scikit_learns(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape) @ np.diag(rng.uniform(0.1, 3, shape[1])) + 5.0
    stats, ratios = collapse_statistics(x)
    expected = PCA(n_components=min(shape)).fit(x).explained_variance_ratio_
    assert ratios.shape == expected.shape
    np.testing.assert_allclose(ratios, expected, rtol=1e-9, atol=1e-12)
    assert stats["pc1_share"] == pytest.approx(expected[0], rel=1e-9)
    assert stats["components_for_98pct"] == int(np.searchsorted(np.cumsum(expected), 0.98) + 1)


def test_float32_features_are_analysed_in_float64():
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(60, 128)) * rng.uniform(0.01, 2, 128)).astype(np.float32)
    _, ratios = collapse_statistics(x)
    exact = PCA(n_components=60).fit(x.astype(np.float64)).explained_variance_ratio_
    np.testing.assert_allclose(ratios, exact, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ratios, PCA(n_components=60).fit(x).explained_variance_ratio_, rtol=1e-4, atol=1e-7)   # float32 PCA


def test_a_collapsed_representation_shows_as_one_component_and_a_tiny_spread():
    rng = np.random.default_rng(1)
    direction = rng.normal(size=64)
    x = 10 * direction + rng.normal(size=(40, 1)) * direction * 1e-3 + rng.normal(size=(40, 64)) * 1e-6
    stats, _ = collapse_statistics(x)
    assert stats["pc1_share"] > 0.99 and stats["components_for_90pct"] == 1
    assert stats["spread_to_norm_ratio"] < 1e-3


def test_identical_features_give_nan_ratios_like_scikit_learn():
    stats, ratios = collapse_statistics(np.ones((5, 3)))
    assert np.isnan(ratios).all() and stats["dead_features"] == 3
