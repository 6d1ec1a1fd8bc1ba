"""Scoring seed 001's survival bins: per slice, per non-empty slice, per patient by majority vote; each with a 95%
bootstrap interval over *patients* (slices of one patient are not independent); per-bin ROC/AUC; confusion matrices.

``nonempty`` is judged on the mask the model was given (ground truth, or the segmentation model's prediction in the
combined pipeline), as the seed filtered "images with no mask present". The majority vote takes each patient's
non-empty slices (all slices when none is non-empty); a tie goes to the bin with the highest mean probability.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score, roc_curve

ACC_KEYS = ("slice_accuracy", "slice_accuracy_nonempty", "patient_majority_accuracy", "patient_majority_macro_f1")


def majority_vote(pred_bins: np.ndarray, probs: np.ndarray) -> int:
    """The most frequent bin; ties broken by the highest mean probability over the slices."""
    counts = np.bincount(pred_bins, minlength=probs.shape[1])
    tied = np.flatnonzero(counts == counts.max())
    return int(tied[np.argmax(probs.mean(0)[tied])]) if len(tied) > 1 else int(tied[0])


def patient_votes(rows: pd.DataFrame, probs: np.ndarray) -> pd.DataFrame:
    """case_id, true bin, voted bin, number of slices voting."""
    pred = probs.argmax(1)
    out = []
    for cid, idx in rows.reset_index(drop=True).groupby("case_id").groups.items():
        idx = np.asarray(idx)
        use = idx[rows.nonempty.to_numpy()[idx]] if rows.nonempty.to_numpy()[idx].any() else idx
        out.append({"case_id": cid, "bin": int(rows.bin.iloc[idx[0]]), "vote": majority_vote(pred[use], probs[use]), "n_slices": len(use)})
    return pd.DataFrame(out)


def _point(rows: pd.DataFrame, probs: np.ndarray, n_bins: int) -> dict[str, float]:
    y, pred, ne = rows.bin.to_numpy(), probs.argmax(1), rows.nonempty.to_numpy()
    votes = patient_votes(rows, probs)
    return {"slice_accuracy": float(np.mean(pred == y)),
            "slice_accuracy_nonempty": float(np.mean(pred[ne] == y[ne])) if ne.any() else float("nan"),
            "patient_majority_accuracy": float(np.mean(votes.vote == votes.bin)),
            "patient_majority_macro_f1": float(f1_score(votes.bin, votes.vote, average="macro", labels=list(range(n_bins)), zero_division=0))}


def score(rows: pd.DataFrame, probs: np.ndarray, n_bins: int, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every figure of :data:`ACC_KEYS` with ``_lo``/``_hi`` (patient bootstrap), per-bin AUC and counts."""
    rows = rows.reset_index(drop=True)
    out: dict[str, Any] = _point(rows, probs, n_bins)
    patients = rows.case_id.unique()
    groups = rows.groupby("case_id").indices
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        pick = rng.choice(patients, len(patients))
        idx = np.concatenate([groups[c] for c in pick])
        r = rows.iloc[idx].assign(case_id=np.repeat([f"{c}#{i}" for i, c in enumerate(pick)], [len(groups[c]) for c in pick]))
        boots.append(_point(r, probs[idx], n_bins))
    for k in ACC_KEYS:
        vals = np.array([b[k] for b in boots], float)
        vals = vals[np.isfinite(vals)]
        out[f"{k}_lo"], out[f"{k}_hi"] = (float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))) if len(vals) else (np.nan, np.nan)
    ne = rows.nonempty.to_numpy()
    y = rows.bin.to_numpy()
    for b in range(n_bins):
        t = (y[ne] == b)
        out[f"auc_bin{b}"] = float(roc_auc_score(t, probs[ne, b])) if 0 < t.sum() < len(t) else float("nan")
    out.update(n_patients=int(len(patients)), n_slices=int(len(rows)), n_slices_nonempty=int(ne.sum()))
    return out


def roc_and_confusion_figure(rows: pd.DataFrame, probs: np.ndarray, n_bins: int, edges: list[float], path: Path, title: str) -> Path:
    """Per-bin ROC curves (non-empty slices), and confusion matrices of non-empty slices and of patient votes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows.reset_index(drop=True)
    ne, y = rows.nonempty.to_numpy(), rows.bin.to_numpy()
    names = bin_names(edges)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.6))
    for b in range(n_bins):
        t = y[ne] == b
        if 0 < t.sum() < len(t):
            fpr, tpr, _ = roc_curve(t, probs[ne, b])
            ax[0].plot(fpr, tpr, label=f"bin {b} {names[b]} (AUC {roc_auc_score(t, probs[ne, b]):.2f})")
    ax[0].plot([0, 1], [0, 1], "k--", lw=0.8)
    ax[0].set(xlabel="false positive rate", ylabel="true positive rate", title="ROC per bin (non-empty slices)")
    ax[0].legend(fontsize=8)
    votes = patient_votes(rows, probs)
    for a, (truth, pred, what) in zip(ax[1:], [(y[ne], probs[ne].argmax(1), "non-empty slices"),
                                               (votes.bin.to_numpy(), votes.vote.to_numpy(), "patients (majority vote)")]):
        cm = confusion_matrix(truth, pred, labels=list(range(n_bins)))
        a.imshow(cm, cmap="Blues")
        for i in range(n_bins):
            for j in range(n_bins):
                a.text(j, i, str(cm[i, j]), ha="center", va="center", color="black")
        a.set(xticks=range(n_bins), yticks=range(n_bins), xlabel="predicted bin", ylabel="true bin", title=f"confusion: {what}")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bin_names(edges: list[float]) -> list[str]:
    """Human-readable day ranges of the bins, e.g. ``<265 d``, ``265-476 d``, ``>=476 d``."""
    e = [f"{x:.0f}" for x in edges]
    return [f"<{e[0]} d"] + [f"{a}-{b} d" for a, b in zip(e[:-1], e[1:])] + [f">={e[-1]} d"]
