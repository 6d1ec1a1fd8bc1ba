"""runtime.threads: auto uses the idle cores; a number or BRATS_THREADS fixes the count."""

from __future__ import annotations

import os

import pytest

from brats_mlops.utils import threads


@pytest.fixture()
def two_cores(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)


@pytest.mark.parametrize("idle, expected", [(2.0, 2), (1.9, 2), (1.1, 1), (0.4, 1), (0.0, 1), (None, 2)])
def test_auto_uses_the_idle_cores(two_cores, monkeypatch, idle, expected):
    monkeypatch.setattr(threads, "idle_cores", lambda sample_s=0.3: idle)
    assert threads.resolve_threads("auto") == expected


def test_a_number_and_the_environment_override(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "idle_cores", lambda sample_s=0.3: 0.0)
    assert threads.resolve_threads(2) == 2
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.resolve_threads(2) == 1 and threads.resolve_threads("auto") == 1


def test_idle_cores_reads_this_machine():
    idle = threads.idle_cores(0.05)
    if not os.path.exists("/proc/stat"):
        assert idle is None
    else:
        assert idle is not None and 0.0 <= idle <= (os.cpu_count() or 1) + 1e-6


def test_configure_sets_torch_and_children(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv(threads.ENV, "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    try:
        assert threads.configure_threads("auto") == 1
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1" and threads.chosen() == 1
    finally:
        torch.set_num_threads(before)
        threads._setting = None


def test_torchrun_ranks_share_the_idle_cores(two_cores, monkeypatch):
    monkeypatch.setattr(threads, "idle_cores", lambda sample_s=0.3: 2.0)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert threads.resolve_threads("auto") == 1


def test_adapt_follows_the_idle_cores_only_with_auto(two_cores, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(threads, "idle_cores", lambda sample_s=0.3: 2.0)
        threads.configure_threads("auto")
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(threads, "idle_cores", lambda sample_s=0.3: 0.6)   # another process took a core
        assert threads.adapt() == 1 and torch.get_num_threads() == 1 and threads.chosen() == 1
        assert threads.adapt() is None                                          # unchanged
        threads.configure_threads(2)                                            # a fixed count never adapts
        assert threads.adapt() is None and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
        threads._setting = None


def test_a_number_never_looks_at_the_load_and_is_the_default(two_cores, monkeypatch):
    """The thread count is part of the result: the default is a number (the committed dvc.lock's), never sampled."""
    from brats_mlops.config.schema import parse_params

    def sampled(sample_s=0.3):
        raise AssertionError("a fixed count must not sample the machine's load")

    monkeypatch.setattr(threads, "idle_cores", sampled)
    assert parse_params({}).runtime.threads == threads.DEFAULT == 2
    assert threads.resolve_threads(2) == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")      # torchrun's ranks split the declared count
    assert threads.resolve_threads(2) == 1


def test_runs_say_whether_they_reproduce_the_lock(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.is_reproducible(2) and not threads.is_reproducible("auto")
    monkeypatch.setenv(threads.ENV, "1")             # an override that differs from the declared count
    assert not threads.is_reproducible(2) and threads.is_reproducible(1)


def test_auto_warns_that_results_depend_on_the_load(two_cores, monkeypatch, caplog):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "idle_cores", lambda sample_s=0.3: 1.0)
    try:
        with caplog.at_level("WARNING"):
            assert threads.configure_threads("auto") == 1
        assert "not reproduce dvc.lock" in caplog.text
    finally:
        torch.set_num_threads(before)
        threads._setting = None
