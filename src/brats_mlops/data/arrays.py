"""How the preprocess stage stores its volumes: one compressed, chunked Blosc2 array file (``.b2nd``) per case and kind.

Why (issue 26, BENCHMARKS.md "Preprocessed footprint"): plain float32 ``.npy`` made a 128³ BraTS case 40 MB — 50 GB
for 1,251 cases. The segmentation input is now stored as its *crop before normalisation* in the narrowest integer type
that holds it exactly (BraTS images are int16), with the per-modality normalisation statistics in the file's metadata;
reading replays the normalisation (``preprocessing.normalise_channels(..., stats=...)``, the same code that made it),
so the float32 array a loader gets is bit-for-bit the one preprocessing computed — checked when the file is written,
and stored as float32 instead when it would not be (e.g. with Gaussian smoothing). Everything is compressed losslessly
with Zstandard level 1 after byte shuffling: about 4× smaller than float32 ``.npy`` on a 240×240×155 case, decompressed
at ~1 GB/s. Files are written with one Blosc2 thread, because a multi-threaded Blosc2 write orders blocks
differently from run to run, and the bytes must not change between runs (DVC hashes them).

``open_array`` does not decompress: slicing it (``a[:, 10:20]``) decompresses only the chunks and blocks it touches.
Blosc2's default blocks span the last (axial) axis thinly, not at all the others: one axial slice ``a[..., z]`` touches a
block in every row of the volume, so the 2-D loader reading one slice decompresses most of a case (BENCHMARKS.md "2-D slice
loading": 168 slices/s, 7× what a training step needs here); blocks thin in z would change the stored bytes.

The chunk and block shapes are fixed, not the machine's: python-blosc2 sizes them from the CPU's cache sizes
(``blosc2.cpu_info``), so the same arrays were stored as different bytes on an AMD EPYC (32 KiB L1d, 1 MiB L2) than on
the Xeon the committed ``dvc.lock`` was made on (48 KiB, 2 MiB) — the same values, other hashes, and DVC reran
everything downstream. :func:`layout` asks Blosc2 for the shapes it would choose on that reference cache (``REFERENCE_CACHE``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import blosc2
import numpy as np

SUFFIX = ".b2nd"
META_KEY = "brats"
_CPARAMS = {"codec": blosc2.Codec.ZSTD, "clevel": 1, "filters": [blosc2.Filter.SHUFFLE], "nthreads": 1}
_DPARAMS = {"nthreads": 1}
_INT_TYPES = (np.uint8, np.int16, np.uint16, np.int32)


# The cache sizes Blosc2 chooses chunk and block shapes for, whatever this machine's (an Intel Xeon's: L1d 48 KiB,
# L2 2 MiB, L3 105 MiB — where the committed dvc.lock was made, so its hashes hold on every machine).
REFERENCE_CACHE = {"l1_data_cache_size": 48 * 1024, "l2_cache_size": 2 * 1024**2, "l3_cache_size": 105 * 1024**2}


@functools.lru_cache(maxsize=64)
def layout(shape: tuple[int, ...], dtype: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(chunks, blocks) Blosc2 chooses for an array of ``shape`` and ``dtype`` on ``REFERENCE_CACHE``."""
    info = blosc2.cpu_info
    saved = {k: info[k] for k in REFERENCE_CACHE if k in info}
    info.update(REFERENCE_CACHE)
    try:
        a = blosc2.empty(shape, dtype=np.dtype(dtype), cparams=_CPARAMS)
        return tuple(a.chunks), tuple(a.blocks)
    finally:
        for k in REFERENCE_CACHE:
            info.pop(k, None)
        info.update(saved)


def save_array(path: str | Path, arr: np.ndarray, meta: dict[str, Any] | None = None) -> Path:
    """Write ``arr`` (any shape, dtype kept) to ``path`` (``.b2nd``) with ``meta`` (JSON-able) beside it.

    Compressed in memory, then written by Python, so a full disk is an ``OSError`` (ENOSPC) like any other write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.ascontiguousarray(arr)
    chunks, blocks = layout(arr.shape, arr.dtype.str)
    a = blosc2.asarray(arr, chunks=chunks, blocks=blocks, cparams=_CPARAMS, dparams=_DPARAMS)
    a.vlmeta[META_KEY] = meta or {}
    _write(path, a.to_cframe())
    return path


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def open_array(path: str | Path) -> blosc2.NDArray:
    """The stored array, memory-mapped and not yet decompressed (``shape``, ``dtype``, slicing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the preprocess stage (dvc repro preprocess)")
    return blosc2.open(str(path), mode="r", mmap_mode="r", dparams=_DPARAMS)


def load_array(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """(the stored array, its metadata)."""
    a = open_array(path)
    return a[...], dict(a.vlmeta[META_KEY])


def narrowest_exact(x: np.ndarray) -> np.ndarray:
    """``x`` in the smallest integer type that holds every value exactly, else unchanged."""
    if x.size == 0 or not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        return x
    lo, hi = x.min(), x.max()
    for t in _INT_TYPES:
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            y = x.astype(t)
            return y if np.array_equal(y, x) else x
    return x
