"""Patient-level splits: segmentation train/validation, and the survival cohort with its targets.

Survival targets
    ``binary``: 1 = long survivor (``survival_days >= threshold_days``, 370 by default), 0 = short.
    ``challenge3``: the BraTS challenge's classes 0 short (< 300 d), 1 mid (300–450 d), 2 long (> 450 d).
    ``quantile``: ``n_quantiles`` equal-frequency bins of the cohort's survival days (death or censoring time).
    A censored entry (``ALIVE (N days later)``) is a known class only when N already reaches the class it
    would fall in at the least (e.g. alive at 400 d ⇒ long for the binary split); otherwise its class is
    unknown and the case leaves the cohort, with that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from brats_mlops.config.schema import SurvivalSplitParams


def segmentation_split(case_ids: list[str], val_fraction: float, seed: int) -> dict[str, list[str]]:
    """Seeded patient-level split of labelled cases; each id lands in exactly one set."""
    ids = sorted(set(case_ids))
    if len(ids) < 2:
        raise ValueError(f"need at least 2 labelled cases that passed validation to split, got {len(ids)}: {ids}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    n_val = min(max(1, int(round(val_fraction * len(ids)))), len(ids) - 1)
    val = sorted(ids[i] for i in order[:n_val])
    train = sorted(ids[i] for i in order[n_val:])
    return {"train": train, "val": val}


def survival_edges(cfg: SurvivalSplitParams, days: np.ndarray) -> list[float]:
    if cfg.target == "binary":
        return [cfg.threshold_days]
    if cfg.target == "challenge3":
        return list(cfg.class_edges)
    qs = np.quantile(days, np.linspace(0, 1, cfg.n_quantiles + 1)[1:-1])
    return [float(q) for q in qs]


def assign_class(days: float, event: int, edges: list[float]) -> int | None:
    """Class index of ``days`` (bins ``[-inf, e0), [e0, e1), ...``); None if censored before its class is known."""
    k = int(np.searchsorted(edges, days, side="right"))
    if event == 1 or k == len(edges):
        return k
    return None  # censored below the top class: the true class may be higher


def survival_cohort(clinical: pd.DataFrame, eligible_ids: set[str], cfg: SurvivalSplitParams, seed: int) -> tuple[pd.DataFrame, list[dict[str, Any]], list[float]]:
    """Labels and a stratified train/test split for the survival cohort.

    Args:
        clinical: parsed survival rows (``data/validation/clinical.csv``): case_id, age, survival_days, event,
            resection, usable.
        eligible_ids: cases in the cohort after validation (imaging passed and clinical usable).

    Returns:
        (cohort table with ``label`` and ``subset``, excluded cases with reasons, class edges).
    """
    df = clinical[clinical.case_id.isin(eligible_ids)].copy()
    excluded: list[dict[str, Any]] = []
    if cfg.gtr_only:
        keep = df.resection.fillna("") == "GTR"
        excluded += [{"case_id": c, "reason": "survival.gtr_only: resection is not GTR"} for c in df.case_id[~keep]]
        df = df[keep]
    edges = survival_edges(cfg, df.survival_days.to_numpy(dtype=float)) if len(df) else []
    labels = [assign_class(d, int(e), edges) for d, e in zip(df.survival_days, df.event)]
    unknown = [lab is None for lab in labels]
    excluded += [
        {"case_id": c, "reason": f"censored (alive at {d:g} days) before its class is known (edges {edges})"}
        for c, d, u in zip(df.case_id, df.survival_days, unknown) if u
    ]
    df = df[[not u for u in unknown]].copy()
    df["label"] = [lab for lab in labels if lab is not None]
    df = df.sort_values("case_id").reset_index(drop=True)
    if len(df) < 4:
        raise ValueError(f"survival cohort too small to split: {len(df)} case(s) with a known class")
    counts = df.label.value_counts()
    stratify = df.label if counts.min() >= 2 else None
    tr, te = train_test_split(df.case_id, test_size=cfg.test_fraction, random_state=seed, stratify=stratify)
    df["subset"] = np.where(df.case_id.isin(set(te)), "test", "train")
    return df, excluded, edges


def time_to_event_cohort(clinical: pd.DataFrame, eligible_ids: set[str], cohort: pd.DataFrame, gtr_only: bool = False) -> pd.DataFrame:
    """Every eligible patient with a survival time, censored ones included (``event`` 0 = alive at
    ``survival_days``), for time-to-event models. Patients in the classification test split keep
    ``subset == "test"``; everyone else (censored cases whose class is unknown included) is ``train``."""
    df = clinical[clinical.case_id.isin(eligible_ids)].copy()
    if gtr_only:
        df = df[df.resection.fillna("") == "GTR"]
    df = df[np.isfinite(df.survival_days.to_numpy(dtype=float))]
    test = set(cohort.case_id[cohort.subset == "test"])
    df["subset"] = np.where(df.case_id.isin(test), "test", "train")
    return df[["case_id", "age", "survival_days", "event", "subset"]].sort_values("case_id").reset_index(drop=True)
