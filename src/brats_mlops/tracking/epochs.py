"""Per-epoch trackers beyond the stage's own training run."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brats_mlops.tracking import StageRun


class PrefixedEpochs:
    """Epoch tracker of a model trained inside an open stage run, its keys prefixed (``slice_split.val_loss``), so
    two trainings of one stage (a model and its ablation) keep separate curves. The stage run is new on every
    start, so a resumed training re-logs its checkpointed epochs into it (``logged_epochs`` is empty)."""

    def __init__(self, run: StageRun, prefix: str):
        self.run, self.prefix = run, prefix

    def start(self, resume_run_id: str | None) -> str:
        return self.run.run_id

    def log_epoch(self, record: dict[str, float], step: int) -> None:
        self.run.log_metrics({self.prefix + k: v for k, v in record.items() if k != "epoch"}, step)

    def logged_epochs(self) -> set[int]:
        return set()
