"""The registered segmentation model applies seed 003's post-processing when trained with postprocess_predictions."""

import numpy as np

from brats_mlops.metrics import postprocess
from brats_mlops.registry import segmentation as seg


def test_registered_model_returns_postprocessed_labels_only_when_asked(monkeypatch):
    raw = np.zeros((30, 30, 30), np.uint8)
    raw[5:20, 5:20, 5:20] = 2
    raw[25:27, 25:27, 25:27] = 3  # dust
    monkeypatch.setattr(seg, "predict_labels", lambda model, images, mc, tta=None: raw)
    py = seg.SegmentationPyfunc()
    py.model, py.models, py.mc = None, [None], {"postprocess_min_voxels": None}
    assert np.array_equal(py.labels(np.zeros((4, 30, 30, 30), np.float32)), raw)
    py.mc = {"postprocess_min_voxels": 50}
    out = py.labels(np.zeros((4, 30, 30, 30), np.float32))
    assert np.array_equal(out, postprocess(raw, 50)) and not (out == 3).any()
    lab = py.predict(None, np.zeros((4, 30, 30, 30), np.float32), {"label_convention": "brats2020"})
    assert set(np.unique(lab)) == {0, 2}
