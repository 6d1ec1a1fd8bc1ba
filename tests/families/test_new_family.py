"""Adding a segmentation family is one new module in ``brats_mlops/families/`` and one params section: a toy 3-D family
(a two-layer convolution) dropped into the package goes through train → evaluate → register → promote → predict →
compare, and shows up in ``brats-mlops families``, without a change to any other file."""

import json
import textwrap

import numpy as np
import pytest
import yaml

TOY = textwrap.dedent('''
    """A toy 3-D family: two convolutions, trained by the platform's 3-D trainer, predicted by its sliding window."""

    from brats_mlops.config.segmentation import SegmentationParams
    from brats_mlops.families.volumetric import VolumetricFamily


    class ToyParams(SegmentationParams):
        model: str = "two_convs"
        channels: tuple[int, ...] = (6,)


    class Toy(VolumetricFamily):
        key = kind = section = "toy"
        title = "Toy"
        params_model = ToyParams

        def build(self, mc):
            from torch import nn

            return nn.Sequential(nn.Conv3d(mc["in_channels"], mc["channels"][0], 3, padding=1), nn.ReLU(),
                                 nn.Conv3d(mc["channels"][0], mc["out_channels"], 1))


    FAMILY = Toy()
''')


@pytest.fixture
def toy_project(tmp_path, monkeypatch, tiny_synth, tiny_preprocessed):
    import brats_mlops.families as fams

    plugin = tmp_path / "new_family_module"
    plugin.mkdir()
    (plugin / "toy.py").write_text(TOY)
    monkeypatch.setattr(fams, "__path__", [*fams.__path__, str(plugin)])  # as if toy.py sat in src/brats_mlops/families/
    fams.reload()
    pre, _, split = tiny_preprocessed
    proj = tmp_path / "proj"
    (proj / "splits").mkdir(parents=True)
    (proj / "splits" / "segmentation.json").write_text(json.dumps(split))
    params = {"data": {"source": "synthetic", "root": str(tiny_synth)},
              "paths": {f"{k}_dir": str(proj / k) for k in ("metrics", "reports", "models", "plots", "validation")}
              | {"preprocessed_dir": str(pre), "splits_dir": str(proj / "splits")},
              "runtime": {"threads": 1},
              # the family's params section: nothing else in params.yaml knows about it
              "toy": {"channels": [6], "epochs": 2, "lr": 0.01, "lr_min": 0.001, "batch_size": 2, "grad_accum": 1,
                      "num_workers": 0, "ablation_group": "toy-vs-none", "loss": {"dice": 1.0, "ce_beta": 0.5}}}
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    (proj / "metrics").mkdir()  # the validate stage's verdict, which the promotion gate "data" reads (not run here)
    (proj / "metrics" / "data_validation.json").write_text(json.dumps({"cases_seen": 8, "passed": 8, "quarantined": 0,
                                                                      "source": "synthetic"}))
    monkeypatch.chdir(proj)
    yield proj
    monkeypatch.undo()
    fams.reload()


def test_a_new_family_module_trains_evaluates_registers_promotes_predicts_and_compares(toy_project, tiny_synth):
    from brats_mlops.analysis.compare import load_group
    from brats_mlops.config import load_params
    from brats_mlops.families import families, get_family
    from brats_mlops.registry.checks import sample_case_check
    from brats_mlops.registry.predict import model_uri, predict_case
    from brats_mlops.registry.promotion import promote, specs
    from brats_mlops.workflows.evaluate import evaluate_family
    from brats_mlops.workflows.train import train_family

    toy = get_family("toy")
    assert toy in families() and toy.registered_name == "brats-segmentation-toy" and "brats-segmentation-toy" in specs()
    params = load_params()
    assert params.toy.epochs == 2 and params.toy.model == "two_convs"   # its section validates like the built-in ones

    train_family(params, toy)
    ck = toy_project / "models" / "segmentation_toy"
    assert (ck / "best.pt").is_file() and (toy_project / "metrics" / "segmentation_toy_train.json").is_file()

    summary = evaluate_family(params, toy)
    assert 0 <= summary["dice_brats"] <= 1 and summary["n_cases"] >= 1
    assert json.loads((toy_project / "metrics" / "segmentation_toy.json").read_text()) == summary

    case = next(p for p in sorted(tiny_synth.rglob("BraTS20_Training_*")) if p.is_dir())
    entry = promote("brats-segmentation-toy", "1", sample_check=sample_case_check(case))
    assert entry["version"] == "1"

    out = predict_case(case, toy_project / "pred", model_uri("brats-segmentation-toy", "champion"))
    seg = toy_project / "pred" / f"{case.name}_seg.nii.gz"
    assert seg.is_file() and set(out["volumes_cm3"]) == {"wt", "tc", "et"}
    import nibabel as nib

    assert set(np.unique(np.asarray(nib.load(seg).dataobj)).tolist()) <= {0, 1, 2, 4}   # BraTS 2020 convention

    runs = load_group("toy-vs-none")
    assert [r.params["network"] for r in runs] == ["Toy two_convs"]


def test_cli_lists_the_families_and_refuses_an_unknown_one(toy_project):
    from typer.testing import CliRunner

    from brats_mlops.cli.main import app

    r = CliRunner().invoke(app, ["families"])
    assert r.exit_code == 0 and "toy" in r.stdout and "brats-segmentation-toy" in r.stdout, r.stdout
    r = CliRunner().invoke(app, ["predict", "--case", ".", "--out", "x", "--model", "mednext"])
    assert r.exit_code != 0 and "unknown model family 'mednext'" in r.stdout + r.stderr
