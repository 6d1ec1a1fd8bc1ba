"""Label schemes (data/labels.py): regions, painting regions back into labels, nnU-Net's numbering."""

import numpy as np
import pytest
import torch

from brats_mlops.data.editions import EDITIONS
from brats_mlops.data.labels import SCHEMES, get_scheme
from brats_mlops.losses import labels_to_regions
from brats_mlops.metrics import postprocess
from brats_mlops.models.outputs import logits_to_labels, regions_to_labels


def test_glioma_keeps_nnunets_brats_setting():
    """The glioma scheme is nnU-Net's Dataset137_BraTS21 region setting, label for label."""
    labels, order, to_nn = get_scheme("glioma").nnunet_labels()
    assert labels == {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": [3]}
    assert order == [1, 2, 3] and to_nn == [0, 2, 1, 3]
    assert get_scheme(None).name == "glioma"


def test_cavity_is_painted_before_enhancing_tumour_and_is_its_own_nnunet_region():
    s = get_scheme("glioma+rc")
    assert s.paint_order() == [(0, 2), (1, 1), (3, 4), (2, 3)]  # WT->ED, TC->NCR, RC, then ET
    labels, order, to_nn = s.nnunet_labels()
    assert list(labels) == ["background", "whole tumor", "tumor core", "resection cavity", "enhancing tumor"]
    assert labels["resection cavity"] == [3] and labels["whole tumor"] == [1, 2, 4] and order == [1, 2, 3, 4]
    assert to_nn == [0, 2, 1, 4, 3]


@pytest.mark.parametrize("name", list(SCHEMES))
def test_regions_paint_back_to_the_same_labels(name):
    s = get_scheme(name)
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.integers(0, s.num_labels, (2, 1, 6, 5, 4)))
    regions = labels_to_regions(y, s.regions)
    assert regions.shape[1] == len(s.regions)
    assert torch.equal(regions_to_labels(regions, (0.5,) * len(s.regions), name), y)
    logits = (regions * 2 - 1) * 10  # confident sigmoid logits of the same regions
    assert torch.equal(logits_to_labels(logits, "region", scheme=name), y[:, 0])


def test_healthy_label_is_the_schemes_next_label_and_is_folded_back():
    s = get_scheme("glioma+rc")
    assert s.healthy_label == 5 and s.label_names(healthy=True)[5] == "healthy brain"
    logits = torch.zeros(1, 6, 2, 2, 2)
    logits[:, 5] = 1  # healthy everywhere -> background; RC (4) stays a label
    logits[0, 4, 0] = 5
    lab = logits_to_labels(logits, "label", healthy_label=True)
    assert set(lab.unique().tolist()) == {0, 4}


def test_every_edition_has_a_scheme_its_labels_map_into():
    for e in EDITIONS.values():
        assert e.trainable, e.name
        assert set(e.labels.to_internal.values()) <= set(e.scheme.labels), e.name
    assert EDITIONS["brats2024-gli"].scheme.name == "glioma+rc" and EDITIONS["brats2024-men-rt"].scheme.name == "gtv"
    assert EDITIONS["brats2024-ped"].scheme.name == "glioma"


def test_postprocess_leaves_the_cavity_out_of_the_tumour_and_removes_its_dust():
    lab = np.zeros((20, 20, 20), np.uint8)
    lab[2:8, 2:8, 2:8] = 2      # edema with a core
    lab[4:6, 4:6, 4:6] = 1
    lab[12:18, 12:18, 12:18] = 4  # a cavity (216 voxels)
    lab[10, 10, 10] = 4           # cavity dust
    out = postprocess(lab, 50, scheme="glioma+rc")
    assert out[10, 10, 10] == 0 and (out[12:18, 12:18, 12:18] == 4).all()
    assert np.array_equal(out[:9, :9, :9], postprocess(lab[:9, :9, :9], 50))  # the tumour as the glioma rule leaves it
    gtv = (lab == 2).astype(np.uint8)
    gtv[15, 15, 15] = 1
    out = postprocess(gtv, 50, scheme="gtv")
    assert out[15, 15, 15] == 0 and set(np.unique(out)) == {0, 1}  # no edema/core invented for MEN-RT


@pytest.mark.parametrize("name", list(SCHEMES))
def test_nnunet_numbering_maps_back(name):
    s = get_scheme(name)
    to_nn = s.nnunet_labels()[2]
    assert sorted(to_nn) == list(range(s.num_labels)) and [s.from_nnunet()[v] for v in to_nn] == list(range(s.num_labels))
