"""Every edition's evaluate stage scores its own internal labels with its own official profile (what
`evaluate.profile: auto` picks), and a profile that cannot score an edition's labels stops with one line."""

import numpy as np
import pytest

from brats_mlops.data.editions import ALIASES, EDITIONS
from brats_mlops.data.io import load_image
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.data.readers import discover
from brats_mlops.errors import StageError
from brats_mlops.metrics import case_metrics, postprocess
from brats_mlops.metrics.profiles import stage_profile
from tests import builders

EDITIONS_SCORED = [e for e in EDITIONS if e not in ALIASES]


@pytest.mark.parametrize("name", EDITIONS_SCORED)
def test_each_edition_is_scored_with_its_own_profile_on_its_internal_labels(tmp_path, name):
    e = EDITIONS[name]
    root = builders.edition_tiny(tmp_path / name, name, n=2)
    mods = tuple(e.modalities) if e.naming != "msd" else ("t1", "t1ce", "t2", "flair")
    case = discover(name, root, mods).cases[0]
    internal = remap_labels(load_image(case.seg, dtype=None)[0], case.label_map)
    assert set(np.unique(internal)) <= set(e.scheme.labels)
    prof = stage_profile("auto", "auto" if name not in ("synthetic", "msd", "brats2020") else name, root)
    assert prof.name == e.profile
    perfect = case_metrics(internal, internal, (1.0, 1.0, 1.0), profile=prof.name)
    dice = {k: v for k, v in perfect.items() if k.startswith(("dice_", "lesion_dice_")) and "_std" not in k and not np.isnan(v)}
    assert dice and all(v == pytest.approx(1.0) for v in dice.values()), (name, perfect)
    present = {r for r, labs in e.scheme.regions.items() if np.isin(internal, labs).any()}
    assert present, name
    post = postprocess(internal, 0, scheme=e.scheme.name)
    assert np.array_equal(post, internal)  # nothing to remove at 0 voxels: the scheme's labels survive as they are


def test_a_profile_that_cannot_score_the_editions_labels_stops_with_one_line(tmp_path):
    rt = builders.edition_tiny(tmp_path / "rt", "brats2024-men-rt", n=2)
    with pytest.raises(StageError, match=r"2023-GLI cannot score brats2024-men-rt's labels \(background, gross tumour volume\)"):
        stage_profile("2023-GLI", "auto", rt)
    gli = builders.edition_tiny(tmp_path / "gli", "brats2024-gli", n=2)
    with pytest.raises(StageError, match="2025-PED cannot score brats2024-gli's labels.*auto \\(2024-GLI\\)"):
        stage_profile("2025-PED", "auto", gli)
    assert stage_profile("2023-GLI", "auto", gli).name == "2023-GLI"  # the tumour regions, the cavity left out
    assert stage_profile("2025-GLI", "synthetic", tmp_path).name == "2025-GLI"  # glioma labels within 2025-GLI's
