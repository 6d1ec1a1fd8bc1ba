"""The shared training loop with a toy trainer: what a new model kind writes is only its pieces (state, one
epoch, validation); resume, checkpoints, best selection and exactly-once reporting come from the loop."""

import json
from pathlib import Path

import pytest
import torch

from brats_mlops.models.checkpoint import RUN_FILE, load_checkpoint
from brats_mlops.training.loop import Trainer
from tests.training.helpers import FakeTracker, Killed


class ToyTrainer(Trainer):
    """Fit y = 3x with one weight; validation 'loss' is |w - 3| (minimised)."""

    desc = "toy"
    score_key = "val_err"
    maximize = False

    def __init__(self, ckdir, epochs=6, val_every=2, lr=0.1):
        super().__init__(ckdir, seed=0, epochs=epochs, val_every=val_every)  # seeds torch: same initial weights
        self.model = torch.nn.Linear(1, 1, bias=False)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.model_config = {"kind": "toy"}
        self.config_hash = f"toy-{epochs}-{lr}"

    def stateful(self):
        return {"model": self.model, "optimizer": self.opt}

    def train_epoch(self, epoch):
        x = torch.rand(16, 1)  # the loop seeds each epoch: a resumed run sees the same batches
        loss = ((self.model(x) - 3 * x) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"train_loss": float(loss)}

    def validate(self):
        return {"val_err": abs(float(self.model.weight) - 3.0)}


def test_validates_every_n_epochs_and_keeps_the_best_by_the_trainers_direction(tmp_path):
    t = ToyTrainer(tmp_path, epochs=5, val_every=2)
    res = t.fit(FakeTracker())
    assert [("val_err" in h) for h in res.history] == [False, True, False, True, True]  # every 2nd epoch and the last
    vals = {h["epoch"]: h["val_err"] for h in res.history if "val_err" in h}
    assert res.best_epoch == min(vals, key=vals.get) and res.best_score == min(vals.values())
    best = load_checkpoint(tmp_path / "best.pt")  # weights_only=True: checkpoints hold no pickled objects
    assert best["epoch"] == res.best_epoch and best["score_key"] == "val_err" and best["model_config"] == {"kind": "toy"}
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 5


def test_kill_and_resume_reports_each_epoch_once_and_matches_an_uninterrupted_run(tmp_path):
    ref = ToyTrainer(tmp_path / "ref").fit(FakeTracker())
    tracker = FakeTracker(run_id="run-1")

    def kill(epoch):
        if epoch == 3:
            raise Killed  # after last.pt of epoch 3 was written, before the epoch was reported

    with pytest.raises(Killed):
        ToyTrainer(tmp_path / "run").fit(tracker, on_checkpoint=kill)
    assert tracker.logged == [0, 1, 2]
    again = FakeTracker()
    again.logged = list(tracker.logged)
    res = ToyTrainer(tmp_path / "run").fit(again)  # fit resumes by itself
    assert again.started_with == ["run-1"]  # the checkpoint's run is reopened
    assert res.resumed_from == 4 and sorted(again.logged) == [0, 1, 2, 3, 4, 5]
    assert [h["train_loss"] for h in res.history] == pytest.approx([h["train_loss"] for h in ref.history], rel=1e-6)
    assert res.best_score == pytest.approx(ref.best_score, rel=1e-6)


def test_a_finished_or_different_configuration_starts_afresh(tmp_path):
    ToyTrainer(tmp_path, epochs=2).fit()
    assert ToyTrainer(tmp_path, epochs=2).resumable() is None  # finished
    assert ToyTrainer(tmp_path, epochs=4, lr=0.2).resumable() is None  # other config hash
    assert ToyTrainer(tmp_path, epochs=2).fit(resume=False).resumed_from == 0


def test_checkpoints_are_the_same_bytes_whatever_the_run_and_its_timing(tmp_path):
    """Run ids and wall times live in RUN_FILE (ignored by DVC), so dvc.lock does not change from run to run."""
    a = ToyTrainer(tmp_path / "a").fit(FakeTracker(run_id="run-a"))
    ToyTrainer(tmp_path / "b").fit(FakeTracker(run_id="run-b"))
    for name in ("last.pt", "best.pt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    run = json.loads((tmp_path / "a" / RUN_FILE).read_text())
    assert run["run_id"] == "run-a" and sorted(map(int, run["epoch_time_s"])) == [h["epoch"] for h in a.history]
    assert "epoch_time_s" not in load_checkpoint(tmp_path / "a" / "last.pt")["history"][0]
    assert RUN_FILE in (Path(__file__).resolve().parents[2] / ".dvcignore").read_text().split()
