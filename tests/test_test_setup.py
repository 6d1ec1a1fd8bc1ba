"""The test suite's own machinery: `make test` runs `pytest -n 2 --dist loadgroup`, and the end-to-end tests that share a
clone (one `dvc repro`, then the 2-D pipeline, the remote, the queue on it), the servers and the DDP tests rely on
`xdist_group` keeping a group on one worker. pytest 9.2 with xdist 3.8 silently stopped doing that (pytest-xdist#1386):
each test then rebuilt its own clone and CI grew by ~15 minutes. This fails if the groups are lost again."""

import subprocess
import sys


def test_xdist_groups_keep_their_tests_on_one_worker(tmp_path):
    (tmp_path / "test_groups.py").write_text(
        "import os, time, pytest\n"
        + "".join(f"@pytest.mark.xdist_group('g')\ndef test_{c}():\n    time.sleep(0.3)\n"
                  f"    open('{tmp_path}/{c}', 'w').write(os.environ['PYTEST_XDIST_WORKER'])\n" for c in "abcd")
        + "def test_free():\n    time.sleep(0.3)\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                        "test_groups.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    workers = {(tmp_path / c).read_text() for c in "abcd"}
    assert len(workers) == 1, f"the group 'g' ran on {sorted(workers)}: --dist loadgroup does not group"


def test_the_long_groups_are_handed_out_first():
    """`make test` keeps the collection order (--no-loadscope-reorder), which conftest sorts: the long groups first,
    longest first, then the other slow tests, a module's tests in their order."""
    from pathlib import Path
    from types import SimpleNamespace

    import pytest

    from tests.conftest import LONG_GROUPS, pytest_collection_modifyitems

    def item(name, group=None, slow=False):
        marks = {"xdist_group": pytest.mark.xdist_group(group).mark if group else None,
                 "slow": pytest.mark.slow.mark if slow else None}
        return SimpleNamespace(name=name, get_closest_marker=marks.get)

    items = [item("fast"), item("slow_free", slow=True), item("server_a", "server", True), item("e2e_1", "e2e", True),
             item("server_b", "server", True), item("other_group", "g"), item("e2e_2", "e2e", True)]
    pytest_collection_modifyitems(None, items)
    assert [i.name for i in items] == ["e2e_1", "e2e_2", "server_a", "server_b", "slow_free", "fast", "other_group"]
    assert LONG_GROUPS[0] == "e2e"
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "--dist loadgroup --no-loadscope-reorder" in makefile
