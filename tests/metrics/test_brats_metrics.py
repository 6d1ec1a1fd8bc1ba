import numpy as np
import pytest

from brats_mlops.metrics import HD95_ONE_EMPTY, LESION_HD95_MISS, case_metrics, lesion_wise, postprocess, region_metrics


def sphere(shape, centre, r):
    g = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"))
    return ((g - np.array(centre)[:, None, None, None]) ** 2).sum(0) <= r * r


@pytest.mark.parametrize(
    "pred_empty, gt_empty, dice, hd",
    [(True, True, 1.0, 0.0), (True, False, 0.0, HD95_ONE_EMPTY), (False, True, 0.0, HD95_ONE_EMPTY)],
)
def test_empty_conventions(pred_empty, gt_empty, dice, hd):
    s = sphere((20, 20, 20), (10, 10, 10), 4)
    z = np.zeros_like(s)
    m = region_metrics(z if pred_empty else s, z if gt_empty else s)
    assert m["dice"] == dice and m["hd95"] == hd


def test_hd95_of_shifted_spheres_is_the_shift():
    a = sphere((40, 40, 40), (20, 20, 20), 8)
    b = sphere((40, 40, 40), (24, 20, 20), 8)
    m = region_metrics(a, b)
    assert m["hd95"] == pytest.approx(4.0, abs=0.5)
    # spacing scales distances
    assert region_metrics(a, b, spacing=(2.0, 2.0, 2.0))["hd95"] == pytest.approx(2 * m["hd95"], rel=1e-5)
    inter, ua, ub = (a & b).sum(), a.sum(), b.sum()
    assert m["dice"] == pytest.approx(2 * inter / (ua + ub)) and m["iou"] == pytest.approx(inter / (a | b).sum())
    assert m["sensitivity"] == pytest.approx(inter / ub)


def test_identical_spheres():
    a = sphere((30, 30, 30), (15, 15, 15), 6)
    m = region_metrics(a, a)
    assert m == {"dice": 1.0, "iou": 1.0, "hd95": 0.0, "sensitivity": 1.0, "specificity": 1.0}


def test_lesion_wise_split_lesion_and_speck():
    shape = (60, 60, 60)
    gt = sphere(shape, (20, 20, 30), 6)
    # prediction: the lesion split in two halves with a 1-voxel gap (both touch the dilated lesion)
    pred = gt.copy()
    pred[20, :, :] = False
    speck = np.zeros(shape, bool)
    speck[50:52, 50:52, 50:52] = True  # far false positive, 8 voxels
    lw = lesion_wise(pred | speck, gt)
    assert lw["n_lesions"] == 1 and lw["n_fp"] == 1
    d = 2 * (pred & gt).sum() / (pred.sum() + gt.sum())
    assert lw["lesion_dice"] == pytest.approx(d / 2)
    assert lw["lesion_hd95"] == pytest.approx((lw["lesion_hd95"] * 2 - LESION_HD95_MISS) / 1 / 2 + LESION_HD95_MISS / 2)
    # without the speck: one lesion, no FP
    assert lesion_wise(pred, gt)["lesion_dice"] == pytest.approx(d)


def test_lesion_wise_ignores_small_gt_lesions_and_empty_case():
    gt = np.zeros((30, 30, 30), bool)
    gt[5:8, 5:8, 5:8] = True  # 27 voxels <= 50: ignored
    assert lesion_wise(np.zeros_like(gt), gt) == {"lesion_dice": 1.0, "lesion_hd95": 0.0, "n_lesions": 0, "n_fp": 0}
    assert lesion_wise(gt, gt)["n_fp"] == 0  # a prediction of an ignored lesion is not a false positive


def test_case_metrics_keys_and_regions():
    gt = np.zeros((30, 30, 30), np.uint8)
    gt[sphere(gt.shape, (15, 15, 15), 8)] = 2
    gt[sphere(gt.shape, (15, 15, 15), 5)] = 3
    gt[sphere(gt.shape, (15, 15, 15), 2)] = 1
    m = case_metrics(gt, gt)
    for k in ("dice_wt", "dice_tc", "dice_et", "iou_wt", "hd95_et", "lesion_dice_tc", "dice_brats", "sensitivity_et"):
        assert k in m
    assert m["dice_brats"] == 1.0
    pred = gt.copy()
    pred[pred == 3] = 1  # ET called NCR: TC and WT perfect, ET missed
    m = case_metrics(pred, gt)
    assert m["dice_wt"] == 1.0 and m["dice_tc"] == 1.0 and m["dice_et"] == 0.0 and m["hd95_et"] == HD95_ONE_EMPTY
    assert m["dice_brats"] == pytest.approx(2 / 3)


def test_postprocess_removes_dust_and_fills_holes():
    lab = np.zeros((40, 40, 40), np.uint8)
    core = sphere(lab.shape, (20, 20, 20), 8)
    lab[core] = 1
    lab[19:21, 19:21, 19:21] = 3  # 8-voxel ET speck inside the core
    lab[2:4, 2:4, 2:4] = 2  # 8-voxel WT speck far away
    out = postprocess(lab, min_voxels=50)
    assert (out[19:21, 19:21, 19:21] == 1).all()  # hole left by the ET speck becomes NCR
    assert (out[2:4, 2:4, 2:4] == 0).all()
    assert (out[core] > 0).all()
