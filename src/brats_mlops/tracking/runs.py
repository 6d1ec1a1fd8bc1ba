"""The tracker a training stage hands to the training loop: the stage's MLflow run opened when the loop starts (new,
or the killed run it resumes) and its per-epoch metrics, readable for exactly-once resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brats_mlops.config.schema import Params
from brats_mlops.tracking import StageRun, stage_run


class MlflowEpochTracker:
    """Per-epoch metrics of a training run, with the steps already stored readable (for exactly-once resume)."""

    def __init__(self, run_id: str, key: str = "train_loss"):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()
        self.run_id = run_id
        self.key = key

    def start(self, resume_run_id: str | None) -> str:
        """The run is already open (``training.loop.Tracker``): checkpoints record it."""
        return self.run_id

    def log_epoch(self, record: dict[str, float], step: int) -> None:
        import time as _time

        from mlflow.entities import Metric

        ts = int(_time.time() * 1000)
        metrics = [Metric(k, float(v), ts, step) for k, v in record.items() if k != "epoch" and v is not None]
        self.client.log_batch(self.run_id, metrics=metrics)

    def logged_epochs(self) -> set[int]:
        return {m.step for m in self.client.get_metric_history(self.run_id, self.key)}



class TrainingRun:
    """The tracker a training stage hands to the training loop (``training.loop.Tracker``).

    The stage's MLflow run is opened when the loop starts — as a new run, or, when the loop resumes a killed
    training, as the run its checkpoint names — so a resumed training keeps one run. Use as a context manager
    around the ``train_*`` call and whatever the stage logs afterwards::

        with TrainingRun(STAGE_TRAIN_SEG, params, ["seed", "segmentation"], deps=[...]) as run:
            trained = train_segmentation(params, run)
            run.log_artifact(...)
    """

    def __init__(self, stage: str, params: Params, sections: list[str], deps: list[str | Path] = (),
                 tags: dict[str, Any] | None = None, key: str = "train_loss"):
        self._args = dict(stage=stage, params=params, sections=sections, deps=deps, tags=tags)
        self.key = key
        self._cm: Any = None
        self._run: StageRun | None = None
        self._epochs: MlflowEpochTracker | None = None

    def __enter__(self) -> "TrainingRun":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return bool(self._cm.__exit__(*exc)) if self._cm is not None else False

    @property
    def stage_run(self) -> StageRun:
        if self._run is None:
            raise RuntimeError("the training run has not started (start() is called by the training loop)")
        return self._run

    @property
    def run_id(self) -> str:
        return self.stage_run.run_id

    def start(self, resume_run_id: str | None) -> str:
        if self._run is None:
            self._cm = stage_run(**self._args, run_id=resume_run_id)
            self._run = self._cm.__enter__()
            self._epochs = MlflowEpochTracker(self._run.run_id, self.key)
        return self._run.run_id

    def log_epoch(self, record: dict[str, float], step: int) -> None:
        self._epochs.log_epoch(record, step)

    def logged_epochs(self) -> set[int]:  # of the metric ``self.key`` (a stage training several folds sets it per fold)
        self._epochs.key = self.key
        return self._epochs.logged_epochs()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        self.stage_run.log_metrics(metrics, step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.stage_run.log_artifact(path, artifact_path)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.stage_run.set_tags(tags)
