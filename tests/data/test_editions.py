"""Editions as one concept (data/editions.py): every edition reads from a generated folder in its own naming and
labels, is detected from that naming, and a new edition is one entry."""

import dataclasses

import numpy as np
import pytest

from brats_mlops.data import editions
from brats_mlops.data.case import LABEL_MAPS, LABEL_NAMES
from brats_mlops.data.editions import ALIASES, EDITIONS, Edition, detect
from brats_mlops.data.io import load_image
from brats_mlops.data.readers import DatasetLayoutError, discover, read_case_folder
from brats_mlops.errors import UserError
from tests import builders

ALL = list(EDITIONS)
MODS = ("t1", "t1ce", "t2", "flair")


@pytest.mark.parametrize("name", [e for e in ALL if e != "msd"])
def test_every_edition_reads_its_own_generated_layout(tmp_path, name):
    e = EDITIONS[name]
    root = builders.edition_tiny(tmp_path / name, name, n=2)
    mods = tuple(m for m in MODS if m in e.modalities)
    idx = discover(name, root, mods)
    assert idx.source == name and len(idx.cases) == 2
    for c in idx.cases:
        assert c.role == "labelled" and not c.problems, c.problems
        assert set(c.images) == set(mods) and c.seg is not None
        values = set(np.unique(load_image(c.seg, dtype=None)[0]).astype(int).tolist())
        assert values <= set(LABEL_NAMES[name]), (name, values)
        assert c.label_map == (LABEL_MAPS[name] if e.trainable else {})
    if name not in ALIASES and name != "synthetic":
        assert detect(root).name == name  # data.source: auto
    one = read_case_folder(idx.cases[0].folder, mods)
    assert one.case_id == idx.cases[0].case_id and set(one.images) == set(mods)
    assert EDITIONS[one.source].convention == e.convention  # a single folder: the same labels are written back


def test_auto_refuses_a_naming_several_years_share_when_the_folder_names_no_year(tmp_path):
    root = builders.edition_tiny(tmp_path / "gli", "brats2024-gli", n=2)
    (root / "BraTS2024-GLI-TrainingData").rename(root / "GLI-TrainingData")
    with pytest.raises(UserError, match="fits brats2023-gli, brats2024-gli, brats2025-gli.*set data.source"):
        detect(root)
    with pytest.raises(DatasetLayoutError, match="brats2024-gli"):
        discover("auto", root, MODS)


def test_a_wrong_source_names_the_one_the_folder_has(tmp_path):
    root = builders.edition_tiny(tmp_path / "ped", "brats2024-ped", n=2)
    with pytest.raises(DatasetLayoutError, match="not a BraTS 2025 MET layout.*its naming is brats2024-ped's"):
        discover("brats2025-met", root / "BraTS2024-PED-TrainingData", MODS)


def test_the_paediatric_2024_labels_map_to_the_internal_regions():
    """2024 PED: 1 ET, 2 NETC, 3 CC, 4 ED -> internal ET 3, core 1 (NETC and CC: TC = 1-3), ED 2."""
    assert LABEL_MAPS["brats2024-ped"] == {0: 0, 1: 3, 2: 1, 3: 1, 4: 2}
    assert LABEL_MAPS["brats2024-gli"][4] == 4 and EDITIONS["brats2024-gli"].labels.resection_cavity == 4


def test_men_rt_and_the_cavity_preprocess_to_their_own_label_schemes_and_mixed_schemes_stop(tmp_path):
    from brats_mlops.config.schema import PreprocessParams
    from brats_mlops.data.preprocess_run import preprocess_dataset
    from brats_mlops.data.preprocessing import load_labels
    from brats_mlops.errors import StageError

    cfg = PreprocessParams(crop_size=(32, 32, 24), healthy_label=True)
    rt = discover("auto", builders.edition_tiny(tmp_path / "rt", "brats2024-men-rt", n=2), ("t1ce",))
    assert rt.source == "brats2024-men-rt"
    plans = preprocess_dataset(rt.cases, ("t1ce",), cfg, tmp_path / "pre_rt")
    assert plans.label_scheme == "gtv" and plans.label_names == {0: "background", 1: "gross tumour volume", 2: "healthy brain"}
    lab = load_labels(tmp_path / "pre_rt", rt.cases[0].case_id)
    assert set(np.unique(lab)) == {0, 1, 2}
    gli = discover("auto", builders.edition_tiny(tmp_path / "gli", "brats2024-gli", n=2), MODS)
    plans = preprocess_dataset(gli.cases, MODS, cfg, tmp_path / "pre_gli")
    assert plans.label_scheme == "glioma+rc" and plans.num_classes == 6 and plans.label_names[4] == "resection cavity"
    assert all(c.label_counts_original["4"] > 0 for c in plans.cases.values())  # the cavity is a trained label
    with pytest.raises(StageError, match=r"mix label schemes glioma\+rc \(brats2024-gli\), gtv \(brats2024-men-rt\)"):
        preprocess_dataset(gli.cases + rt.cases, ("t1ce",), cfg, tmp_path / "mixed")


def test_adding_an_edition_is_one_entry(tmp_path, monkeypatch):
    """A made-up future task — its own case ids, underscores, two modalities with new suffixes, the 2023 labels —
    added as one entry is read, detected, validated as params, labelled and listed, with nothing else changed."""
    from typer.testing import CliRunner

    from brats_mlops.cli.main import app
    from brats_mlops.config.schema import parse_params

    new = Edition("brats2026-xyz", "BraTS 2026 XYZ", "brats2023", r"BraTS26-XYZ-\d{4}", "brats2023", "2025-GoAT",
                  modalities={"t1ce": "T1Gd", "flair": "FLAIR"}, separator="_", seg_suffix="mask", year=2026, task="XYZ")
    monkeypatch.setitem(EDITIONS, new.name, new)
    root = tmp_path / "xyz" / "BraTS2026-XYZ-Training"
    for j in range(2):
        d = root / f"BraTS26-XYZ-{j:04d}"
        d.mkdir(parents=True)
        import nibabel as nib
        for suffix in ("T1Gd", "FLAIR"):
            nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.eye(4)), str(d / f"{d.name}_{suffix}.nii.gz"))
        seg = np.zeros((8, 8, 8), np.uint8)
        seg[2:4, 2:4, 2:4] = 3
        nib.save(nib.Nifti1Image(seg, np.eye(4)), str(d / f"{d.name}_mask.nii.gz"))
    assert detect(tmp_path / "xyz").name == "brats2026-xyz"
    idx = discover("auto", tmp_path / "xyz", ("t1ce", "flair"))
    assert [c.case_id for c in idx.cases] == ["BraTS26-XYZ-0000", "BraTS26-XYZ-0001"]
    assert all(not c.problems and c.label_map == {0: 0, 1: 1, 2: 2, 3: 3} for c in idx.cases)
    assert parse_params({"data": {"source": "brats2026-xyz"}}).data.source == "brats2026-xyz"
    assert LABEL_NAMES["brats2026-xyz"][3] == "ET"
    r = CliRunner().invoke(app, ["editions"])
    assert r.exit_code == 0 and "brats2026-xyz" in r.output
    # and the real list was not touched by the test
    monkeypatch.undo()
    assert "brats2026-xyz" not in EDITIONS


def test_every_edition_names_an_official_profile_and_a_known_convention():
    from brats_mlops.metrics.profiles import PROFILES

    for e in EDITIONS.values():
        assert e.profile in PROFILES and e.convention in editions.CONVENTIONS, e.name
        assert dataclasses.asdict(e)  # plain data, one entry
