import numpy as np
import pytest
import torch

from brats_mlops.config.schema import AugmentationParams, SegmentationParams, parse_params
from brats_mlops.data.augment import arrays_from_subject, build_augmentation, subject_from_arrays
from brats_mlops.training.segmentation import SegmentationTrainer, lr_at
from tests.conftest import TINY_SEG
from tests.training.helpers import FakeTracker, Killed


def seg_cfg(**kw):
    return parse_params({"segmentation": {**TINY_SEG, **kw}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation


@pytest.mark.parametrize("warmup, epoch, expected", [(0, 0, 1e-4), (0, 29, 5e-5), (0, 15, None), (2, 0, 5e-5), (2, 1, 1e-4), (2, 2, 1e-4)])
def test_lr_schedule(warmup, epoch, expected):
    cfg = SegmentationParams(epochs=30, lr=1e-4, lr_min=5e-5, warmup_epochs=warmup)
    lr = lr_at(epoch, cfg)
    if expected is None:
        assert 5e-5 < lr < 1e-4
    else:
        assert lr == pytest.approx(expected)


def test_augmentation_keeps_labels_and_masks_background():
    torch.manual_seed(0)
    img = torch.zeros(4, 20, 20, 20)
    img[:, 4:16, 4:16, 4:16] = torch.rand(4, 12, 12, 12) + 0.5
    lab = torch.zeros(1, 20, 20, 20, dtype=torch.long)
    lab[:, 8:12, 8:12, 8:12] = 3
    lab[:, 6:8, 8:12, 8:12] = 1
    tf = build_augmentation(AugmentationParams(affine_p=1.0, flip_p=1.0))
    x, y = arrays_from_subject(tf(subject_from_arrays(img, lab)))
    assert x.shape == img.shape and y.shape == lab.shape
    assert set(torch.unique(y).tolist()) <= {0, 1, 3}
    brain = (x != 0).any(0)
    for c in range(4):
        v = x[c][brain]
        assert abs(float(v.mean())) < 1e-3 and abs(float(v.std(unbiased=False)) - 1) < 1e-2
    assert torch.isfinite(x).all()


def test_no_augmentation_is_masked_zscore_only():
    img = torch.zeros(2, 8, 8, 8)
    img[:, 2:6, 2:6, 2:6] = torch.arange(64, dtype=torch.float32).view(4, 4, 4) + 1
    x, _ = arrays_from_subject(build_augmentation(AugmentationParams(enabled=False))(subject_from_arrays(img, None)))
    inside = img[0] != 0
    ref = (img[0][inside] - img[0][inside].mean()) / img[0][inside].std()  # TorchIO: unbiased std
    assert torch.allclose(x[0][inside], ref, atol=1e-5) and (x[0][~inside] == 0).all()


def _trainer(tiny_preprocessed, ckdir, **kw):
    out, plans, split = tiny_preprocessed
    return SegmentationTrainer(seg_cfg(**kw), out, split, plans.num_classes, plans.modalities, plans.crop_size, False, ckdir, seed=3)


def test_resume_after_kill_matches_uninterrupted_run(tiny_preprocessed, tmp_path):
    ref = _trainer(tiny_preprocessed, tmp_path / "ref")
    ref_res = ref.fit(FakeTracker())
    assert len(ref_res.history) == 3 and (tmp_path / "ref" / "best.pt").is_file()

    # killed at the worst moment: epoch 1 checkpointed but never reported
    tracker = FakeTracker()
    a = _trainer(tiny_preprocessed, tmp_path / "run")

    def kill(epoch):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        a.fit(tracker, on_checkpoint=kill)
    assert tracker.logged == [0]
    b = _trainer(tiny_preprocessed, tmp_path / "run")
    ck = b.resumable()
    assert ck is not None and ck["epoch"] == 2
    b.load(ck)
    res = b.fit(tracker)
    assert sorted(tracker.logged) == [0, 1, 2]  # nothing lost, nothing twice
    assert res.resumed_from == 2
    for h_ref, h in zip(ref_res.history, res.history):
        for k in ("train_loss", "val_dice_composite", "lr"):
            assert h[k] == pytest.approx(h_ref[k], rel=1e-5, abs=1e-7), k
    sa = torch.load(tmp_path / "ref" / "last.pt", weights_only=True)["model"]
    sb = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    assert all(torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6) for k in sa)


def test_finished_or_changed_config_does_not_resume(tiny_preprocessed, tmp_path):
    t = _trainer(tiny_preprocessed, tmp_path, epochs=1)
    t.fit()
    assert _trainer(tiny_preprocessed, tmp_path, epochs=1).resumable() is None  # finished
    assert _trainer(tiny_preprocessed, tmp_path, epochs=2, lr=0.02).resumable() is None  # other config


def test_training_learns_on_tiny_data(tiny_preprocessed, tmp_path):
    t = _trainer(tiny_preprocessed, tmp_path, epochs=6)
    res = t.fit()
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert np.isfinite(losses).all()


def test_region_mode_trains(tiny_preprocessed, tmp_path):
    t = _trainer(tiny_preprocessed, tmp_path, epochs=1, mode="region", loss={"dice": 1.0, "focal": 1.0, "edge": 0.05})
    assert t.model.head.out_channels == 3
    res = t.fit()
    assert 0 <= res.history[0]["val_dice_composite"] <= 1
