"""Seed 001's survival bins on the platform: cohort, patient split, mask-slice data and the trainer.

* **Cohort**: labelled cases with a usable survival row (``data/validation/clinical.csv``), in ``n_bins``
  equal-frequency bins of survival days (seed 001: 3); a censored patient whose bin is not known is left out and
  counted. A missing age is imputed with the training patients' median (counted).
* **Split by patient**: the test patients are the cohort's patients in the segmentation split's validation and test
  parts — cases the segmentation model never trained on, so its predicted masks for them are honest; training
  and early-stopping patients come from the rest (stratified by bin). ``mode="slice"`` is seed 001's split *by
  slice* — every slice of every patient shuffled and cut in the same proportions — kept as the leakage ablation.
* **Inputs**: the 3 tumour labels (NCR, ED, ET) of an axial mask slice of the preprocessed crop as 3 channels,
  resized to ``size``² (bilinear, as the seed's image transforms), and the age scaled by the training min-max.
* **Training**: :class:`~brats_mlops.training.survival2d.Survival2DTrainer` (the platform's loop: resume,
  checkpoints, early stopping on the validation loss), with the seed's Adam + StepLR and cross-entropy, on
  ground-truth masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader

from brats_mlops.config.slices import Survival2DParams
from brats_mlops.data.slices import MaskSliceDataset, mask_channels  # noqa: F401 (mask_channels: re-exported)
from brats_mlops.data.splits import assign_class, read_clinical


@dataclass
class Cohort:
    table: pd.DataFrame  # case_id, age, survival_days, bin, subset (train | val | test)
    edges: list[float]
    excluded: list[dict[str, str]]
    age_range: tuple[float, float]  # training min-max used to scale age


def equal_frequency_edges(days: np.ndarray, n_bins: int) -> list[float]:
    return [float(q) for q in np.quantile(days, np.linspace(0, 1, n_bins + 1)[1:-1])]


def build_cohort(clinical_csv: str | Path, labelled_ids: list[str], seg_split: dict[str, list[str]], cfg: Survival2DParams,
                 seed: int) -> tuple[Cohort | None, str | None]:
    """The cohort and its patient split, or ``(None, reason)`` when the data cannot support it."""
    df = read_clinical(clinical_csv)
    df = df[df.case_id.isin(set(labelled_ids)) & df.usable.astype(str).str.lower().isin(["true", "1"]) & df.survival_days.notna()]
    if len(df) < 3 * cfg.n_bins:
        return None, f"{len(df)} labelled patients with a usable survival time; {cfg.n_bins} bins need at least {3 * cfg.n_bins}"
    edges = equal_frequency_edges(df.survival_days.to_numpy(float), cfg.n_bins)
    bins = [assign_class(d, int(e), edges) for d, e in zip(df.survival_days, df.event.fillna(1))]
    excluded = [{"case_id": c, "reason": f"censored at {d:g} days before its bin is known (edges {edges})"}
                for c, d, b in zip(df.case_id, df.survival_days, bins) if b is None]
    df = df.assign(bin=[-1 if b is None else b for b in bins])
    df = df[df.bin >= 0].sort_values("case_id").reset_index(drop=True)[["case_id", "age", "survival_days", "bin"]]
    held = set(seg_split.get("val", [])) | set(seg_split.get("test", []))
    df["subset"] = np.where(df.case_id.isin(held), "test", "train")
    rest = df[df.subset == "train"]
    if df.subset.eq("test").sum() < cfg.n_bins or len(rest) < 2 * cfg.n_bins:
        return None, (f"{df.subset.eq('test').sum()} test and {len(rest)} training patients: too few for {cfg.n_bins} bins")
    strat = rest.bin if rest.bin.value_counts().min() >= 2 else None
    _, val = train_test_split(rest.case_id, test_size=cfg.val_fraction, random_state=seed, stratify=strat)
    df.loc[df.case_id.isin(set(val)), "subset"] = "val"
    train_age = df.age[df.subset == "train"]
    lo, hi = float(train_age.min()), float(train_age.max())
    n_missing = int(df.age.isna().sum())
    if n_missing:
        excluded.append({"case_id": ",".join(df.case_id[df.age.isna()]), "reason": f"age missing: imputed {train_age.median():.1f} (training median)"})
        df["age"] = df.age.fillna(float(train_age.median()))
    return Cohort(df, edges, excluded, (lo, hi if hi > lo else lo + 1.0)), None


def slice_table(masks: dict[str, np.ndarray], cohort: pd.DataFrame, stride: int) -> pd.DataFrame:
    """One row per used axial slice (every ``stride``-th) of each cohort patient: case_id, z, nonempty, bin, age, subset."""
    rows = []
    for r in cohort.itertuples():
        lab = masks[r.case_id]
        has = lab.reshape(-1, lab.shape[-1]).any(0)
        rows += [{"case_id": r.case_id, "z": z, "nonempty": bool(has[z]), "bin": int(r.bin), "age": float(r.age),
                  "subset": r.subset} for z in range(0, lab.shape[-1], stride)]
    return pd.DataFrame(rows)


def slice_level_split(slices: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Seed 001's leak: every slice shuffled and re-assigned to train/val/test in the patient split's proportions."""
    order = np.random.default_rng(seed).permutation(len(slices))
    counts = slices.subset.value_counts()
    subsets = np.empty(len(slices), dtype=object)
    start = 0
    for k in ("train", "val", "test"):
        n = int(counts.get(k, 0))
        subsets[order[start:start + n]] = k
        start += n
    return slices.assign(subset=subsets)


@torch.no_grad()
def predict_rows(model: torch.nn.Module, rows: pd.DataFrame, masks: dict[str, np.ndarray], size: int,
                 age_range: tuple[float, float], batch_size: int = 64) -> np.ndarray:
    """Bin probabilities (n_rows, n_bins) of the slices in ``rows`` with the masks in ``masks``."""
    model.eval()
    out = []
    for b in DataLoader(MaskSliceDataset(rows, masks, size, age_range), batch_size=batch_size):
        out.append(torch.softmax(model(b["masks"], b["age"]), 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.head[-1].out_features))
