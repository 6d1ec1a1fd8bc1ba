from pathlib import Path

import pytest
import yaml

from brats_mlops.config.presets import apply_preset, list_presets
from brats_mlops.config.schema import ParamsError, load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]


def test_repository_params_are_valid():
    p = load_params(ROOT / "params.yaml")
    assert p.data.source == "synthetic" and p.validate_.on_failure == "quarantine"


@pytest.mark.parametrize(
    "raw, key, hint",
    [
        ({"data": {"source": "brats2019"}}, "data.source", "choose auto or one of synthetic, brats2020, brats2021"),
        ({"data": {"modalities": ["t1", "dwi"]}}, "data.modalities", "'t1', 't1ce', 't2' or 'flair'"),
        ({"validate": {"on_failure": "ignore"}}, "validate.on_failure", "'quarantine' or 'stop'"),
        ({"preprocess": {"crop_size": [64, 64]}}, "preprocess.crop_size", "needs 3"),
        ({"preprocess": {"crop": "random"}}, "preprocess.crop", "'center' or 'foreground'"),
        ({"preprocess": {"cropsize": [1, 2, 3]}}, "preprocess.cropsize", "unknown key"),
        ({"split": {"survival": {"target": "cox"}}}, "split.survival.target", "'binary', 'challenge3' or 'quantile'"),
        ({"preprocess": {"autoencoder": {"modality": "t2"}}, "data": {"modalities": ["t1ce", "flair"]}}, "autoencoder.modality", "data.modalities"),
    ],
)
def test_errors_name_key_and_allowed_values(raw, key, hint):
    with pytest.raises(ParamsError) as e:
        parse_params(raw)
    assert key in str(e.value) and hint in str(e.value)


def test_modalities_keep_canonical_order():
    assert parse_params({"data": {"modalities": ["flair", "t1ce"]}}).data.modalities == ("t1ce", "flair")


def test_every_dvc_params_key_exists():
    """dvc.yaml must only declare params the schema knows (and so are validated and logged)."""
    stages = {**yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"], **yaml.safe_load((ROOT / "slices" / "dvc.yaml").read_text())["stages"]}
    dumped = load_params(ROOT / "params.yaml").dump()
    for name, stage in stages.items():
        for key in stage.get("params", []):
            node = dumped
            for part in key.split("."):
                assert part in node, f"stage {name}: params key {key} not in the schema"
                node = node[part]


def test_preset_apply_keeps_comments(tmp_path):
    (tmp_path / "params" / "presets").mkdir(parents=True)
    for f in ("params.yaml", "params/presets/paper.yaml"):
        (tmp_path / f).write_text((ROOT / f).read_text())
    assert list_presets(tmp_path) == ["paper"]
    apply_preset(tmp_path, "paper")
    text = (tmp_path / "params.yaml").read_text()
    p = load_params(tmp_path / "params.yaml")
    assert p.preprocess.crop_size == (128, 128, 128) and p.preprocess.autoencoder.shape == (112, 112, 96)
    assert p.data.source == "brats2020"
    assert "# quarantine: exclude failing cases" in text  # comments survive
    with pytest.raises(ParamsError, match="valid presets: \\['paper'\\]"):
        apply_preset(tmp_path, "gpu")


def test_seed_presets_set_the_seeds_settings_and_check_against_the_2d_networks(tmp_path):
    from brats_mlops.config.slices import slices_problem

    (tmp_path / "params" / "presets").mkdir(parents=True)
    for f in ("params.yaml", "params/presets/seed001.yaml", "params/presets/seed004.yaml"):
        (tmp_path / f).write_text((ROOT / f).read_text())
    base = (tmp_path / "params.yaml").read_text()
    apply_preset(tmp_path, "seed001")
    p = load_params(tmp_path / "params.yaml")
    s, v = p.slices2d, p.survival2d
    assert (p.data.source, s.model, s.size, s.lr, s.schedule, s.step_size, s.step_gamma, s.batch_size, s.patience) == \
        ("brats2020", "resnet18_unet", 256, 1e-4, "step", 10, 0.1, 120, 3)
    assert s.loss.weighted_dice == 1 and s.loss.class_weights == (0, 1, 1, 1) and s.loss.focal == 0
    assert (v.size, v.n_bins, v.lr, v.dropout, v.epochs, v.patience, v.slice_stride) == (224, 3, 1e-4, 0.3, 50, 3, 1)
    assert (p.split.val_fraction, p.split.test_fraction) == (0.1, 0.1) and s.split_mode == "patient" and v.leakage_ablation
    assert slices_problem(s, p.preprocess.crop_size, p.preprocess.healthy_label) is None
    (tmp_path / "params.yaml").write_text(base)
    apply_preset(tmp_path, "seed004")
    p = load_params(tmp_path / "params.yaml")
    s = p.slices2d
    assert (p.data.source, p.preprocess.crop_size, s.model, s.normalisation, s.lr, s.schedule, s.exp_gamma) == \
        ("msd", (128, 128, 128), "seed004_model1", "minmax01", 5e-4, "exponential", 0.985)
    assert (s.loss.focal, s.loss.weighted_dice, s.loss.focal_gamma, s.loss.focal_alpha) == (1, 0, 2, 0.25)
    assert (p.split.val_fraction, p.split.test_fraction) == (0.15, 0.15) and p.survival2d.enabled is False
    assert slices_problem(s, p.preprocess.crop_size, p.preprocess.healthy_label) is None


@pytest.mark.parametrize("name, expected", [
    ("seed002", {"data.source": "brats2024-gli", "evaluate.profile": "2024-GLI", "preprocess.percentile_rescale": True, "preprocess.percentiles": [2.5, 97.5],
                 "segmentation.model": "unet3d", "segmentation.channels": [32, 64, 128], "segmentation.loss.ce_beta": 1.0,
                 "segmentation.loss.dice": 0.0}),
    ("seed003", {"data.source": "brats2023-gli", "evaluate.profile": "auto", "segmentation.mode": "region", "segmentation.region_thresholds": [0.45, 0.4, 0.45],
                 "segmentation.loss.focal": 1.0, "segmentation.loss.edge": 0.005, "segmentation.lr": 6e-5,
                 "segmentation.weight_decay": 0.0, "segmentation.postprocess_predictions": True, "split.val_fraction": 0.1,
                 "segmentation.optimizer": "adam", "segmentation.schedule": "exponential", "segmentation.select_on": "dice_hd95"}),
    ("scale", {"synthetic.n_train": 1251, "synthetic.n_validation": 219, "synthetic.shape": [240, 240, 155],
               "synthetic.spacing": [1.0, 1.0, 1.0], "preprocess.crop_size": [128, 128, 128]}),
])
def test_seed_presets_002_003_validate_and_set_the_seeds_values(tmp_path, name, expected):
    (tmp_path / "params" / "presets").mkdir(parents=True)
    for f in ("params.yaml", f"params/presets/{name}.yaml"):
        (tmp_path / f).write_text((ROOT / f).read_text())
    apply_preset(tmp_path, name)
    dumped = load_params(tmp_path / "params.yaml").dump()
    for key, value in expected.items():
        node = dumped
        for part in key.split("."):
            node = node[part]
        assert node == value, key


def test_paper_preset_matches_the_paper_point_by_point(tmp_path):
    import torchio as tio

    from brats_mlops.data.augment import build_augmentation
    from brats_mlops.models.autoencoder import autoencoder_config, build_autoencoder

    (tmp_path / "params" / "presets").mkdir(parents=True)
    for f in ("params.yaml", "params/presets/paper.yaml"):
        (tmp_path / f).write_text((ROOT / f).read_text())
    apply_preset(tmp_path, "paper")
    p = load_params(tmp_path / "params.yaml")
    s = p.survival
    assert s.grid == "paper" and "segmentation_volumes" not in s.feature_sets and "bottleneck" not in s.feature_sets
    assert 1 + 2 * (len(s.feature_sets) - 1) == 19  # Table 7: age alone + every latent set without and with age
    aug = p.segmentation.augmentation
    assert aug.isotropic and aug.bias_field_p == 0.2
    affine = next(t for t in build_augmentation(aug).transforms if isinstance(t, tio.RandomAffine))
    assert affine.isotropic
    assert p.autoencoder.use_convtranspose
    ae = build_autoencoder(autoencoder_config(p.autoencoder.model_copy(update={"channels": (8, 8)}), (16, 16, 16), "t1ce"))
    assert any(type(m).__name__ == "ConvTranspose3d" for m in ae.decoder.modules())
    default = load_params(ROOT / "params.yaml")
    assert not default.autoencoder.use_convtranspose and not default.segmentation.augmentation.isotropic
