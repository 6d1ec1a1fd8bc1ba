"""Test doubles for the training loop."""

from __future__ import annotations


class FakeTracker:
    """A ``training.loop.Tracker`` that keeps what it is told (and can pretend to hold a run)."""

    def __init__(self, run_id: str | None = None):
        self.logged: list[int] = []
        self.records: dict[int, dict] = {}
        self.run_id = run_id
        self.started_with: list[str | None] = []

    def start(self, resume_run_id):
        self.started_with.append(resume_run_id)
        return resume_run_id or self.run_id

    def log_epoch(self, rec, step):
        self.logged.append(step)
        self.records[step] = rec

    def logged_epochs(self):
        return set(self.logged)


class Killed(Exception):
    pass
