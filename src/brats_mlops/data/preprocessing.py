"""Preprocessing: crops, masked z-score, label remap, autoencoder inputs, and the plans JSON.

Segmentation inputs (labelled cases that passed validation)
    crop to ``preprocess.crop_size`` (centre of the volume, or centre of the brain's bounding box with
    ``crop: foreground``; zero-padded where the volume is smaller) → optional clip of each modality to its
    ``percentiles`` within the brain → z-score over brain (non-zero) voxels per modality → labels remapped
    to the edition's internal scheme (``data/labels.py``; glioma: 0 bg, 1 NCR, 2 ED, 3 ET), optionally + healthy brain.
    Stored as ``images/<id>.b2nd`` (C×X×Y×Z: the crop before normalisation + the statistics that replay it, read back
    as float32 by :func:`load_preprocessed`) and ``labels/<id>.b2nd`` (uint8, X×Y×Z), compressed (``data/arrays.py``).

Autoencoder inputs (labelled and unlabelled cases that passed)
    one modality (T1ce) → B-spline resampling to ``autoencoder.spacing`` → centre crop/pad to
    ``autoencoder.shape`` → min–max scaling between the volume minimum and the ``upper_percentile`` of brain
    voxels, clipped to [0, 1]. Stored as ``autoencoder/<id>.b2nd`` (float32, 1×X×Y×Z).

Everything later stages need (crop boxes, shapes, spacing, affines, label map, normalisation statistics) is
in ``plans.json``, read back through :class:`Plans`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import ndimage

from brats_mlops.config.schema import AutoencoderPreprocessParams, PreprocessParams
from brats_mlops.data.arrays import META_KEY, SUFFIX, load_array, narrowest_exact, open_array, save_array
from brats_mlops.data.case import Case, scheme_of
from brats_mlops.data.io import load_case_images, load_image
from brats_mlops.data.labels import LabelScheme, get_scheme

PLANS_VERSION = 2  # 2: arrays stored as Blosc2 .b2nd (data/arrays.py), was float32 .npy


# --------------------------------------------------------------------------- numerics
def brain_mask(images: np.ndarray) -> np.ndarray:
    """Voxels non-zero in any modality. ``images``: (C, X, Y, Z)."""
    return np.any(images != 0, axis=0)


def crop_start(shape: tuple[int, ...], size: tuple[int, ...], mode: str, mask: np.ndarray | None = None) -> tuple[int, ...]:
    """Start index of the crop box per axis (negative = pad before)."""
    if mode == "center" or mask is None or not mask.any():
        return tuple((s - c) // 2 for s, c in zip(shape, size))
    idx = np.argwhere(mask)
    centre = (idx.min(0) + idx.max(0) + 1) / 2.0  # centre of the half-open bounding box
    start = []
    for ax, (s, c) in enumerate(zip(shape, size)):
        st = int(round(centre[ax] - c / 2.0))
        st = min(max(st, 0), s - c) if s >= c else (s - c) // 2
        start.append(st)
    return tuple(start)


def crop_or_pad(arr: np.ndarray, start: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
    """Cut ``size`` voxels from ``start`` over the last ``len(size)`` axes, zero-filling outside the volume."""
    lead = arr.shape[: arr.ndim - len(size)]
    out = np.zeros(lead + tuple(size), dtype=arr.dtype)
    src, dst = [], []
    for s, st, c in zip(arr.shape[-len(size):], start, size):
        a0, a1 = max(st, 0), min(st + c, s)
        src.append(slice(a0, max(a1, a0)))
        dst.append(slice(a0 - st, a0 - st + max(a1 - a0, 0)))
    out[(..., *dst)] = arr[(..., *src)]
    return out


def zscore_masked(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(x - mean) / std over ``mask`` voxels; 0 outside the mask. Returns (normalised, mean, std)."""
    vals = x[mask]
    if vals.size == 0:
        return np.zeros_like(x, dtype=np.float32), 0.0, 1.0
    mean, std = float(vals.mean()), float(vals.std())
    std = std if std > 1e-8 else 1.0
    return apply_zscore(x, mask, mean, std), mean, std


def apply_zscore(x: np.ndarray, mask: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.where(mask, (x - mean) / std, 0.0).astype(np.float32)


def normalise_channels(images: np.ndarray, mask: np.ndarray, percentiles: tuple[float, float] | None = None,
                       gaussian_sigma: float = 0.0, stats: list[dict[str, float]] | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
    """(C, X, Y, Z) → float32: per channel, optional Gaussian smoothing (``gaussian_sigma`` voxels, seed 002), optional
    clip to ``percentiles`` of the ``mask`` voxels, then z-score over them (0 outside). The one normalisation of
    preprocessing *and* inference, so both see the same intensities. ``stats`` (what an earlier call returned) replays
    that normalisation instead of measuring it: how a stored crop is read back (``data/arrays.py``)."""
    normed = np.empty(images.shape, dtype=np.float32)
    out = []
    for i in range(images.shape[0]):
        ch, st = images[i].astype(np.float32), dict(stats[i]) if stats is not None else {}
        if gaussian_sigma > 0:
            ch = ndimage.gaussian_filter(ch, gaussian_sigma)
        if stats is None and percentiles is not None and mask.any():
            lo_p, hi_p = np.percentile(ch[mask], percentiles)
            st.update(p_low=float(lo_p), p_high=float(hi_p))
        if "p_low" in st:
            ch = np.where(mask, np.clip(ch, st["p_low"], st["p_high"]), 0.0)
        if stats is None:
            normed[i], mean, std = zscore_masked(ch, mask)
            st.update(mean=mean, std=std)
        else:
            normed[i] = apply_zscore(ch, mask, st["mean"], st["std"])
        out.append(st)
    return normed, out


def normalise(images: np.ndarray, percentiles: tuple[float, float] | None = None, gaussian_sigma: float | None = None) -> np.ndarray:
    """:func:`normalise_channels` over the brain (non-zero in any modality): how inference normalises a new case."""
    return normalise_channels(images, brain_mask(images), percentiles, gaussian_sigma or 0.0)[0]


def remap_labels(seg: np.ndarray, label_map: dict[int, int]) -> np.ndarray:
    """Raw labels → internal labels through a lookup table (validation guarantees the values are known)."""
    lut = np.zeros(max(label_map) + 1, dtype=np.uint8)
    for raw, internal in label_map.items():
        lut[raw] = internal
    idx = seg if np.issubdtype(seg.dtype, np.unsignedinteger) else seg.astype(np.int64)
    return lut[idx]


_ZOOM = {"mode": "grid-constant", "cval": 0.0, "grid_mode": True}


def resample_spacing(x: np.ndarray, spacing_in: tuple[float, ...], spacing_out: tuple[float, ...], order: int = 3) -> np.ndarray:
    """B-spline (``order``) resampling of a 3-D volume to a new voxel spacing: ``scipy.ndimage.zoom``'s result.

    For ``order`` ≥ 2 it is computed one axis at a time: ``ndimage.zoom`` pads, prefilters and interpolates with a
    tensor-product spline, so the 3-D operator is the product of three 1-D linear maps (:func:`_axis_operator`), and
    three matrix products replace its 64 taps per voxel at order 3 — 8–10× faster on a 240×240×155 image, the same
    float32 values (``tests/data/test_preprocessing.py``; BENCHMARKS.md "Data stages at cohort size")."""
    zoom = [a / b for a, b in zip(spacing_in, spacing_out)]
    if order < 2:
        return ndimage.zoom(x.astype(np.float32), zoom, order=order, **_ZOOM)
    y = np.asarray(x, dtype=np.float64)
    for axis, z in enumerate(zoom):
        y = np.moveaxis(np.tensordot(_axis_operator(y.shape[axis], z, order), y, axes=([1], [axis])), 0, axis)
    return y.astype(np.float32)


@functools.lru_cache(maxsize=32)
def _axis_operator(n: int, zoom: float, order: int) -> np.ndarray:
    """``ndimage.zoom`` along one axis of length ``n`` as a matrix (n_out × n, float64): column j is unit vector j
    zoomed (padding, spline prefilter and interpolation included, so the boundaries are handled as zoom does)."""
    return np.stack([ndimage.zoom(e, zoom, order=order, **_ZOOM) for e in np.eye(n)], axis=1)


def minmax_percentile(x: np.ndarray, mask: np.ndarray, upper: float) -> tuple[np.ndarray, float, float]:
    lo = float(x.min())
    hi = float(np.percentile(x[mask], upper)) if mask.any() else float(x.max())
    hi = hi if hi > lo else lo + 1.0
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32), lo, hi


# --------------------------------------------------------------------------- plans
class CasePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str
    role: str
    source: str
    original_shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    affine: list[list[float]]
    crop_start: tuple[int, int, int] | None = None
    stats: dict[str, dict[str, float]] = {}
    has_seg: bool = False
    ae_crop_start: tuple[int, int, int] | None = None
    ae_resampled_shape: tuple[int, int, int] | None = None
    ae_scale: tuple[float, float] | None = None
    label_counts_original: dict[str, int] = {}
    label_counts_cropped: dict[str, int] = {}


class Plans(BaseModel):
    """The typed view of ``plans.json``: the one way later stages learn how data was preprocessed."""

    model_config = ConfigDict(extra="forbid")
    version: int = PLANS_VERSION
    source: str
    modalities: tuple[str, ...]
    crop_mode: str
    crop_size: tuple[int, int, int]
    normalisation: str
    percentile_clip: tuple[float, float] | None
    gaussian_sigma: float = 0.0
    healthy_label: bool
    label_scheme: str = "glioma"  # data/labels.py: the internal labels and regions (plans written before: glioma)
    label_names: dict[int, str]
    raw_label_map: dict[int, int]
    autoencoder: dict[str, Any]
    storage_format: str = "b2nd"
    cases: dict[str, CasePlan]
    quarantined: dict[str, str] = {}  # case id -> why its preprocessing failed (data/preprocess_run.py); absent if none

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def scheme(self) -> LabelScheme:
        return get_scheme(self.label_scheme)

    @classmethod
    def load(cls, preprocessed_dir: str | Path) -> "Plans":
        p = Path(preprocessed_dir) / "plans.json"
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: run the preprocess stage first (dvc repro preprocess)")
        return cls.model_validate_json(p.read_text())

    def save(self, preprocessed_dir: str | Path) -> Path:
        p = Path(preprocessed_dir) / "plans.json"
        p.write_text(self.model_dump_json(indent=1, exclude=None if self.quarantined else {"quarantined"}))
        return p

    @staticmethod
    def image_path(preprocessed_dir: str | Path, case_id: str) -> Path:
        return Path(preprocessed_dir) / "images" / f"{case_id}{SUFFIX}"

    @staticmethod
    def label_path(preprocessed_dir: str | Path, case_id: str) -> Path:
        return Path(preprocessed_dir) / "labels" / f"{case_id}{SUFFIX}"

    @staticmethod
    def ae_path(preprocessed_dir: str | Path, case_id: str) -> Path:
        return Path(preprocessed_dir) / "autoencoder" / f"{case_id}{SUFFIX}"

    def labelled_ids(self) -> list[str]:
        return sorted(k for k, c in self.cases.items() if c.has_seg)


def load_preprocessed(preprocessed_dir: str | Path, case_id: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(images C×X×Y×Z float32, labels X×Y×Z uint8 or None) of one preprocessed case: the float32 images exactly as
    preprocessing normalised them (replayed from the stored crop, ``data/arrays.py``)."""
    return decode_images(*load_array(Plans.image_path(preprocessed_dir, case_id))), load_labels(preprocessed_dir, case_id)


def load_preprocessed_slice(preprocessed_dir: str | Path, case_id: str, z: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(images C×X×Y float32, labels X×Y or None) of axial slice ``z``: only that slice is normalised (the replay is
    voxel-wise), so a slice costs its decompression, not a volume's normalisation."""
    a = open_array(Plans.image_path(preprocessed_dir, case_id))
    img = decode_images(a[..., z], dict(a.vlmeta[META_KEY]))
    lp = Plans.label_path(preprocessed_dir, case_id)
    return img, (open_array(lp)[..., z] if lp.is_file() else None)


def load_labels(preprocessed_dir: str | Path, case_id: str) -> np.ndarray | None:
    """Labels X×Y×Z uint8 of one preprocessed case (None for an unlabelled one), without reading its images."""
    lp = Plans.label_path(preprocessed_dir, case_id)
    return load_array(lp)[0] if lp.is_file() else None


def load_autoencoder_input(preprocessed_dir: str | Path, case_id: str) -> np.ndarray:
    """The autoencoder input 1×X×Y×Z float32 in [0, 1] of one case."""
    return load_array(Plans.ae_path(preprocessed_dir, case_id))[0]


def encode_images(crop: np.ndarray, normed: np.ndarray, stats: list[dict[str, float]], gaussian_sigma: float) -> tuple[np.ndarray, dict[str, Any]]:
    """What is stored for the normalised ``normed`` made from ``crop``: the crop in its narrowest exact integer type
    and the statistics that replay the normalisation — if that replay gives ``normed`` bit for bit; else ``normed``.
    Only voxel-wise normalisations are replayed (clip, z-score: correctly rounded float32 operations, the same bits
    on every machine); with Gaussian smoothing (a sum whose rounding may depend on the CPU) the float32 is stored."""
    stored = narrowest_exact(crop)
    meta = {"encoding": "replay", "stats": stats, "gaussian_sigma": gaussian_sigma}
    if not gaussian_sigma and stored.dtype != np.float32 and np.array_equal(decode_images(stored, meta), normed):
        return stored, meta
    return normed, {"encoding": "float32"}


def decode_images(stored: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    if meta.get("encoding") != "replay":
        return stored.astype(np.float32, copy=False)
    x = stored.astype(np.float32)
    return normalise_channels(x, brain_mask(x), stats=meta["stats"])[0]


def save_preprocessed(preprocessed_dir: str | Path, case_id: str, images: np.ndarray | None = None,
                      labels: np.ndarray | None = None, autoencoder: np.ndarray | None = None) -> None:
    """Store already-normalised arrays of one case as float32 (images, autoencoder) and uint8 (labels): how tests,
    benchmarks and tools write a preprocessed folder without going through :func:`preprocess_case`."""
    if images is not None:
        save_array(Plans.image_path(preprocessed_dir, case_id), np.asarray(images, np.float32), {"encoding": "float32"})
    if labels is not None:
        save_array(Plans.label_path(preprocessed_dir, case_id), np.asarray(labels, np.uint8))
    if autoencoder is not None:
        save_array(Plans.ae_path(preprocessed_dir, case_id), np.asarray(autoencoder, np.float32))


# --------------------------------------------------------------------------- one case
def preprocess_case(
    case: Case, modalities: tuple[str, ...], cfg: PreprocessParams, out: Path, autoencoder_inputs: bool = True
) -> dict[str, Any]:
    """Preprocess one validated case, write its arrays, and return its :class:`CasePlan` as a dict."""
    images, affine, spacing = load_case_images(case, modalities, dtype=None)  # stored dtype; converted after the crop
    mask = brain_mask(images)
    plan: dict[str, Any] = {
        "case_id": case.case_id,
        "role": case.role,
        "source": case.source,
        "original_shape": images.shape[1:],
        "spacing": spacing,
        "affine": np.asarray(affine).tolist(),
        "has_seg": case.seg is not None,
    }
    if autoencoder_inputs:
        plan.update(_autoencoder_input(case, images, mask, modalities, spacing, cfg, out))
    if case.seg is None:
        return plan
    return _segmentation_input(case, images, mask, modalities, cfg, out, plan)


def autoencoder_volume(image: np.ndarray, mask: np.ndarray, spacing: tuple[float, ...], ae: AutoencoderPreprocessParams) -> tuple[np.ndarray, dict[str, Any]]:
    """One modality → the autoencoder's input (X×Y×Z float32 in [0, 1]) and how it was made.

    B-spline resampling to ``ae.spacing``, centre crop/pad to ``ae.shape``, min–max scaling between the
    minimum and the ``ae.upper_percentile`` of brain voxels. Also used on new cases at prediction time.
    """
    xr = resample_spacing(image.astype(np.float32), spacing, ae.spacing, order=ae.spline_order)
    mr = resample_spacing(mask.astype(np.float32), spacing, ae.spacing, order=0) > 0.5
    st = crop_start(xr.shape, ae.shape, "center")
    xr, lo, hi = minmax_percentile(xr, mr, ae.upper_percentile)
    xr = crop_or_pad(xr, st, ae.shape).astype(np.float32)
    return xr, {"ae_crop_start": st, "ae_resampled_shape": tuple(int(s) for s in mr.shape), "ae_scale": (lo, hi)}


def _autoencoder_input(case, images, mask, modalities, spacing, cfg: PreprocessParams, out: Path) -> dict[str, Any]:
    ae = cfg.autoencoder
    xr, meta = autoencoder_volume(images[modalities.index(ae.modality)], mask, spacing, ae)
    save_array(Plans.ae_path(out, case.case_id), xr[None])
    return meta


def _segmentation_input(case, images, mask, modalities, cfg: PreprocessParams, out: Path, plan: dict[str, Any]) -> dict[str, Any]:
    seg_raw, _, _ = load_image(case.seg, dtype=None)
    seg = remap_labels(seg_raw, case.label_map)
    scheme = scheme_of(case.source)
    if cfg.healthy_label:
        seg = np.where((seg == 0) & mask, scheme.healthy_label, seg).astype(np.uint8)
    start = crop_start(images.shape[1:], cfg.crop_size, cfg.crop, mask)
    img_c = crop_or_pad(images, start, cfg.crop_size).astype(np.float32)
    seg_c = crop_or_pad(seg, start, cfg.crop_size)
    mask_c = brain_mask(img_c)
    normed, per_channel = normalise_channels(img_c, mask_c, cfg.percentiles if cfg.percentile_rescale else None, cfg.gaussian_sigma)
    stats = dict(zip(modalities, per_channel))
    save_array(Plans.image_path(out, case.case_id), *encode_images(img_c, normed, per_channel, cfg.gaussian_sigma))
    save_array(Plans.label_path(out, case.case_id), seg_c.astype(np.uint8))

    def counts(s: np.ndarray, m: np.ndarray) -> dict[str, int]:
        # one comparison per label: 6x faster than bincount over the whole volume and a boolean-indexed copy of it
        # (a 240x240x155 case: 28 ms instead of 180 ms; issue 26)
        c = {str(k): int(np.count_nonzero(s == k)) for k in range(1, scheme.num_labels)}
        c["healthy"] = int(np.count_nonzero((s == 0) & m) + np.count_nonzero((s == scheme.healthy_label) & m))
        c["air"] = int(m.size - np.count_nonzero(m))
        return c

    plan.update(
        crop_start=start,
        stats=stats,
        label_counts_original=counts(seg, mask),
        label_counts_cropped=counts(seg_c, mask_c),
    )
    return plan
