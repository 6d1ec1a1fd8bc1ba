"""A nested MLflow run as a training loop's tracker: one run per fold of a k-fold training, under the stage's run.

The fold's trainer calls ``start(resume_run_id)`` — a killed fold reopens its own run (the id its checkpoint holds),
so each fold keeps one run and logs each epoch once — and the caller ends it with :meth:`NestedRun.end`.
"""

from __future__ import annotations

from typing import Any

from brats_mlops.tracking import flatten, story
from brats_mlops.tracking.runs import MlflowEpochTracker


class NestedRun:
    def __init__(self, name: str, params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None,
                 key: str = "train_loss"):
        self.name, self.params, self.tags, self.key = name, params or {}, tags or {}, key
        self.run: Any = None
        self._epochs: MlflowEpochTracker | None = None

    def start(self, resume_run_id: str | None) -> str:
        import mlflow

        if self.run is None:
            parent = mlflow.active_run()
            if parent is None:
                raise RuntimeError("a nested run needs the stage's run to be open")
            tags = {story.NOTE: story.child_note(self.name, parent), **{k: str(v) for k, v in self.tags.items()}}
            if resume_run_id:
                self.run = mlflow.start_run(run_id=resume_run_id, nested=True)
            else:
                self.run = mlflow.start_run(run_name=self.name, nested=True, experiment_id=parent.info.experiment_id, tags=tags)
                if self.params:
                    mlflow.log_params({k: str(v)[:6000] for k, v in flatten(self.params).items()})
            self._epochs = MlflowEpochTracker(self.run.info.run_id, self.key)
        return self.run.info.run_id

    def log_epoch(self, record: dict[str, float], step: int) -> None:
        self._epochs.log_epoch(record, step)

    def logged_epochs(self) -> set[int]:
        return self._epochs.logged_epochs()

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, run_id=self.run.info.run_id)

    def end(self, status: str = "FINISHED") -> None:
        import mlflow

        if self.run is not None:
            mlflow.end_run(status=status)
            self.run = None
