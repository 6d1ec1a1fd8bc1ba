"""The 2-D slice trainer on the one loop: trains, validates, resumes, stops early; whole-case inference keeps geometry."""

import numpy as np
import pytest
import torch

from brats_mlops.config.slices import Slices2DParams
from brats_mlops.data.preprocessing import Plans, save_preprocessed
from brats_mlops.inference.evaluate import class_scores
from brats_mlops.inference.segment import predict_labels
from brats_mlops.models.checkpoint import load_segmentation
from brats_mlops.training.slices import SliceTrainer
from tests.training.helpers import FakeTracker


def _plans() -> Plans:
    return Plans(source="synthetic", modalities=("t1", "t1ce", "t2", "flair"), crop_mode="center", crop_size=(16, 16, 8),
                 normalisation="zscore", percentile_clip=None, healthy_label=False,
                 label_names={0: "bg", 1: "NCR", 2: "ED", 3: "ET"}, raw_label_map={0: 0, 1: 1, 2: 2, 4: 3}, autoencoder={}, cases={})


def _cases(root, n=6):
    rng = np.random.default_rng(0)
    ids = [f"P{i:02d}" for i in range(n)]
    for cid in ids:
        lab = np.zeros((16, 16, 8), np.uint8)
        lab[4:10, 5:11, 2:6] = 2
        lab[6:8, 7:9, 3:5] = 3
        img = rng.normal(size=(4, 16, 16, 8)).astype(np.float32) * 0.1 + (lab > 0) * 2.0
        save_preprocessed(root, cid, images=img, labels=lab)
    return {"train": ids[:4], "val": ids[4:5], "test": ids[5:]}


def _trainer(tmp_path, **over):
    split = _cases(tmp_path / "pre")
    kw = dict(model="seed004_model1", epochs=2, batch_size=8, lr=3e-3, loss={"weighted_dice": 1.0, "ce": 1.0},
              augmentation={"enabled": True, "flip_p": 0.5})
    cfg = Slices2DParams(**{**kw, **over})
    return SliceTrainer(cfg, tmp_path / "pre", split, _plans(), tmp_path / "ck", seed=3)


def test_trains_on_patient_slices_validates_in_3d_and_resumes_without_repeating_epochs(tmp_path):
    t = _trainer(tmp_path)
    assert {r.case_id for r in t.parts["val"]} == {"P04"} and not t.leaked
    tracker = FakeTracker("run-1")
    res = t.fit(tracker)
    assert len(res.history) == 2 and tracker.logged == [0, 1]
    assert {"val_dice_wt", "val_dice_tc", "val_dice_et", "val_dice_composite"} <= set(res.history[-1])
    model, ck = load_segmentation(tmp_path / "ck" / "best.pt")  # rebuilt from the model config alone
    assert ck["model_config"]["kind"] == "slices2d"
    # a longer run of the same config resumes from last.pt (same config hash) only when epochs match: a new trainer
    again = _trainer(tmp_path.joinpath("x"))
    assert again.resumable() is None


def test_slice_mode_leaks_patients_on_purpose(tmp_path):
    t = _trainer(tmp_path, split_mode="slice")
    assert len(t.leaked) >= 3


def test_early_stopping_stops_and_a_stopped_run_is_not_resumed(tmp_path):
    t = _trainer(tmp_path, epochs=6, patience=1)
    t.validate = lambda: {"val_dice_wt": 0.5, "val_dice_tc": 0.5, "val_dice_et": 0.5, "val_dice_composite": 0.5}  # never improves
    res = t.fit()
    assert len(res.history) == 2 and t.should_stop()  # epoch 0 best, epoch 1 no better -> stop
    t2 = _trainer(tmp_path / "y", epochs=6, patience=1)
    t2.ckdir = t.ckdir
    t2.config_hash = t.config_hash
    assert t2.resumable() is None


def test_whole_case_inference_returns_the_original_geometry(tmp_path):
    t = _trainer(tmp_path, epochs=1)
    t.fit()
    model, ck = load_segmentation(tmp_path / "ck" / "best.pt")
    images = np.random.default_rng(1).normal(size=(4, 20, 14, 9)).astype(np.float32) + 5  # larger in x, smaller in y
    pred = predict_labels(model, images, ck["model_config"])
    assert pred.shape == (20, 14, 9) and pred.dtype == np.uint8
    # voxels outside the 16x16x8 centre crop are background
    assert not pred[:2].any() and not pred[-2:].any() and not pred[..., -1].any()
    with pytest.raises(ValueError, match="C=4"):
        predict_labels(model, images[:2], ck["model_config"])


def test_class_scores_by_hand():
    gt = np.array([0, 0, 1, 1, 2, 3, 3, 0])
    pred = np.array([0, 1, 1, 1, 2, 3, 0, 0])
    s = class_scores(pred, gt)
    assert s["dice_c0"] == pytest.approx(2 * 2 / (3 + 3)) and s["iou_c0"] == pytest.approx(2 / 4)
    assert s["dice_c1"] == pytest.approx(2 * 2 / (3 + 2)) and s["dice_c2"] == 1.0
    assert s["dice_c3"] == pytest.approx(2 / 3) and s["iou_c3"] == pytest.approx(0.5)
    assert s["pixel_accuracy"] == pytest.approx(6 / 8)
    assert torch.is_tensor(torch.as_tensor(pred))


def test_a_slice_size_the_network_cannot_pool_is_refused_naming_the_keys(tmp_path):
    from brats_mlops.config.paths import ParamsError
    from brats_mlops.config.schema import parse_params

    _cases(tmp_path / "pre")
    _plans().save(tmp_path / "pre")
    params = parse_params({"paths": {"preprocessed_dir": str(tmp_path / "pre")}, "slices2d": {"model": "resnet18_unet"}})
    with pytest.raises(ParamsError, match=r"slices2d.size is null.*\[16, 16\].*divisible by 32"):
        SliceTrainer.from_params(params, tmp_path / "ck")


def test_a_killed_2d_training_resumes_and_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    from tests.training.helpers import Killed

    whole = _trainer(tmp_path / "a", epochs=3)
    whole.fit()
    first = _trainer(tmp_path / "b", epochs=3)

    def kill(epoch):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        first.fit(FakeTracker("run-b"), on_checkpoint=kill)
    again = _trainer(tmp_path / "b", epochs=3)
    tracker = FakeTracker()
    res = again.fit(tracker)
    assert res.resumed_from == 2 and tracker.started_with == ["run-b"] and tracker.logged == [0, 1, 2]
    for a, b in zip(whole.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
