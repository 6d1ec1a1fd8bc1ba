"""Axial 2-D slices of the preprocessed volumes, for the slice models of seeds 001 and 004.

No second copy of the data: a :class:`SliceDataset` reads one axial slice at a time from the compressed volumes the
``preprocess`` stage wrote (``data/arrays.py``). Every slice carries its patient id, so

* splits are by **patient** by default — the same patient-level train/val/test lists as the 3-D branch
  (:func:`slice_split` with ``mode="patient"``), so 2-D and 3-D models are scored on the same cases;
* ``mode="slice"`` reproduces seed 001's split *by slice* (slices of one patient in train and test) on purpose, to
  measure what that leakage inflates; it is never the default.

Per-slice options are the seeds': drop slices without tumour (training), resize to a square (001: 256×256,
bilinear for images, nearest for labels), and the normalisation of the volumes (``zscore``: as preprocessed;
``minmax01``: seed 004's per-channel 0–1 scaling per subject, computed over the whole volume, not per slice).
:func:`stack_slices` puts per-slice predictions back into a volume of the original geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from brats_mlops.data.preprocessing import load_labels, load_preprocessed, load_preprocessed_slice

SplitMode = Literal["patient", "slice"]
Normalisation = Literal["zscore", "minmax01"]


@dataclass(frozen=True)
class SliceRef:
    """One axial slice: the patient it belongs to, its index along the last axis, and whether it has tumour."""

    case_id: str
    z: int
    tumour: bool


def index_slices(preprocessed_dir: str | Path, case_ids: list[str]) -> list[SliceRef]:
    """Every axial slice of ``case_ids`` (labelled cases), with a tumour flag read from the label."""
    refs = []
    for cid in case_ids:
        lab = load_labels(preprocessed_dir, cid)
        if lab is None:
            raise FileNotFoundError(f"case {cid} has no preprocessed label in {preprocessed_dir} (unlabelled?)")
        has = np.asarray(lab).reshape(-1, lab.shape[-1]).any(axis=0)
        refs += [SliceRef(cid, z, bool(has[z])) for z in range(lab.shape[-1])]
    return refs


def slice_split(split: dict[str, list[str]], refs: list[SliceRef], mode: SplitMode = "patient",
                seed: int = 0) -> dict[str, list[SliceRef]]:
    """Slices of each part of the patient-level ``split`` (``mode="patient"``), or — seed 001's leak — all slices
    shuffled and cut in the same proportions regardless of patient (``mode="slice"``)."""
    parts = [k for k in ("train", "val", "test") if split.get(k)]
    if mode == "patient":
        where = {cid: k for k in parts for cid in split[k]}
        return {k: [r for r in refs if where.get(r.case_id) == k] for k in parts}
    if mode != "slice":
        raise ValueError(f"split mode must be 'patient' or 'slice', not {mode!r}")
    n_cases = sum(len(split[k]) for k in parts)
    order = np.random.default_rng(seed).permutation(len(refs))
    out, start = {}, 0
    for i, k in enumerate(parts):
        n = len(refs) - start if i == len(parts) - 1 else round(len(refs) * len(split[k]) / n_cases)
        out[k] = [refs[j] for j in order[start:start + n]]
        start += n
    return out


def patients_shared(parts: dict[str, list[SliceRef]]) -> set[str]:
    """Patients whose slices sit in more than one part (empty for a patient split)."""
    seen: dict[str, set[str]] = {}
    for k, refs in parts.items():
        for r in refs:
            seen.setdefault(r.case_id, set()).add(k)
    return {cid for cid, ks in seen.items() if len(ks) > 1}


def normalise_volume(img: np.ndarray, mode: Normalisation) -> np.ndarray:
    """(C, X, Y, Z) → float32; ``minmax01`` scales each channel of the subject to [0, 1] (seed 004)."""
    x = np.asarray(img, dtype=np.float32)
    if mode == "zscore":
        return x
    lo = x.reshape(x.shape[0], -1).min(1)[:, None, None, None]
    hi = x.reshape(x.shape[0], -1).max(1)[:, None, None, None]
    return (x - lo) / np.maximum(hi - lo, 1e-8)


def resize_slice(image: torch.Tensor, label: torch.Tensor | None, size: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(C, H, W) bilinear and (H, W) nearest to ``size``×``size`` (unchanged when ``size`` is None)."""
    if size is None or tuple(image.shape[-2:]) == (size, size):
        return image, label
    image = F.interpolate(image[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    if label is not None:
        label = F.interpolate(label[None, None].float(), size=(size, size), mode="nearest-exact")[0, 0].long()
    return image, label


class SliceDataset(Dataset):
    """Items ``{"image": (C, S, S) float32, "label": (S, S) int64, "case_id": str, "z": int}``.

    ``drop_empty`` keeps only slices with tumour (seed 001 trains on those). With ``zscore`` (the preprocess stage's
    own normalisation) each item reads one slice; the per-subject normalisations read the volume and normalise it
    once (a small per-worker cache of the last volume read)."""

    def __init__(self, preprocessed_dir: str | Path, refs: list[SliceRef], size: int | None = None,
                 normalisation: Normalisation = "zscore", drop_empty: bool = False, transform: Callable | None = None):
        self.dir = Path(preprocessed_dir)
        self.refs = [r for r in refs if r.tumour] if drop_empty else list(refs)
        self.size, self.normalisation, self.transform = size, normalisation, transform
        self._cache: tuple[str, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.refs)

    def _volume(self, cid: str) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None or self._cache[0] != cid:
            img, lab = load_preprocessed(self.dir, cid)
            self._cache = (cid, normalise_volume(img, self.normalisation), lab)
        return self._cache[1], self._cache[2]

    def __getitem__(self, i: int) -> dict:
        r = self.refs[i]
        if self.normalisation == "zscore":
            img, lab = load_preprocessed_slice(self.dir, r.case_id, r.z)
        else:
            vol, labs = self._volume(r.case_id)
            img, lab = vol[..., r.z], labs[..., r.z]
        image = torch.from_numpy(np.array(img, dtype=np.float32))
        label = torch.from_numpy(np.array(lab, dtype=np.int64))
        image, label = resize_slice(image, label, self.size)
        if self.transform is not None:  # MONAI dictionary transforms want a channel axis on the label
            out = self.transform({"image": image, "label": label[None]})
            image, label = torch.as_tensor(out["image"]).float(), torch.as_tensor(out["label"])[0].round().long()
        return {"image": image, "label": label, "case_id": r.case_id, "z": r.z}


def stack_slices(slices: dict[int, np.ndarray], shape: tuple[int, int, int]) -> np.ndarray:
    """Per-slice label maps ``{z: (h, w)}`` → a (X, Y, Z) uint8 volume of ``shape``: each slice is resized back to
    (X, Y) by nearest neighbour; slices not given stay 0."""
    out = np.zeros(shape, np.uint8)
    for z, s in slices.items():
        t = torch.from_numpy(np.asarray(s, dtype=np.float32))[None, None]
        if tuple(s.shape) != tuple(shape[:2]):
            t = F.interpolate(t, size=shape[:2], mode="nearest-exact")
        out[..., z] = t[0, 0].numpy().astype(np.uint8)
    return out


def slice_augmentation(flip_p: float, rotate_p: float, degrees: float):
    """MONAI 2-D dictionary transforms on ``{"image": (C, H, W), "label": (1, H, W)}``: a left-right flip and an
    in-plane rotation (bilinear image, nearest label). ``set_random_state`` makes an epoch's draws repeatable."""
    import math

    from monai.transforms import Compose, RandFlipd, RandRotated

    return Compose([RandFlipd(("image", "label"), prob=flip_p, spatial_axis=0),
                    RandRotated(("image", "label"), range_x=math.radians(degrees), prob=rotate_p, mode=("bilinear", "nearest"),
                                padding_mode="zeros", keep_size=True)])


def mask_channels(labels: np.ndarray) -> np.ndarray:
    """(..., X, Y) internal labels → (..., 3, X, Y) float32 masks of NCR, ED and ET (seed 001's 3 mask channels)."""
    return np.stack([(labels == k) for k in (1, 2, 3)], axis=-3).astype(np.float32)


class MaskSliceDataset(Dataset):
    """Seed 001's survival inputs: an axial slice of the tumour labels as 3 channels (NCR, ED, ET), resized to
    ``size``², with the age scaled by the training min-max and the survival bin."""

    def __init__(self, rows: pd.DataFrame, masks: dict[str, np.ndarray], size: int, age_range: tuple[float, float]):
        self.rows = rows.reset_index(drop=True)
        self.masks, self.size, self.age_range = masks, size, age_range

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.rows.iloc[i]
        x = torch.from_numpy(mask_channels(np.asarray(self.masks[r.case_id][..., int(r.z)])))
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x[None], size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        lo, hi = self.age_range
        age = torch.tensor(min(max((float(r.age) - lo) / (hi - lo), 0.0), 1.0), dtype=torch.float32)
        return {"masks": x, "age": age, "bin": int(r.bin)}
