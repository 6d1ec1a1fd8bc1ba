"""Datasets of preprocessed cases (the arrays the preprocess stage wrote, ``data/arrays.py``): 3-D segmentation crops and the
autoencoder's whole-volume inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchio as tio
from torch.utils.data import Dataset

from brats_mlops.data.preprocessing import Plans, load_autoencoder_input, load_labels, load_preprocessed
from brats_mlops.data.augment import arrays_from_subject, subject_from_arrays


class SegmentationDataset(Dataset):
    """Items ``{"image": (C, H, W, D) float32, "label": (1, H, W, D) int64, "case_id": str}``."""

    def __init__(self, preprocessed_dir: str | Path, case_ids: list[str], transform: tio.Transform | None = None):
        self.dir = Path(preprocessed_dir)
        self.ids = list(case_ids)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        cid = self.ids[i]
        img, lab = load_preprocessed(self.dir, cid)
        if lab is None:
            raise FileNotFoundError(f"case {cid} has no preprocessed label in {self.dir} (unlabelled?)")
        image = torch.from_numpy(np.asarray(img, dtype=np.float32))  # decoded fresh for this call: no copy
        label = torch.from_numpy(np.asarray(lab, dtype=np.int64))[None]
        if self.transform is not None:
            image, label = arrays_from_subject(self.transform(subject_from_arrays(image, label)))
        return {"image": image, "label": label, "case_id": cid}


def label_frequencies(preprocessed_dir: str | Path, case_ids: list[str], num_classes: int) -> np.ndarray:
    """Voxel count per class over ``case_ids`` (for the inverse-frequency CE weights)."""
    counts = np.zeros(num_classes, np.int64)
    for cid in case_ids:
        lab = load_labels(preprocessed_dir, cid)
        counts += np.bincount(np.asarray(lab).ravel(), minlength=num_classes)[:num_classes]
    return counts


def load_volumes(preprocessed_dir: Path, ids: list[str]) -> torch.Tensor:
    """(N, 1, X, Y, Z) float32 tensor of the autoencoder inputs of ``ids``; names a missing file."""
    arrs = []
    for cid in ids:
        p = Plans.ae_path(preprocessed_dir, cid)
        if not p.is_file():
            raise FileNotFoundError(f"case {cid}: autoencoder input {p} is missing; rerun the preprocess stage")
        arrs.append(load_autoencoder_input(preprocessed_dir, cid))
    return torch.from_numpy(np.stack(arrs).astype(np.float32))
