"""Reading the tracking store: a branch's runs, a stage's latest run, a run's params and artifacts, UI links."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from brats_mlops.families import stage_branch as branch_of
from brats_mlops.names import EXPERIMENTS, TAG_STAGE
from brats_mlops.tracking.opening import settle


def find_runs(branch: str, filter_string: str, order_by: list[str] | None = None, max_results: int | None = None) -> list[Any]:
    """Runs of the experiment of ``branch`` matching ``filter_string`` (MLflow ``Run`` objects: ``.info``, ``.data``);
    empty when the experiment does not exist yet."""
    from mlflow.tracking import MlflowClient

    settle()
    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENTS[branch])
    if exp is None:
        return []
    kw = {"max_results": max_results} if max_results else {}
    return list(client.search_runs([exp.experiment_id], filter_string, order_by=order_by or [], **kw))


def latest_stage_runs(stages: list[str]) -> dict[str, str]:
    """Run id of the latest FINISHED run of each stage (stages without one are left out)."""
    out = {}
    for stage in stages:
        runs = find_runs(branch_of(stage), f"tags.`{TAG_STAGE}` = '{stage}' and attributes.status = 'FINISHED'",
                         order_by=["attributes.start_time DESC"], max_results=1)
        if runs:
            out[stage] = runs[0].info.run_id
    return out


def run_params(run_id: str, metrics: bool = False) -> dict[str, Any]:
    """A run's params (with ``metrics``, also its latest metric values as ``metric.<key>``)."""
    from mlflow.tracking import MlflowClient

    settle()
    data = MlflowClient().get_run(run_id).data
    return {**data.params, **({f"metric.{k}": v for k, v in data.metrics.items()} if metrics else {})}


def download_artifact(run_id: str, artifact_path: str) -> Path:
    """A run's artifact as a local file (quietly: no download progress bars)."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settle()
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path))


UI_VIEW = "workflowType=machine_learning"   # MLflow 3's "Model training" view (its default is GenAI; mlflow/mlflow#24498)


def ui_url(base: str, exp_id: str | None = None) -> str:
    """The MLflow UI's page of an experiment's runs (or the registered models) in the model-training view."""
    return f"{base}/#/experiments/{exp_id}/runs?{UI_VIEW}" if exp_id else f"{base}/#/models?{UI_VIEW}"


def experiment_names(tracking_server: str) -> list[tuple[str, str]]:
    """``(name, id)`` of the experiments on a tracking server."""
    from mlflow.tracking import MlflowClient

    return [(e.name, e.experiment_id) for e in MlflowClient(tracking_server).search_experiments()]
