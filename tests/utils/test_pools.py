"""Data-stage worker pools start from the fork server, with the stage's working directory and environment."""

import os

from brats_mlops.utils.pools import process_pool


def _where(_):
    return os.getcwd(), os.environ.get("BRATS_POOL_TEST"), os.getppid()


def test_workers_take_the_cwd_and_environment_of_the_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRATS_POOL_TEST", "first")
    with process_pool(2) as pool:
        got = list(pool.map(_where, range(4)))
    assert {(cwd, env) for cwd, env, _ in got} == {(str(tmp_path), "first")}
    assert all(ppid != os.getpid() for *_, ppid in got)   # forked by the server, not by this process
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "b")
    monkeypatch.setenv("BRATS_POOL_TEST", "second")       # a later pool sees the later state
    with process_pool(2) as pool:
        assert {(c, e) for c, e, _ in pool.map(_where, range(2))} == {(str(tmp_path / "b"), "second")}
