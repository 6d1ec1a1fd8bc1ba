"""The preprocessed arrays' storage (issue 26: footprint halved, no metric changed): what a loader reads back is bit for
bit what preprocessing computed; files are byte-identical from run to run (DVC hashes them); a slice read equals the
volume's slice."""

import numpy as np

from brats_mlops.config.schema import AutoencoderPreprocessParams, PreprocessParams
from brats_mlops.data.arrays import load_array, narrowest_exact, open_array, save_array
from brats_mlops.data.io import load_case_images
from brats_mlops.data.preprocessing import (Plans, brain_mask, crop_or_pad, crop_start, load_preprocessed, load_preprocessed_slice,
                                            normalise_channels, preprocess_case)
from brats_mlops.data.readers import discover

MODS = ("t1", "t1ce", "t2", "flair")
AE = AutoencoderPreprocessParams(spacing=(14.0, 14.0, 14.0), shape=(8, 8, 8))


def _expected(case, cfg):
    """The float32 normalised crop, computed directly as preprocessing does."""
    images, _, _ = load_case_images(case, MODS, dtype=None)
    crop = crop_or_pad(images, crop_start(images.shape[1:], cfg.crop_size, cfg.crop, brain_mask(images)), cfg.crop_size).astype(np.float32)
    pct = cfg.percentiles if cfg.percentile_rescale else None
    return normalise_channels(crop, brain_mask(crop), pct, cfg.gaussian_sigma)[0]


def test_stored_crop_reads_back_bit_identical_and_smaller(tiny_synth, tmp_path):
    case = next(c for c in discover("synthetic", tiny_synth, MODS).cases if c.seg is not None)
    for name, cfg in {"default": PreprocessParams(crop_size=(24, 24, 16), autoencoder=AE),
                      "percentile clip": PreprocessParams(crop_size=(24, 24, 16), percentile_rescale=True, autoencoder=AE),
                      "smoothing": PreprocessParams(crop_size=(24, 24, 16), gaussian_sigma=1.0, autoencoder=AE)}.items():
        out = tmp_path / name
        preprocess_case(case, MODS, cfg, out)
        want = _expected(case, cfg)
        img, lab = load_preprocessed(out, case.case_id)
        assert img.dtype == np.float32 and np.array_equal(img, want), name
        stored = open_array(Plans.image_path(out, case.case_id))
        if name != "smoothing":    # int16 crop + the statistics; smoothed inputs are stored as float32 (not voxel-wise)
            assert stored.dtype == np.int16 and stored.vlmeta["brats"]["encoding"] == "replay", name
            assert Plans.image_path(out, case.case_id).stat().st_size < want.nbytes / 2, name
        else:
            assert stored.dtype == np.float32 and stored.vlmeta["brats"]["encoding"] == "float32"
        for z in (0, 7, 15):
            s_img, s_lab = load_preprocessed_slice(out, case.case_id, z)
            assert np.array_equal(s_img, want[..., z]) and np.array_equal(s_lab, lab[..., z]), (name, z)


def test_a_crop_that_is_not_integer_is_stored_as_float32_and_still_exact(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 6, 5, 4)).astype(np.float32)
    assert narrowest_exact(x) is x
    ints = np.round(x * 100)
    assert narrowest_exact(ints).dtype == np.int16 and narrowest_exact(ints + 40000).dtype == np.uint16
    assert narrowest_exact(np.array([1e9, -1e9])).dtype == np.int32 and narrowest_exact(np.array([np.nan])).dtype == np.float64
    save_array(tmp_path / "a.b2nd", x, {"k": [1.5]})
    back, meta = load_array(tmp_path / "a.b2nd")
    assert np.array_equal(back, x) and back.dtype == np.float32 and meta == {"k": [1.5]}


def test_files_are_byte_identical_between_runs(tmp_path):
    x = np.random.default_rng(1).integers(0, 3000, (4, 40, 40, 40)).astype(np.int16)
    a, b = save_array(tmp_path / "a.b2nd", x, {"s": 1}), save_array(tmp_path / "b.b2nd", x, {"s": 1})
    assert a.read_bytes() == b.read_bytes()


def test_the_stored_bytes_do_not_depend_on_the_cpu_cache(tmp_path, monkeypatch):
    """python-blosc2 sizes chunks and blocks from the CPU's caches: an AMD EPYC (1 MiB L2) stored the committed
    arrays in other bytes than the Xeon (2 MiB) did. They are fixed to a reference cache now, and Blosc2's own view of
    this machine is left as it was."""
    import blosc2

    from brats_mlops.data import arrays

    rng = np.random.default_rng(0)
    vols = [rng.normal(size=(4, 64, 64, 64)).astype(np.float16), rng.integers(0, 4, (64, 64, 64)).astype(np.uint8),
            rng.normal(size=(4, 128, 128, 128)).astype(np.float16)]   # a BraTS-size crop: L3 decides its chunks
    caches = [(32 * 1024, 1024**2, 32 * 1024**2), (48 * 1024, 2 * 1024**2, 105 * 1024**2), (64 * 1024, 512 * 1024, 8 * 1024**2)]
    stored, natives = [], []
    for l1, l2, l3 in caches:
        monkeypatch.setitem(blosc2.cpu_info, "l1_data_cache_size", l1)
        monkeypatch.setitem(blosc2.cpu_info, "l2_cache_size", l2)
        monkeypatch.setitem(blosc2.cpu_info, "l3_cache_size", l3)
        arrays.layout.cache_clear()
        stored.append([save_array(tmp_path / f"{i}.b2nd", v, {"i": i}).read_bytes() for i, v in enumerate(vols)])
        natives.append([blosc2.asarray(v).blocks for v in vols])
        assert blosc2.cpu_info["l2_cache_size"] == l2
    assert stored[0] == stored[1] == stored[2]
    assert natives[0] != natives[1]        # the test means something: Blosc2's own choice does differ
    for i, v in enumerate(vols):
        assert np.array_equal(load_array(tmp_path / f"{i}.b2nd")[0], v)
