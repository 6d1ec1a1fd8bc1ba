import pickle

import pytest
import torch

from brats_mlops.models.checkpoint import RUN_FILE, atomic_save, build_segmentation, checkpoint_run_id, load_checkpoint, load_segmentation

MC = {"model": "unet3d", "in_channels": 2, "out_channels": 4, "channels": [4, 8], "mode": "label"}


class NotAllowed:  # anything that is not tensors / numbers / strings / containers
    pass


def test_segmentation_checkpoint_round_trip_in_eval_mode(tmp_path):
    torch.manual_seed(0)
    net = build_segmentation(MC)
    atomic_save({"model": net.state_dict(), "model_config": MC, "epoch": 3}, tmp_path / "last.pt")
    (tmp_path / RUN_FILE).write_text('{"run_id": "abc"}')  # the run id lives beside the checkpoints, not in them
    assert not (tmp_path / "last.pt.tmp").exists()
    model, ck = load_segmentation(tmp_path / "last.pt")
    assert not model.training and ck["epoch"] == 3 and checkpoint_run_id(tmp_path) == "abc"
    x = torch.randn(1, 2, 8, 8, 8)
    net.eval()
    assert torch.equal(model(x), net(x))


def test_loading_is_weights_only_and_names_a_missing_file(tmp_path):
    torch.save({"model": {}, "payload": NotAllowed()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="nothing.pt does not exist; train the model first"):
        load_checkpoint(tmp_path / "nothing.pt")
    assert checkpoint_run_id(tmp_path / "no_dir") is None
