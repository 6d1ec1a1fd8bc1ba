"""Figures: segmentation overlays (paper Fig. 4 colours), training curves, PCA scree plots."""

from __future__ import annotations

from pathlib import Path

from typing import Any

import numpy as np

# internal labels: 1 necrotic core (green), 2 edema (red), 3 enhancing (yellow)
LABEL_COLOURS = {1: (0.0, 0.8, 0.0), 2: (0.9, 0.0, 0.0), 3: (1.0, 0.9, 0.0)}


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (0.5–1 s a stage need not pay to start)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label_cmap() -> Any:
    from matplotlib.colors import ListedColormap

    return ListedColormap([(0, 0, 0, 0)] + [(*LABEL_COLOURS[k], 0.55) for k in (1, 2, 3)])


def _views(vol: np.ndarray, centre: tuple[int, int, int]) -> list[tuple[str, np.ndarray]]:
    x, y, z = centre
    return [("axial", vol[:, :, z].T), ("coronal", vol[:, y, :].T), ("sagittal", vol[x, :, :].T)]


def tumour_centre(*labels: np.ndarray) -> tuple[int, int, int]:
    for lab in labels:
        idx = np.argwhere(lab > 0)
        if len(idx):
            return tuple(int(v) for v in idx.mean(0).round())
    return tuple(s // 2 for s in labels[0].shape)


def overlay_figure(image: np.ndarray, prediction: np.ndarray, truth: np.ndarray | None, path: Path, title: str = "") -> Path:
    """Axial, coronal and sagittal slices through the tumour: image, prediction (and ground truth) overlays."""
    plt = _pyplot()
    c = tumour_centre(*(x for x in (truth, prediction) if x is not None))
    rows = [("prediction", prediction)] + ([("ground truth", truth)] if truth is not None else [])
    fig, axes = plt.subplots(len(rows), 3, figsize=(10, 3.4 * len(rows)), squeeze=False)
    lo, hi = np.percentile(image[image != 0], (1, 99)) if np.any(image != 0) else (0, 1)
    for r, (name, lab) in enumerate(rows):
        for col, ((view, img), (_, seg)) in enumerate(zip(_views(image, c), _views(lab, c))):
            ax = axes[r][col]
            ax.imshow(img, cmap="gray", origin="lower", vmin=lo, vmax=hi)
            ax.imshow(np.ma.masked_equal(seg, 0), cmap=_label_cmap(), vmin=0, vmax=3, origin="lower", interpolation="nearest")
            ax.set_title(f"{name} — {view}", fontsize=9)
            ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=LABEL_COLOURS[k]) for k in (1, 2, 3)]
    fig.legend(handles, ["necrotic core", "edema", "enhancing"], loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def training_curves(history: list[dict[str, float]], path: Path) -> Path:
    plt = _pyplot()
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(ep, [h["train_loss"] for h in history], label="train loss")
    a.set_xlabel("epoch")
    a.legend()
    regions = [r for r in ("wt", "tc", "et", "rc", "gtv") if any(f"val_dice_{r}" in h for h in history)]  # the scheme's
    for k, lab in [(f"val_dice_{r}", r.upper()) for r in regions] + [("val_dice_composite", "composite")]:
        pts = [(h["epoch"], h[k]) for h in history if h.get(k) is not None]
        if pts:
            b.plot(*zip(*pts), label=lab)
    b.set_xlabel("epoch")
    b.set_ylabel("validation Dice")
    b.set_ylim(0, 1)
    b.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def scree_plot(ratios: np.ndarray, path: Path, n: int = 50, title: str = "") -> Path:
    plt = _pyplot()
    k = min(n, len(ratios))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(np.arange(1, k + 1), ratios[:k], label="explained variance ratio")
    ax.plot(np.arange(1, k + 1), np.cumsum(ratios[:k]), color="black", marker=".", label="cumulative")
    ax.set_xlabel("principal component")
    ax.set_ylim(0, 1.02)
    ax.legend()
    ax.set_title(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def reconstruction_figure(inputs: np.ndarray, recons: np.ndarray, case_ids: list[str], path: Path, title: str = "") -> Path:
    """Paper Fig. 7: per case, input / reconstruction / |difference| in axial, coronal and sagittal views.

    ``inputs`` and ``recons`` are (N, X, Y, Z) in [0, 1].
    """
    plt = _pyplot()
    n = len(case_ids)
    fig, axes = plt.subplots(3 * n, 3, figsize=(8, 8 * n), squeeze=False)
    for i, cid in enumerate(case_ids):
        c = tuple(s // 2 for s in inputs[i].shape)
        diff = np.abs(inputs[i] - recons[i])
        for col, (name, vol, cmap, vmax) in enumerate((("input", inputs[i], "gray", 1.0), ("reconstruction", recons[i], "gray", 1.0),
                                                        ("|difference|", diff, "magma", max(float(diff.max()), 1e-6)))):
            for r, (view, img) in enumerate(_views(vol, c)):
                ax = axes[3 * i + r][col]
                ax.imshow(img, cmap=cmap, origin="lower", vmin=0, vmax=vmax)
                ax.set_title(f"{cid} {name} — {view}", fontsize=7)
                ax.axis("off")
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path


def autoencoder_curves(history: list[dict[str, float]], path: Path) -> Path:
    """Paper Fig. 6: training reconstruction loss (and the GAN terms) per epoch, validation L1."""
    plt = _pyplot()
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for k in ("train_l1", "train_adv_g", "train_discriminator"):
        pts = [(h["epoch"], h[k]) for h in history if h.get(k) is not None]
        if pts:
            a.plot(*zip(*pts), label=k.removeprefix("train_"))
    a.set_xlabel("epoch")
    a.set_title("training", fontsize=10)
    a.legend()
    pts = [(h["epoch"], h["val_l1"]) for h in history if h.get("val_l1") is not None]
    if pts:
        b.plot(*zip(*pts), marker="o", label="validation L1")
    b.set_xlabel("epoch")
    b.set_title("validation reconstruction L1", fontsize=10)
    b.legend()
    if not ep:
        a.text(0.5, 0.5, "no epochs", ha="center")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path
