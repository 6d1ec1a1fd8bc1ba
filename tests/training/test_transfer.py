"""Transfer learning (seed 003): init from a parent checkpoint or registered model, frozen groups really frozen."""

import pytest
import torch

from brats_mlops.config.schema import parse_params
from brats_mlops.errors import UserError
from brats_mlops.models.checkpoint import load_checkpoint
from brats_mlops.models.freeze import apply_freeze, freeze_groups, load_parent
from brats_mlops.models import build_model
from brats_mlops.training.segmentation import SegmentationTrainer
from brats_mlops.workflows.train import resolve_parent
from tests.conftest import TINY_SEG


def _trainer(tiny_preprocessed, ckdir, **kw):
    pre, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 1, **kw}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    parent = resolve_parent(cfg.init_from)  # where the stage starts (workflows/train.py): the trainer never reads the registry
    return SegmentationTrainer(cfg, pre, split, plans.num_classes, plans.modalities, plans.crop_size, plans.healthy_label, ckdir, seed=1,
                               parent=parent)


@pytest.fixture(scope="module")
def parent(tiny_preprocessed, tmp_path_factory):
    d = tmp_path_factory.mktemp("parent")
    _trainer(tiny_preprocessed, d, epochs=1).fit()
    return d / "best.pt"


@pytest.mark.parametrize("mode", ["encoder", "middle", "decoder"])
def test_each_freeze_mode_keeps_its_group_bit_identical_and_trains_the_rest(tiny_preprocessed, parent, tmp_path, mode):
    t = _trainer(tiny_preprocessed, tmp_path, init_from=str(parent), freeze=mode)
    start = {k: v.clone() for k, v in t.model.state_dict().items()}
    assert all(torch.equal(start[k], v) for k, v in load_checkpoint(parent)["model"].items())  # started from the parent
    groups = freeze_groups(t.model)[mode]
    frozen = {n for n, p in t.model.named_parameters() if not p.requires_grad}
    assert frozen and t.freeze_counts["frozen_parameters"] == sum(p.numel() for n, p in t.model.named_parameters() if n in frozen)
    assert all(p.requires_grad for n, p in t.model.named_parameters() if n.startswith("head"))
    assert not any(p is q for g in t.opt.param_groups for p in g["params"] for n, q in t.model.named_parameters() if n in frozen)
    t.fit()
    after = dict(t.model.named_parameters())
    assert all(torch.equal(after[n].detach(), start[n]) for n in frozen), f"{mode}: a frozen parameter changed"
    changed = [n for n in after if n not in frozen and not torch.equal(after[n].detach(), start[n])]
    assert changed and len(groups) > 0
    assert t.model_config["parent"] == {"parent_checkpoint": str(parent)}


def test_a_head_with_another_number_of_outputs_is_reinitialised_and_patterns_must_match():
    parent = build_model("res_se_unet", 4, 4, channels=(4, 8, 8))
    child = build_model("res_se_unet", 4, 3, channels=(4, 8, 8))  # region mode: 3 outputs
    reinit = load_parent(child, parent.state_dict())
    assert reinit == ["head.weight", "head.bias"]
    theirs = parent.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in child.state_dict().items() if not k.startswith("head."))
    with pytest.raises(ValueError, match="match no parameter"):
        apply_freeze(child, "none", ["nope.*"])
    counts = apply_freeze(child, "none", ["enc.0.*"])
    assert counts["frozen_parameters"] == sum(p.numel() for n, p in child.named_parameters() if n.startswith("enc.0."))


def test_init_from_a_missing_file_or_unknown_model_is_one_clear_error(tiny_preprocessed, tmp_path):
    with pytest.raises(UserError, match="no such checkpoint"):
        _trainer(tiny_preprocessed, tmp_path, init_from=str(tmp_path / "nope.pt"))
    with pytest.raises(UserError, match="does not resolve"):
        _trainer(tiny_preprocessed, tmp_path, init_from="models:/brats-segmentation@champion")


def test_init_from_a_registered_model_records_its_version(tiny_preprocessed, parent, tmp_path):
    import mlflow

    from brats_mlops.registry.segmentation import log_and_register

    with mlflow.start_run():
        _, version = log_and_register(parent, {"dice_brats": 0.5}, {})
    t = _trainer(tiny_preprocessed, tmp_path, init_from="models:/brats-segmentation@challenger", freeze="encoder")
    assert t.lineage == {"parent_model": "brats-segmentation", "parent_version": version}
    assert all(torch.equal(a, b) for a, b in zip(t.model.state_dict().values(), load_checkpoint(parent)["model"].values()))
