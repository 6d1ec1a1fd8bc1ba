import numpy as np
import pytest

from brats_mlops.config.schema import AutoencoderPreprocessParams, PreprocessParams
from brats_mlops.data.preprocessing import (
    Plans,
    crop_or_pad,
    crop_start,
    load_autoencoder_input,
    load_preprocessed,
    minmax_percentile,
    remap_labels,
    resample_spacing,
    zscore_masked,
)
from brats_mlops.data.label_tables import label_tables
from brats_mlops.data.preprocess_run import preprocess_dataset
from brats_mlops.data.readers import discover

MODS = ("t1", "t1ce", "t2", "flair")


def test_zscore_uses_only_mask_voxels():
    x = np.zeros((4, 4, 4), np.float32)
    x[1:3, 1:3, 1:3] = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    mask = x != 0
    out, mean, std = zscore_masked(x, mask)
    vals = np.arange(1, 9, dtype=np.float64)
    assert mean == pytest.approx(vals.mean()) and std == pytest.approx(vals.std())
    assert out[mask].mean() == pytest.approx(0, abs=1e-6) and out[mask].std() == pytest.approx(1, abs=1e-6)
    assert np.all(out[~mask] == 0)


def test_zscore_constant_and_empty_mask():
    x = np.full((3, 3, 3), 5.0, np.float32)
    out, _, std = zscore_masked(x, x > 0)
    assert std == 1.0 and np.all(out == 0)
    out, _, _ = zscore_masked(x, np.zeros_like(x, bool))
    assert np.all(out == 0)


@pytest.mark.parametrize(
    "shape, size, start, expected_sum",
    [((10, 10, 10), (4, 4, 4), (3, 3, 3), 64), ((4, 4, 4), (8, 8, 8), (-2, -2, -2), 64), ((10, 10, 10), (4, 4, 4), (8, 8, 8), 8)],
)
def test_crop_or_pad(shape, size, start, expected_sum):
    out = crop_or_pad(np.ones(shape, np.float32), start, size)
    assert out.shape == size and out.sum() == expected_sum


def test_crop_retention_phantom():
    """A 240x240x155 phantom with a tumour cube straddling the 128^3 centre-crop border: known retention."""
    shape, size = (240, 240, 155), (128, 128, 128)
    st = crop_start(shape, size, "center")
    assert st == (56, 56, 13)
    seg = np.zeros(shape, np.uint8)
    # cube of 20^3 voxels, 5 of its 20 x-planes beyond the crop's upper x border (56 + 128 = 184)
    seg[169:189, 100:120, 60:80] = 2
    kept = crop_or_pad(seg, st, size)
    assert (kept == 2).sum() / (seg == 2).sum() == pytest.approx(15 / 20)


def test_foreground_crop_centres_the_brain():
    mask = np.zeros((100, 100, 100), bool)
    mask[60:90, 10:40, 40:60] = True
    st = crop_start(mask.shape, (40, 40, 40), "foreground", mask)
    assert st == (55, 5, 30)
    assert crop_or_pad(mask, st, (40, 40, 40)).sum() == mask.sum()


@pytest.mark.parametrize(
    "source_map, raw, internal",
    [({0: 0, 1: 1, 2: 2, 4: 3}, [0, 1, 2, 4], [0, 1, 2, 3]), ({0: 0, 1: 2, 2: 1, 3: 3}, [0, 1, 2, 3], [0, 2, 1, 3])],
)
def test_remap_labels(source_map, raw, internal):
    assert remap_labels(np.array(raw), source_map).tolist() == internal


def test_resample_and_minmax():
    x = np.random.default_rng(0).random((20, 20, 10)).astype(np.float32) * 100
    r = resample_spacing(x, (1.0, 1.0, 1.0), (2.0, 2.0, 2.0))
    assert r.shape == (10, 10, 5)
    m, lo, hi = minmax_percentile(x, x > 0, 99.5)
    assert m.min() >= 0 and m.max() == 1 and lo == pytest.approx(x.min())


@pytest.mark.parametrize("shape,spacing_in,spacing_out,order", [
    ((72, 72, 56), (3.0, 3.0, 3.0), (4.5, 4.5, 3.5), 3),       # the default's autoencoder input
    ((61, 50, 37), (1.0, 1.0, 1.0), (1.6, 1.6, 1.3), 3),       # the scale preset's spacing, odd sizes
    ((40, 33, 29), (1.2, 0.9, 2.0), (0.8, 1.1, 1.0), 2),       # up- and down-sampling at once, quadratic
])
def test_separable_resampling_gives_scipys_3d_zoom(shape, spacing_in, spacing_out, order):
    from scipy import ndimage

    rng = np.random.default_rng(3)
    x = (ndimage.gaussian_filter(rng.normal(size=shape), 1.5) * 3000).astype(np.int16).astype(np.float32)
    x[:4] = 0.0                                                 # a hard edge to the zero background, as at a brain's border
    zoom = [a / b for a, b in zip(spacing_in, spacing_out)]
    ref = ndimage.zoom(x, zoom, order=order, mode="grid-constant", cval=0.0, grid_mode=True)
    got = resample_spacing(x, spacing_in, spacing_out, order=order)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_array_max_ulp(got, ref, maxulp=1)          # the same float32 values (measured: identical)
    assert np.mean(got == ref) > 0.999


def test_preprocess_dataset_and_plans(tiny_synth, tmp_path):
    idx = discover("synthetic", tiny_synth, MODS)
    cfg = PreprocessParams(crop_size=(16, 16, 16), healthy_label=True,
                           autoencoder=AutoencoderPreprocessParams(spacing=(14.0, 14.0, 14.0), shape=(8, 8, 8)))
    plans = preprocess_dataset(idx.cases, MODS, cfg, tmp_path, num_workers=2)
    back = Plans.load(tmp_path)
    assert back == plans
    assert back.num_classes == 5 and back.label_names[4] == "healthy brain"
    assert set(back.labelled_ids()) == {c.case_id for c in idx.cases if c.role == "labelled"}
    cid = back.labelled_ids()[0]
    img, lab = load_preprocessed(tmp_path, cid)
    assert img.shape == (4, 16, 16, 16) and img.dtype == np.float32 and lab.dtype == np.uint8
    assert set(np.unique(lab)) <= {0, 1, 2, 3, 4} and 4 in lab
    brain = np.any(img != 0, axis=0)
    assert abs(float(img[0][brain].mean())) < 1e-4
    ae = load_autoencoder_input(tmp_path, cid)
    assert ae.shape == (1, 8, 8, 8) and ae.min() >= 0 and ae.max() <= 1
    # unlabelled cases get autoencoder inputs only
    unl = [c.case_id for c in idx.cases if c.role == "unlabelled"][0]
    assert Plans.ae_path(tmp_path, unl).is_file() and not Plans.image_path(tmp_path, unl).exists()
    t = label_tables(back)
    assert t["n_cases"] == len(back.labelled_ids())
    assert all(0 <= r["retained_pct"] <= 100 for r in t["table2"])
    assert sum(r["original_pct"] for r in t["table1"]) == pytest.approx(100, abs=1e-6)


def test_plans_missing_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="preprocess stage"):
        Plans.load(tmp_path)


def test_percentile_clipping_and_smoothing_are_identical_in_preprocessing_and_inference(tiny_synth, tmp_path):
    """Seed 002's clipping and Gaussian smoothing: a model trained on such inputs sees the same at inference."""
    from brats_mlops.config.schema import AutoencoderPreprocessParams, PreprocessParams
    from brats_mlops.data.io import load_case_images
    from brats_mlops.data.preprocessing import brain_mask, crop_or_pad, crop_start, preprocess_case
    from brats_mlops.data.readers import discover
    from brats_mlops.data.preprocessing import normalise

    mods = ("t1", "t1ce", "t2", "flair")
    case = next(c for c in discover("synthetic", tiny_synth, mods).cases if c.seg is not None)
    cfg = PreprocessParams(crop_size=(16, 16, 16), percentile_rescale=True, percentiles=(2.5, 97.5), gaussian_sigma=1.0,
                           autoencoder=AutoencoderPreprocessParams(spacing=(14.0, 14.0, 14.0), shape=(8, 8, 8)))
    preprocess_case(case, mods, cfg, tmp_path, autoencoder_inputs=False)
    stored = load_preprocessed(tmp_path, case.case_id)[0]
    images, _, _ = load_case_images(case, mods)
    crop = crop_or_pad(images.astype(np.float32), crop_start(images.shape[1:], cfg.crop_size, cfg.crop, brain_mask(images)), cfg.crop_size)
    assert np.allclose(normalise(crop, cfg.percentiles, cfg.gaussian_sigma), stored, atol=1e-5)
    assert not np.allclose(normalise(crop, cfg.percentiles), stored, atol=1e-3)  # without the smoothing they differ
    assert not np.allclose(normalise(crop, None, cfg.gaussian_sigma), stored, atol=1e-3)  # without the clip too
