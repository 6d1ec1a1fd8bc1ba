"""Nothing lost at scale (issue 26): a case that fails in the middle is quarantined with its reason and the rest go on;
a full disk is one clear error that leaves no output a later run could take for complete; the next run resumes
without redoing finished cases and gives the same arrays and plans as an uninterrupted run."""

import errno
import json
import shutil

import numpy as np
import pytest

from brats_mlops.config.schema import AutoencoderPreprocessParams, PreprocessParams
from brats_mlops.data import arrays, preprocess_run
from brats_mlops.data.arrays import SUFFIX
from brats_mlops.data.preprocess_run import DiskFull, preprocess_dataset, staging_dir
from brats_mlops.data.preprocessing import Plans
from brats_mlops.data.readers import discover

MODS = ("t1", "t1ce", "t2", "flair")
CFG = PreprocessParams(crop_size=(16, 16, 16), autoencoder=AutoencoderPreprocessParams(spacing=(14.0, 14.0, 14.0), shape=(8, 8, 8)))


def _arrays(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob(f"*{SUFFIX}"))}


def test_a_failing_case_is_quarantined_with_its_reason_and_the_others_are_done(tiny_synth, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_synth, data)
    idx = discover("synthetic", data, MODS)
    bad = [c for c in idx.cases if c.role == "labelled"][1]
    bad.images["t2"].path.write_bytes(b"\x1f\x8b not really gzip")   # passes discovery, fails when read
    plans = preprocess_dataset(idx.cases, MODS, CFG, tmp_path / "pre", num_workers=2)
    assert bad.case_id not in plans.cases and len(plans.cases) == len(idx.cases) - 1
    assert list(plans.quarantined) == [bad.case_id] and "Error" in plans.quarantined[bad.case_id]
    assert json.loads((tmp_path / "pre" / "plans.json").read_text())["quarantined"] == plans.quarantined
    assert not Plans.image_path(tmp_path / "pre", bad.case_id).exists()
    assert not staging_dir(tmp_path / "pre").exists()                    # removed once the output is complete


def test_disk_full_is_one_line_leaves_no_complete_looking_output_and_the_rerun_resumes(tiny_synth, tmp_path, monkeypatch):
    idx = discover("synthetic", tiny_synth, MODS)
    clean = preprocess_dataset(idx.cases, MODS, CFG, tmp_path / "clean")
    out = tmp_path / "pre"
    real_write, calls = arrays._write, []

    def write(path, data):                  # the device fills up while the 3rd case writes its arrays
        calls.append(str(path))
        if len({p.split("/")[-1] for p in calls}) > 2 * 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(arrays, "_write", write)
    with pytest.raises(DiskFull, match=r"disk full: case \S+: no space left on the device writing .*cases are finished and "
                                        r"kept in .*free space and rerun"):
        preprocess_dataset(idx.cases, MODS, CFG, out)
    assert not (out / "plans.json").exists() and not any(out.rglob(f"*{SUFFIX}"))   # nothing that looks like a result
    work = staging_dir(out)
    finished = sorted(p.name for p in work.iterdir() if (p / "plan.json").is_file())
    assert 1 <= len(finished) < len(idx.cases) and not list(work.glob("*.tmp"))
    (work / f"{idx.cases[-1].case_id}.tmp").mkdir()                         # as a kill in the middle of a case leaves it
    monkeypatch.setattr(arrays, "_write", real_write)
    done = []
    real_case = preprocess_run.preprocess_case
    monkeypatch.setattr(preprocess_run, "preprocess_case", lambda c, *a, **kw: done.append(c.case_id) or real_case(c, *a, **kw))
    plans = preprocess_dataset(idx.cases, MODS, CFG, out)
    assert sorted(done) == sorted(set(c.case_id for c in idx.cases) - set(finished))   # finished cases not redone
    assert (out / "plans.json").read_text() == (tmp_path / "clean" / "plans.json").read_text() and plans == clean
    assert _arrays(out) == _arrays(tmp_path / "clean") and not work.exists()


def test_changed_settings_redo_a_staged_case(tiny_synth, tmp_path, monkeypatch):
    idx = discover("synthetic", tiny_synth, MODS)
    case = idx.cases[0]
    work = staging_dir(tmp_path / "pre")
    preprocess_run._job((case, MODS, CFG, work, preprocess_run.fingerprint(case, MODS, CFG)))
    assert preprocess_run._finished(work, case.case_id, preprocess_run.fingerprint(case, MODS, CFG)) is not None
    other = CFG.model_copy(update={"crop_size": (8, 8, 8)})
    assert preprocess_run._finished(work, case.case_id, preprocess_run.fingerprint(case, MODS, other)) is None
