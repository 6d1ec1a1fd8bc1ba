import numpy as np
import pytest

from brats_mlops.metrics import HD95_EMPTY, LESION_HD95_MISS, case_metrics, hd95, lesion_wise, postprocess, region_metrics


def sphere(shape, centre, r):
    g = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"))
    return ((g - np.array(centre)[:, None, None, None]) ** 2).sum(0) <= r * r


def cube(shape, lo, size):
    m = np.zeros(shape, bool)
    m[tuple(slice(a, a + s) for a, s in zip(lo, size))] = True
    return m


@pytest.mark.parametrize(
    "pred_empty, gt_empty, dice, hd",
    [(True, True, 1.0, 0.0), (True, False, 0.0, 374.0), (False, True, 0.0, 374.0)],
)
def test_empty_conventions_are_the_official_ones(pred_empty, gt_empty, dice, hd):
    s = sphere((20, 20, 20), (10, 10, 10), 4)
    z = np.zeros_like(s)
    m = region_metrics(z if pred_empty else s, z if gt_empty else s)
    assert m["dice"] == dice and m["hd95"] == hd and HD95_EMPTY == 374.0


def test_hd95_of_a_shifted_cube_is_the_shift_in_mm():
    a = cube((30, 30, 30), (10, 10, 10), (8, 8, 8))
    b = np.roll(a, 2, axis=0)
    assert hd95(b, a) == pytest.approx(2.0, abs=1e-6)
    # anisotropic spacing: the shift is along axis 0, so only its spacing counts
    assert hd95(b, a, (0.9, 1.0, 2.5)) == pytest.approx(1.8, abs=1e-5)
    assert hd95(np.roll(a, 1, axis=2), a, (0.9, 1.0, 2.5)) == pytest.approx(2.5, abs=1e-5)


def test_identical_masks():
    a = sphere((30, 30, 30), (15, 15, 15), 6)
    m = region_metrics(a, a)
    assert m["dice"] == 1.0 and m["iou"] == 1.0 and m["hd95"] == 0.0 and m["sensitivity"] == 1.0 and m["specificity"] == 1.0


def test_lesion_wise_split_prediction_and_far_false_positive():
    shape = (60, 60, 60)
    gt = sphere(shape, (20, 20, 30), 6)
    pred = gt.copy()
    pred[20, :, :] = False  # the lesion predicted in two halves: both touch the GT lesion's dilation
    speck = cube(shape, (50, 50, 50), (2, 2, 2))  # a far 8-voxel false positive (no size threshold on FPs)
    d = 2 * (pred & gt).sum() / (pred.sum() + gt.sum())
    lw = lesion_wise(pred | speck, gt)
    assert (lw["num_tp"], lw["num_fn"], lw["num_fp"]) == (1, 0, 1)
    assert lw["lesion_dice"] == pytest.approx(d / 2)
    h = hd95(pred, gt)
    assert lw["lesion_hd95"] == pytest.approx((h + LESION_HD95_MISS) / 2)
    assert lesion_wise(pred, gt)["lesion_dice"] == pytest.approx(d)


def test_missed_lesion_scores_zero_and_374():
    shape = (40, 40, 40)
    a, b = cube(shape, (2, 2, 2), (5, 5, 5)), cube(shape, (30, 30, 30), (5, 5, 5))  # 125 voxels each, far apart
    lw = lesion_wise(a, a | b)
    assert (lw["num_tp"], lw["num_fn"], lw["num_fp"]) == (1, 1, 0)
    assert lw["lesion_dice"] == pytest.approx(0.5) and lw["lesion_hd95"] == pytest.approx(374.0 / 2)


def test_merge_uses_the_18_neighbourhood_not_26():
    shape = (40, 40, 40)
    a = cube(shape, (5, 5, 5), (5, 5, 5))
    # 6 voxels apart on each axis: the corner-to-corner gap closes under 3 dilations with the 26-neighbourhood
    # (3 + 3 >= 6 in every axis) but not with the 18-neighbourhood (which grows 2 per axis-diagonal step at most)
    b = cube(shape, (16, 16, 16), (5, 5, 5))
    lw = lesion_wise(a, a | b)  # prediction finds only lesion a
    assert (lw["num_tp"], lw["num_fn"]) == (1, 1)  # two lesions: not merged
    c = cube(shape, (16, 5, 5), (5, 5, 5))  # 6 voxels apart on one axis only: dilations (3 + 3) touch -> merged
    lw = lesion_wise(a, a | c)
    assert (lw["num_tp"], lw["num_fn"]) == (1, 0)
    assert lw["lesion_dice"] == pytest.approx(2 * 125 / (125 + 250))


def test_small_lesion_threshold_is_in_cubic_millimetres():
    shape = (40, 40, 40)
    big = cube(shape, (2, 2, 2), (6, 6, 6))
    small = cube(shape, (30, 30, 30), (3, 3, 3))  # 27 voxels
    gt = big | small
    pred = big.copy()
    # 1 mm: 27 mm^3 <= 50 -> dropped, the miss does not count
    assert lesion_wise(pred, gt)["lesion_dice"] == 1.0
    # 1 x 1 x 2 mm: 54 mm^3 > 50 -> kept, the miss counts (Dice 0 / HD95 374 for it)
    lw = lesion_wise(pred, gt, spacing=(1.0, 1.0, 2.0))
    assert lw["lesion_dice"] == pytest.approx(0.5) and lw["num_fn"] == 1


def test_small_gt_lesion_only_and_prediction_touching_it():
    gt = cube((30, 30, 30), (5, 5, 5), (3, 3, 3))  # 27 voxels: left out
    assert lesion_wise(np.zeros_like(gt), gt) == {"lesion_dice": 1.0, "lesion_hd95": 0.0, "num_tp": 0, "num_fn": 0, "num_fp": 0}
    assert lesion_wise(gt, gt)["num_fp"] == 0  # a prediction of a left-out lesion is not a false positive


def test_case_metrics_keys_regions_and_per_label_dice():
    gt = np.zeros((30, 30, 30), np.uint8)
    gt[sphere(gt.shape, (15, 15, 15), 8)] = 2
    gt[sphere(gt.shape, (15, 15, 15), 5)] = 3
    gt[sphere(gt.shape, (15, 15, 15), 2)] = 1
    m = case_metrics(gt, gt)
    for k in ("dice_wt", "dice_tc", "dice_et", "iou_wt", "hd95_et", "lesion_dice_tc", "dice_brats", "sensitivity_et",
              "dice_ncr", "dice_ed", "lesion_num_fp_wt"):
        assert k in m
    assert m["dice_brats"] == 1.0
    pred = gt.copy()
    pred[pred == 3] = 1  # ET called NCR: TC and WT perfect, ET missed
    m = case_metrics(pred, gt)
    assert m["dice_wt"] == 1.0 and m["dice_tc"] == 1.0 and m["dice_et"] == 0.0 and m["hd95_et"] == 374.0
    assert m["dice_brats"] == pytest.approx(2 / 3) and m["dice_ed"] == 1.0
    n1, n3 = (gt == 1).sum(), (gt == 3).sum()
    assert m["dice_ncr"] == pytest.approx(2 * n1 / (n1 + n1 + n3))
    with pytest.raises(ValueError, match="shape"):
        case_metrics(pred[:-1], gt)


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


def test_postprocess_order_relabels_tc_holes_as_edema_and_leaves_open_dust_as_background():
    lab = np.zeros((40, 40, 40), np.uint8)
    wt = sphere(lab.shape, (20, 20, 20), 9)
    lab[wt] = 2
    lab[19:21, 19:21, 19:21] = 1  # an 8-voxel TC speck (NCR) inside the edema: TC dust
    lab[20, 20, 20] = 3  # with one ET voxel in it: ET dust first, then TC dust
    lab[10:12, 20:22, 20:22] = 3  # ET speck on the WT border: removing it opens no enclosed hole
    out = postprocess(lab, min_voxels=50)
    assert (out[19:21, 19:21, 19:21] == 2).all()  # ET dust -> NCR hole, then TC dust -> a hole in WT -> edema
    assert out[10, 20, 20] == 0 or out[10, 20, 20] == 2  # outside the sphere it is background, inside it is edema
    assert ((out == 3).sum(), (out == 1).sum()) == (0, 0)
    assert np.array_equal(postprocess(lab, 50, fill_holes=False)[19:21, 19:21, 19:21], np.zeros((2, 2, 2), np.uint8))
