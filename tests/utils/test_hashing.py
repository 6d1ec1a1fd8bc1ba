import subprocess
import sys
from pathlib import Path

import yaml

from brats_mlops.utils.hashing import content_hash, file_md5

DVC = Path(sys.executable).parent / "dvc"


def test_folder_and_file_hashes_are_the_ones_dvc_records(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("alpha\n")
    (data / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    (data / "brats_run.json").write_text('{"run_id": "differs on every run"}')  # ignored by DVC, so by us too
    (tmp_path / ".dvcignore").write_text("brats_run.json\n")
    env = {"DVC_NO_ANALYTICS": "1", "PATH": f"{DVC.parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    for cmd in (["git", "init", "-q"], [str(DVC), "init", "-q"], [str(DVC), "add", "-q", "data"]):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True)
    recorded = yaml.safe_load((tmp_path / "data.dvc").read_text())["outs"][0]["md5"]
    assert content_hash(data) == recorded and recorded.endswith(".dir")
    assert content_hash(data / "a.txt") == file_md5(data / "a.txt")
    assert content_hash(tmp_path / "absent") == "missing"


def test_a_changed_file_is_seen_through_dvcs_state_and_a_folder_outside_a_repository_hashes_the_same(tmp_path, monkeypatch):
    """Inside a DVC repository the md5s come from DVC's state database (issue 26: big inputs are not read again);
    a file changed since DVC last saw it must still give the new hash."""
    import shutil

    data = tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    (data / "a.txt").write_text("alpha\n")
    env = {"DVC_NO_ANALYTICS": "1", "PATH": f"{DVC.parent}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def dvc_add() -> str:
        subprocess.run([str(DVC), "add", "-q", "data"], cwd=data.parent, env=env, check=True, capture_output=True)
        return yaml.safe_load((data.parent / "data.dvc").read_text())["outs"][0]["md5"]

    for cmd in (["git", "init", "-q"], [str(DVC), "init", "-q"]):
        subprocess.run(cmd, cwd=data.parent, env=env, check=True, capture_output=True)
    first = dvc_add()
    assert content_hash(data) == first
    (data / "a.txt").write_text("beta, same length?\n")
    second = content_hash(data)
    assert second != first and second == dvc_add()
    outside = tmp_path / "plain" / "data"
    shutil.copytree(data, outside)
    assert content_hash(outside) == second                     # from this test's working directory (no repository)
    monkeypatch.chdir(data.parent)
    assert content_hash(outside) == second                     # through the project's state, as a stage hashes data.root
