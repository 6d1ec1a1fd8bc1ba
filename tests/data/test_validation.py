import json

import numpy as np
import pytest

from brats_mlops.config.schema import ValidateParams
from brats_mlops.data.readers import discover
from brats_mlops.data.validation import render_report, stop_message, validate_dataset, write_outputs
from tests import builders

MODS = ("t1", "t1ce", "t2", "flair")


@pytest.fixture(scope="module")
def result(bad_brats2020):
    idx = discover("brats2020", bad_brats2020, MODS)
    return validate_dataset(idx, ValidateParams(), MODS, num_workers=2)


def test_quarantines_exactly_the_imaging_problems(result):
    q = set(result.quarantined.case_id)
    assert q == set(builders.IMAGING_BAD)
    assert len(result.cases) == 18  # nothing dropped


@pytest.mark.parametrize("case_id", sorted(builders.IMAGING_BAD))
def test_reason_names_check_file_and_problem(result, case_id):
    check, mod = builders.IMAGING_BAD[case_id]
    row = result.cases.set_index("case_id").loc[case_id]
    assert f"[{check}]" in row.reasons
    assert mod in row.reasons
    if check != "modalities_present":
        assert f"{case_id}_{mod}.nii" in row.reasons  # names the file


def test_clinical_problems_keep_imaging_role(result):
    rows = result.cases.set_index("case_id")
    for cid, needle in builders.CLINICAL_ONLY.items():
        assert rows.loc[cid].verdict == "passed"
        assert not rows.loc[cid].survival_cohort
        assert needle in rows.loc[cid].clinical_reasons
    for cid in builders.QUIRKS_OK:
        assert rows.loc[cid].verdict == "passed", rows.loc[cid].reasons
        assert rows.loc[cid].survival_cohort
    assert not rows.loc["BraTS20_Validation_001"].survival_cohort
    assert "Age is empty" not in rows.loc["BraTS20_Training_001"].clinical_reasons  # only the duplicate is wrong


def test_orphan_and_duplicate_reported_by_id(result):
    entries = {e["id"]: e for e in result.entries() if e["kind"] == "csv_row"}
    assert list(entries) == [builders.ORPHAN_ROW]
    assert "no case folder" in entries[builders.ORPHAN_ROW]["reasons"][0]
    assert result.metrics["duplicate_ids"] == 1
    assert result.metrics["failures"]["clinical.row_id_unique"] >= 1


def test_metrics_count_failures_per_expectation(result):
    f = result.metrics["failures"]
    assert f["files_readable"] == 2 and f["modalities_present"] == 1 and f["shapes_agree"] == 1
    assert f["affines_agree"] == 1 and f["finite_voxels"] == 1 and f["labels_in_scheme"] == 1
    assert f["seg_not_empty"] == 1 and f["images_not_empty"] == 1
    assert result.metrics["cases_seen"] == 18 and result.metrics["quarantined"] == 9


def test_outputs_list_every_case(result, tmp_path):
    write_outputs(result, tmp_path / "v", tmp_path / "r.md", tmp_path / "m.json")
    report = (tmp_path / "r.md").read_text()
    for cid in result.cases.case_id:
        assert f"| {cid} |" in report
    assert builders.ORPHAN_ROW in report
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["passed"] + m["quarantined"] == m["cases_seen"]
    gx = json.loads((tmp_path / "v" / "gx_results.json").read_text())
    assert gx["cases"]["success"] is False and gx["clinical"]["success"] is False


def test_stop_message_names_cases_files_and_problems(result):
    msg = stop_message(result)
    for cid in builders.IMAGING_BAD:
        assert cid in msg
    assert "BraTS20_Training_002_t1.nii.gz" in msg and "truncated" in msg


def test_clean_data_passes(tiny_synth):
    idx = discover("synthetic", tiny_synth, MODS)
    res = validate_dataset(idx, ValidateParams(), MODS)
    assert res.metrics["quarantined"] == 0 and res.metrics["passed"] == len(idx.cases)
    assert "passed" in render_report(res)


def test_min_nonzero_fraction_is_a_knob(tiny_synth):
    idx = discover("synthetic", tiny_synth, MODS)
    res = validate_dataset(idx, ValidateParams(min_nonzero_fraction=0.99), MODS)
    assert res.metrics["quarantined"] == len(idx.cases)
    assert np.all(res.cases.reasons.str.contains("images_not_empty"))


def test_outputs_are_the_same_bytes_on_every_run(tiny_synth, tmp_path):
    """GX gives each expectation a random id per run; the written results (a DVC output) must not carry them."""
    idx = discover("synthetic", tiny_synth, MODS)
    for run in ("a", "b"):
        write_outputs(validate_dataset(idx, ValidateParams(), MODS), tmp_path / run, tmp_path / f"{run}.md", tmp_path / f"{run}.json")
    for name in ("gx_results.json", "verdicts.json", "cases.csv", "clinical.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a.md").read_bytes() == (tmp_path / "b.md").read_bytes()
