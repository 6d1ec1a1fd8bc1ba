"""The fast YAML reader reads what PyYAML's safe loader reads; the lock-file reading of a stage run follows changes."""

from pathlib import Path

import yaml

from brats_mlops.tracking import story
from brats_mlops.utils.yamlio import _LOADER, load_yaml, read_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_c_loader_is_used_and_reads_the_projects_files_as_the_safe_loader_does():
    assert _LOADER is yaml.CSafeLoader   # the pinned PyYAML wheel ships libyaml: the speed-up is real here
    for name in ("params.yaml", "dvc.yaml", "dvc.lock", "slices/dvc.yaml", "nnunet/dvc.yaml"):
        text = (ROOT / name).read_text()
        assert load_yaml(text) == yaml.safe_load(text), name
    doc = "a: 1.0e-3\nf: 1e-3\nb: [1, 2]\nc: null\nd: yes\ne: '007'\n"   # YAML 1.1 quirks included (1e-3 is a string)
    assert load_yaml(doc) == yaml.safe_load(doc) == {"a": 0.001, "f": "1e-3", "b": [1, 2], "c": None, "d": True, "e": "007"}


def test_producers_follow_a_changed_lock_file(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text("schema: '2.0'\nstages:\n  split:\n    outs:\n    - path: data/splits\n")
    assert story.producers(tmp_path) == {"data/splits": "split"}
    lock.write_text("schema: '2.0'\nstages:\n  split2:\n    outs:\n    - path: data/splits/\n    - path: metrics/split.json\n")
    assert story.producers(tmp_path) == {"data/splits": "split2", "metrics/split.json": "split2"}
    (tmp_path / "slices").mkdir()
    (tmp_path / "slices" / "dvc.lock").write_text("stages:\n  s:\n    outs:\n    - path: data/slices\n")
    assert story.producers(tmp_path)["data/slices"] == "s"
    lock.write_text("stages: [unclosed\n")                  # a broken lock file is skipped, not a failed stage
    assert story.producers(tmp_path) == {"data/slices": "s"}
    assert read_yaml(tmp_path / "slices" / "dvc.lock")["stages"]["s"]["outs"][0]["path"] == "data/slices"
