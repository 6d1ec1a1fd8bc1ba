"""A sweep of the commands with user mistakes: each ends in one `error:`/usage line and a non-zero exit, never a
traceback (the CLI turns every UserError raised anywhere in the library into one line)."""

import pytest
from typer.testing import CliRunner

from brats_mlops.cli.main import app

OUTSIDE_A_PROJECT = [  # params.yaml is not there: every command that needs the project says so
    ["models"], ["models", "brats-segmentation"], ["promote", "brats-segmentation"], ["rollback", "brats-segmentation", "--reason", "x"],
    ["predict", "--case", "nope", "--out", "o"], ["compare"], ["compare", "--group", "g"], ["where"], ["tune", "survival"],
    ["preset", "list"], ["check-params"], ["metrics"],
]
WRONG_ARGUMENTS = [
    ["validate"], ["validate", "--root", "nope", "--source", "brats2023"], ["validate", "--root", ".", "--modalities", "t1,dwi"],
    ["synthesize", "--out", "x", "--n-train", "1"], ["evaluate", "--pred", "nope", "--gt", "nope"], ["evaluate", "--pred", "a"],
    ["promote", "no-such-model"], ["models", "no-such-model"], ["rollback", "brats-segmentation"], ["tune", "nope"],
    ["preset", "apply", "nope"], ["check-params", "--params", "nope.yaml"], ["predict", "--case", "c"], ["compare", "--group"],
    ["server", "start", "--port", "notaport"], ["no-such-command"],
]


@pytest.mark.parametrize("args", OUTSIDE_A_PROJECT + WRONG_ARGUMENTS, ids=lambda a: " ".join(a))
def test_a_user_mistake_is_one_clear_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, args)
    assert r.exit_code != 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    assert "error" in r.output.lower() or "usage" in r.output.lower() or "not found" in r.output.lower(), r.output


def test_outside_a_project_the_message_says_where_params_yaml_is_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 2 and f"params file not found: {tmp_path}/params.yaml" in r.output.replace("\n", "")
