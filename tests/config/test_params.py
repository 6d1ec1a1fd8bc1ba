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
        ({"data": {"source": "brats2021"}}, "data.source", "'synthetic', 'brats2020', 'brats2023', 'brats2024' or 'msd'"),
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
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    dumped = load_params(ROOT / "params.yaml").dump()
    for name, stage in dvc["stages"].items():
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
