import numpy as np
import pytest

from brats_mlops.data.preprocessing import load_labels, load_preprocessed, save_preprocessed
from brats_mlops.data.slices import (SliceDataset, index_slices, normalise_volume, patients_shared, slice_split,
                                     stack_slices)


def _write_cases(root, n=6, shape=(4, 12, 10, 8)):
    rng = np.random.default_rng(0)
    ids = [f"P{i:02d}" for i in range(n)]
    for i, cid in enumerate(ids):
        img = rng.normal(size=shape).astype(np.float32) * (i + 1)
        lab = np.zeros(shape[1:], np.uint8)
        lab[3:6, 3:6, 2:5] = 1 + i % 3  # tumour in slices z = 2, 3, 4
        save_preprocessed(root, cid, images=img, labels=lab)
    return ids


def test_slices_keep_patient_ids_and_the_patient_split_never_mixes_patients(tmp_path):
    ids = _write_cases(tmp_path)
    refs = index_slices(tmp_path, ids)
    assert len(refs) == 6 * 8 and [r.z for r in refs if r.case_id == "P00" and r.tumour] == [2, 3, 4]
    split = {"train": ids[:4], "val": ids[4:5], "test": ids[5:]}
    parts = slice_split(split, refs, "patient")
    assert {r.case_id for r in parts["test"]} == {"P05"} and len(parts["train"]) == 4 * 8
    assert patients_shared(parts) == set()
    leaky = slice_split(split, refs, "slice", seed=1)  # seed 001's split by slice: on purpose, patients leak
    assert sum(len(v) for v in leaky.values()) == len(refs) and len(patients_shared(leaky)) >= 3
    assert len(leaky["train"]) == round(len(refs) * 4 / 6)


def test_dataset_reads_one_slice_resized_normalised_and_drops_empty_ones(tmp_path):
    ids = _write_cases(tmp_path)
    refs = index_slices(tmp_path, ids[:2])
    ds = SliceDataset(tmp_path, refs, size=16, normalisation="minmax01", drop_empty=True)
    assert len(ds) == 2 * 3
    item = ds[0]
    assert item["image"].shape == (4, 16, 16) and item["label"].shape == (16, 16) and item["case_id"] == "P00"
    assert set(np.unique(item["label"].numpy())) <= {0, 1} and item["label"].dtype.is_floating_point is False
    vol = normalise_volume(load_preprocessed(tmp_path, "P01")[0], "minmax01")
    assert np.allclose(vol.reshape(4, -1).min(1), 0) and np.allclose(vol.reshape(4, -1).max(1), 1)  # per channel, per subject
    raw = SliceDataset(tmp_path, refs)[3]
    assert np.allclose(raw["image"].numpy(), load_preprocessed(tmp_path, "P00")[0][..., 3])


def test_stacking_slices_back_gives_the_original_geometry(tmp_path):
    ids = _write_cases(tmp_path, n=1)
    lab = load_labels(tmp_path, ids[0])
    ds = SliceDataset(tmp_path, index_slices(tmp_path, ids), size=24)  # resized 12x10 -> 24x24
    vol = stack_slices({item["z"]: item["label"].numpy() for item in ds}, lab.shape)
    assert vol.shape == lab.shape and np.array_equal(vol, lab)
    with pytest.raises(ValueError, match="patient' or 'slice"):
        slice_split({"train": ids}, [], "case")
