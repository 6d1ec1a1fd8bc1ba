import json

from typer.testing import CliRunner

from brats_mlops.cli.main import app
from tests import builders

runner = CliRunner()


def test_help_lists_commands():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("validate", "synthesize", "preset", "where"):
        assert cmd in r.output


def test_validate_report_json_done_when(bad_brats2020, tmp_path):
    """Issue 2's 'done when': every case with its verdict; exactly the imaging problems quarantined."""
    out = tmp_path / "verdicts.json"
    r = runner.invoke(app, ["validate", "--source", "brats2020", "--root", str(bad_brats2020), "--report-json", str(out),
                            "--report", str(tmp_path / "r.md")])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    entries = {e["id"]: e for e in data["entries"]}
    cases = {k: v for k, v in entries.items() if v["kind"] == "case"}
    assert len(cases) == 18
    assert {k for k, v in cases.items() if v["verdict"] == "quarantined"} == set(builders.IMAGING_BAD)
    for cid in builders.CLINICAL_ONLY:
        assert entries[cid]["verdict"] == "passed" and entries[cid]["clinical_reasons"]
    assert entries[builders.ORPHAN_ROW]["kind"] == "csv_row"
    assert all(v["reasons"] for v in cases.values() if v["verdict"] == "quarantined")


def test_validate_stop_exits_nonzero_naming_cases(bad_brats2020):
    r = runner.invoke(app, ["validate", "--source", "brats2020", "--root", str(bad_brats2020), "--on-failure", "stop"])
    assert r.exit_code == 1
    assert "BraTS20_Training_010_flair.nii.gz" in r.output


def test_validate_modalities_subset(bad_brats2020, tmp_path):
    out = tmp_path / "v.json"
    r = runner.invoke(app, ["validate", "--root", str(bad_brats2020), "--modalities", "t1ce,flair", "--report-json", str(out)])
    assert r.exit_code == 0, r.output
    q = {e["id"] for e in json.loads(out.read_text())["entries"] if e["verdict"] == "quarantined" and e["kind"] == "case"}
    assert "BraTS20_Training_002" not in q  # only its t1 is broken
    assert {"BraTS20_Training_003", "BraTS20_Training_010"} <= q


def test_validate_bad_arguments_are_clear(tmp_path):
    r = runner.invoke(app, ["validate", "--root", str(tmp_path), "--source", "brats2020"])
    assert r.exit_code == 2 and "not a BraTS 2020 layout" in r.output
    r = runner.invoke(app, ["validate", "--root", str(tmp_path), "--modalities", "t1,dwi"])
    assert r.exit_code == 2 and "dwi" in r.output


def test_synthesize_command(tmp_path):
    r = runner.invoke(app, ["synthesize", "--out", str(tmp_path / "s"), "--n-train", "2", "--n-validation", "0",
                            "--shape", "24", "24", "20", "--spacing", "7", "7", "7", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "s").rglob("*_seg.nii.gz"))) == 2
