import pytest

from brats_mlops.data.readers import DatasetLayoutError, discover
from tests import builders


def test_brats2020_quirks(bad_brats2020):
    idx = discover("brats2020", bad_brats2020, ("t1", "t1ce", "t2", "flair"))
    cases = idx.by_id()
    assert len([c for c in idx.cases if c.role == "labelled"]) == 16
    assert len([c for c in idx.cases if c.role == "unlabelled"]) == 2
    c355 = cases["BraTS20_Training_011"]
    assert c355.seg is not None and c355.seg.path.name == "W39_1998.09.19_Segm.nii" and not c355.problems
    c12 = cases["BraTS20_Training_012"]
    assert all(r.path.suffix == ".nii" for r in c12.images.values()) and not c12.problems
    c3 = cases["BraTS20_Training_003"]
    assert "t1ce" not in c3.images and any("missing modality t1ce" in p for p in c3.problems)
    alive = cases["BraTS20_Training_013"].clinical
    assert (alive.survival_days, alive.event) == (361.0, 0)
    assert cases["BraTS20_Training_016"].clinical is None
    assert [r.case_id for r in idx.orphan_rows] == [builders.ORPHAN_ROW]
    assert idx.duplicates == {"BraTS20_Training_001": 2}
    # internal label convention: raw 4 -> 3
    assert c355.label_map == {0: 0, 1: 1, 2: 2, 4: 3}


def test_modality_subset(bad_brats2020):
    idx = discover("brats2020", bad_brats2020, ("flair", "t1ce"))
    c = idx.by_id()["BraTS20_Training_001"]
    assert list(c.images) == ["flair", "t1ce"] or set(c.images) == {"t1ce", "flair"}
    # a case missing a configured modality is a problem, not a crash
    assert idx.by_id()["BraTS20_Training_003"].problems


def test_brats2023(tmp_path):
    root = builders.brats2023_tiny(tmp_path / "b23")
    idx = discover("brats2023", root, ("t1", "t1ce", "t2", "flair"))
    lab = [c for c in idx.cases if c.role == "labelled"]
    unl = [c for c in idx.cases if c.role == "unlabelled"]
    assert len(lab) == 3 and len(unl) == 1
    assert lab[0].images["t1ce"].path.name.endswith("-t1c.nii.gz")
    assert lab[0].label_map[3] == 3 and unl[0].seg is None and not unl[0].problems


def test_msd(tmp_path):
    root = builders.msd_tiny(tmp_path / "Task01_BrainTumour")
    idx = discover("msd", root, ("t1", "t1ce", "t2", "flair"))
    assert [c.case_id for c in idx.cases] == ["BRATS_001", "BRATS_002", "BRATS_003"]  # ._ files ignored
    c = idx.cases[0]
    assert {m: r.channel for m, r in c.images.items()} == {"flair": 0, "t1": 1, "t1ce": 2, "t2": 3}
    assert c.label_map == {0: 0, 1: 2, 2: 1, 3: 3}


@pytest.mark.parametrize("source", ["brats2020", "brats2023", "msd"])
def test_wrong_root_is_a_clear_error(tmp_path, source):
    with pytest.raises(DatasetLayoutError, match=str(tmp_path)):
        discover(source, tmp_path, ("t1",))


def test_unknown_source(tmp_path):
    with pytest.raises(DatasetLayoutError, match="unknown data source 'brats2019'; choose one of auto, synthetic"):
        discover("brats2019", tmp_path, ("t1",))


def test_layout_without_cases_is_a_clear_error(tmp_path):
    (tmp_path / "MICCAI_BraTS2020_TrainingData").mkdir()
    with pytest.raises(DatasetLayoutError, match="no case folders"):
        discover("brats2020", tmp_path, ("t1",))


def test_isal_reader_equals_nibabel_and_bad_files_keep_their_clear_errors(tmp_path):
    """read_nifti's ISA-L path gives nibabel's array, scaling and affine; a NIfTI-2 file falls back to nib.load; a
    truncated .nii.gz is still one error naming the file."""
    import nibabel as nib
    import numpy as np
    import pytest

    from brats_mlops.data.case import ImageRef
    from brats_mlops.data.io import ImageReadError, _igzip, load_image, read_nifti

    assert _igzip is not None  # the pinned dependency is installed
    rng = np.random.default_rng(0)
    arr = rng.integers(-50, 900, (20, 18, 12)).astype(np.int16)
    aff = np.diag([1.0, 1.2, 2.0, 1.0])
    img = nib.Nifti1Image(arr, aff)
    img.header.set_slope_inter(0.5, 3.0)
    p = tmp_path / "a.nii.gz"
    nib.save(img, p)
    fast, ref = read_nifti(p), nib.load(str(p))
    assert isinstance(fast, nib.Nifti1Image)
    assert np.array_equal(np.asanyarray(fast.dataobj), np.asanyarray(ref.dataobj)) and np.allclose(fast.affine, ref.affine)
    two = tmp_path / "b.nii.gz"
    nib.save(nib.Nifti2Image(arr, aff), two)
    assert np.array_equal(np.asanyarray(read_nifti(two).dataobj), arr)
    bad = tmp_path / "c.nii.gz"
    bad.write_bytes(p.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="c.nii.gz"):
        load_image(ImageRef(bad))
