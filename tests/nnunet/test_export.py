"""The export to nnU-Net's raw format: nnU-Net's own dataset integrity check accepts it, labels map to nnU-Net's
region-based convention, test cases stay out, and splits_final.json holds the platform's folds."""

import json

import nibabel as nib
import numpy as np
import pytest

from brats_mlops.config.nnunet import NnunetParams
from brats_mlops.config.paths import PathsParams
from brats_mlops.data.io import load_image
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import segmentation_split, split_folds
from brats_mlops.errors import UserError
from brats_mlops.nnunet import env
from brats_mlops.nnunet.export import export_dataset, write_splits
from tests.builders import brats2023_tiny, msd_tiny

MODS = ("t1", "t1ce", "t2", "flair")


def _paths(tmp_path):
    return PathsParams(nnunet_dir=str(tmp_path / "nnunet"), models_dir=str(tmp_path / "models"))


def _export(tmp_path, monkeypatch, source, root, mods):
    """The platform's split of the dataset at ``root`` exported to nnU-Net's raw format: (cases, split, folder)."""
    cases = {c.case_id: c for c in discover(source, root, mods).cases}
    split = segmentation_split(list(cases), 0.2, 0, 0.2)
    paths, cfg = _paths(tmp_path), NnunetParams()
    for k, v in env.settings(paths, cfg).items():
        monkeypatch.setenv(k, v)
    return cases, split, export_dataset(cases, split_folds(split), mods, paths, cfg)


@pytest.mark.parametrize("layout", ["brats2023", "msd"])
def test_export_passes_nnunets_integrity_check(tmp_path, monkeypatch, layout):
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    root = brats2023_tiny(tmp_path / "raw", n=5, with_validation=False) if layout == "brats2023" else msd_tiny(tmp_path / "raw", n=5)
    cases, split, out = _export(tmp_path, monkeypatch, layout, root, MODS)

    ds = json.loads((out / "dataset.json").read_text())
    assert ds["labels"]["whole tumor"] == [1, 2, 3] and ds["regions_class_order"] == [1, 2, 3]
    assert ds["numTraining"] == len(split["train"]) + len(split["val"])
    exported = sorted(p.name.removesuffix(".nii.gz") for p in (out / "labelsTr").iterdir())
    assert exported == sorted(split["train"] + split["val"])
    assert not set(exported) & set(split["test"])  # held-out cases never reach nnU-Net's fingerprint
    verify_dataset_integrity(str(out), num_processes=1)  # nnU-Net's own check raises on any problem

    internals = {c: remap_labels(load_image(cases[c].seg, dtype=None)[0], cases[c].label_map) for c in exported}
    cid = next(c for c, lab in internals.items() if set(np.unique(lab).tolist()) >= {1, 2, 3})  # a case with every label
    internal = internals[cid]
    nn = np.asarray(nib.load(str(out / "labelsTr" / f"{cid}.nii.gz")).dataobj)
    # nnU-Net's regions: WT = {1,2,3}, TC = {2,3}, ET = {3}; internal WT = {1,2,3}, TC = {1,3}, ET = {3}
    assert np.array_equal(nn > 0, internal > 0)
    assert np.array_equal(nn >= 2, np.isin(internal, (1, 3)))
    assert np.array_equal(nn == 3, internal == 3)
    first = load_image(cases[cid].images["t2"], dtype=None)[0]
    assert np.array_equal(np.asarray(nib.load(str(out / "imagesTr" / f"{cid}_0002.nii.gz")).dataobj), first)


@pytest.mark.parametrize("edition, mods", [("brats2024-gli", MODS), ("brats2024-men-rt", ("t1ce",))])
def test_the_editions_regions_export_to_nnunet_and_map_back(tmp_path, monkeypatch, edition, mods):
    """2024 GLI: the resection cavity is a region of its own; MEN-RT: one GTV region. nnU-Net accepts both, and the
    labels it would predict map back to the same internal labels (nnunet/predict.py's table)."""
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    from brats_mlops.data.case import scheme_of
    from tests.builders import edition_tiny

    cases, split, out = _export(tmp_path, monkeypatch, edition, edition_tiny(tmp_path / "raw", edition, n=5), mods)
    ds = json.loads((out / "dataset.json").read_text())
    scheme = scheme_of(edition)
    assert ds["label_scheme"] == scheme.name and len(ds["regions_class_order"]) == len(scheme.regions)
    if edition == "brats2024-gli":
        assert ds["labels"]["resection cavity"] == [3] and ds["labels"]["enhancing tumor"] == [4]
    verify_dataset_integrity(str(out), num_processes=1)
    back = np.asarray(scheme.from_nnunet(), np.uint8)
    for cid in split["train"]:
        internal = remap_labels(load_image(cases[cid].seg, dtype=None)[0], cases[cid].label_map)
        nn = np.asarray(nib.load(str(out / "labelsTr" / f"{cid}.nii.gz")).dataobj)
        assert np.array_equal(back[nn], internal)
    if edition == "brats2024-gli":
        assert any((np.asarray(nib.load(str(f)).dataobj) == 3).any() for f in (out / "labelsTr").iterdir())  # RC exported


def test_splits_final_holds_the_platforms_folds(tmp_path):
    split = segmentation_split([f"c{i:02d}" for i in range(12)], 0.2, 3, 0.2, folds=3)
    folds = split_folds(split)
    assert len(folds) == 3 and (split["train"], split["val"]) == (folds[0]["train"], folds[0]["val"])
    vals = [c for f in folds for c in f["val"]]
    assert sorted(vals) == sorted(set(vals)) and not set(vals) & set(split["test"])
    assert all(not set(f["train"]) & set(f["val"]) for f in folds)
    path = write_splits(folds, tmp_path)
    assert json.loads(path.read_text()) == folds


def test_too_many_folds_is_a_clear_error():
    with pytest.raises(UserError, match="segmentation.folds=5 needs at least 10"):
        segmentation_split([f"c{i}" for i in range(8)], 0.2, 0, 0.2, folds=5)


def test_export_names_split_cases_the_dataset_lacks(tmp_path):
    root = brats2023_tiny(tmp_path / "raw", n=3, with_validation=False)
    cases = {c.case_id: c for c in discover("brats2023", root, MODS).cases}
    folds = [{"train": sorted(cases)[:2], "val": ["BraTS-GLI-99999-000"]}]
    with pytest.raises(UserError, match="BraTS-GLI-99999-000"):
        export_dataset(cases, folds, MODS, _paths(tmp_path), NnunetParams())
