"""User mistakes inside a real project with a real tracking store (registered versions and aliases), so each
reaches the check it is meant to hit — unknown model, version, alias; bad params — and ends in one `error:` line,
a non-zero exit and no traceback. (test_cli_errors.py runs the same commands outside any project.)"""

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from brats_mlops.cli.main import app
from brats_mlops.registry.promotion import promote
from tests import builders
from tests.analysis.test_compare import _fake_ablation
from tests.registry.test_promotion import make_version, seg_metrics

ROOT = Path(__file__).resolve().parents[2]
SEG = "brats-segmentation"


@pytest.fixture()
def project(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    case = next(builders.tiny_synthetic(tmp_path / "data" / "raw" / "synthetic", n_train=2, n_validation=0).rglob("BraTS20_Training_001"))
    v1 = make_version(SEG, seg_metrics(0.7))
    promote(SEG, v1, root=tmp_path)                        # v1 @champion, no @previous
    _fake_ablation(tmp_path, "default", [(0.5, 0.0)])      # one finished evaluation run, group "default"
    monkeypatch.chdir(tmp_path)
    return tmp_path, case


def _one_error(args, expected: str):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code != 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.output
    assert expected in r.output.replace("\n", " "), r.output
    return r.output


def test_unknown_model_version_and_alias(project):
    proj, case = project
    _one_error(["promote", "no-such-model"], "no-such-model")
    _one_error(["models", "no-such-model"], "no-such-model")
    _one_error(["promote", SEG, "99"], "has no version 99")
    _one_error(["rollback", SEG, "--reason", "x"], "no @previous")
    _one_error(["predict", "--case", case, "--out", proj / "o", "--alias", "no-such-alias"], "no-such-alias")
    _one_error(["predict", "--case", case, "--out", proj / "o", "--version", "99"], "99")
    _one_error(["compare", "--group", "no-such-group"], "no-such-group")


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p["segmentation"].update(epochs=-1), "segmentation.epochs"),
    (lambda p: p["segmentation"].update(epochz=3), "segmentation.epochz: unknown key"),
    (lambda p: p["runtime"].update(threads=0), "runtime.threads"),
    (lambda p: p["data"].update(modalities=["t1", "dwi"]), "data.modalities"),
])
def test_bad_params_are_named_by_every_command(project, edit, expected):
    proj, _ = project
    p = yaml.safe_load((proj / "params.yaml").read_text())
    edit(p)
    (proj / "params.yaml").write_text(yaml.safe_dump(p))
    for args in (["check-params"], ["where"], ["models"], ["promote", SEG], ["compare"]):
        _one_error(args, expected)
