"""Uncertainty beyond the paper: bootstrap intervals and a paired permutation test on test predictions."""

from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(accuracy_score(y_true, y_pred))


def bootstrap_ci(y_true: np.ndarray, y_pred: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float] = macro_f1,
                 n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """(point estimate, lower, upper) percentile bootstrap interval over test patients."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    stats = np.array([metric(y_true[i], y_pred[i]) for i in (rng.integers(0, n, n) for _ in range(n_boot))])
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return metric(y_true, y_pred), float(lo), float(hi)


def paired_permutation_test(y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
                            metric: Callable[[np.ndarray, np.ndarray], float] = macro_f1,
                            n_perm: int = 5000, seed: int = 0) -> tuple[float, float]:
    """Is model A better than model B on the same test patients? Swaps the two predictions per patient at random.

    Returns ``(observed difference metric(A) - metric(B), one-sided p-value)``.
    """
    y_true, a, b = (np.asarray(x) for x in (y_true, pred_a, pred_b))
    observed = metric(y_true, a) - metric(y_true, b)
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(n_perm):
        swap = rng.random(len(y_true)) < 0.5
        pa, pb = np.where(swap, b, a), np.where(swap, a, b)
        count += (metric(y_true, pa) - metric(y_true, pb)) >= observed - 1e-12
    return float(observed), float((count + 1) / (n_perm + 1))
