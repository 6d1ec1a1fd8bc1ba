"""Tracking spine: the only module that opens MLflow runs.

Every stage does::

    with stage_run(STAGE_PREPROCESS, params, sections=["data", "preprocess"], deps=[...]) as run:
        ...
        run.log_metrics({...})
        run.log_artifact(path)

which opens a run in the branch's experiment, logs the stage's params (flattened), the git commit and the
content hashes of its inputs as tags, and ends the run FINISHED — or FAILED, with the error as a tag, when
the stage raises.

The default store is ``sqlite:///<project root>/mlflow.db``. Runs made by ``dvc exp run --temp`` or
``--queue`` execute in a copy under ``<project root>/.dvc/tmp/exps/``; the root is resolved past that copy so
their runs land in the same store. ``MLFLOW_TRACKING_URI`` overrides everything (e.g. a tracking server).
"""

from __future__ import annotations

import logging
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from brats_mlops.config.schema import Params, find_project_root
from brats_mlops.data.editions import edition_tag
from brats_mlops.families import families, stage_branch as branch_of
from brats_mlops.names import (EXPERIMENTS, TAG_DATA_HASH_PREFIX, TAG_DVC_EXP, TAG_EDITION, TAG_ERROR,
                               TAG_FAMILY, TAG_GIT_COMMIT, TAG_GIT_DIRTY, TAG_REPRODUCIBLE, TAG_STAGE, TAG_STATUS, TAG_STATUS_REASON,
                               TAG_THREADS)
from brats_mlops.tracking import story
from brats_mlops.utils import threads
from brats_mlops.utils.hashing import content_hash

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
log = logging.getLogger(__name__)

_EXP_MARKER = f"{os.sep}.dvc{os.sep}tmp{os.sep}exps{os.sep}"


def real_project_root(start: Path | None = None) -> Path:
    """The project root, resolved past DVC's temporary experiment copies (``.dvc/tmp/exps/...``)."""
    root = find_project_root(start)
    s = str(root)
    if _EXP_MARKER in s:
        return Path(s.split(_EXP_MARKER)[0])
    return root


def tracking_uri(params: Params | None = None, start: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``tracking.uri`` (relative sqlite paths resolved against the root),
    else ``sqlite:///<project root>/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = real_project_root(start)
    uri = params.tracking.uri if params else None
    if uri:
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            rel = uri[len("sqlite:///"):]
            return f"sqlite:///{(root / rel).resolve()}"
        return uri
    return f"sqlite:///{root / 'mlflow.db'}"


def _is_local_store(uri: str) -> bool:
    return uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri


def git_commit(root: Path) -> tuple[str, bool]:
    """(commit sha or 'unknown', dirty?): dirty when a tracked file differs from the commit — other than the dvc.lock
    files and the git-tracked DVC outputs (metrics/...), which `dvc repro` itself rewrites as it goes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        changed = [ln[3:].strip() for ln in subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                                             capture_output=True, text=True).stdout.splitlines() if ln.strip()]
        outs = story.producers(root)
        dirty = any(not (c.endswith("dvc.lock") or c in outs or any(c.startswith(o + "/") for o in outs)) for c in changed)
        return sha, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = ",".join(str(x) for x in v)
        else:
            out[key] = v
    return out


EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")  # the UI opens on training runs, not GenAI


def ensure_experiment(name: str, root: Path, uri: str) -> str:
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        artifact_location = (root / "mlartifacts" / name).as_uri() if _is_local_store(uri) else None
        try:
            exp_id = mlflow.create_experiment(name, artifact_location=artifact_location, tags=dict([EXPERIMENT_KIND]))
        except Exception:  # created concurrently by another stage
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
            exp_id = exp.experiment_id
    else:
        exp_id = exp.experiment_id
    client = mlflow.tracking.MlflowClient()
    tags = exp.tags if exp is not None else {}
    if tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
        client.set_experiment_tag(exp_id, *EXPERIMENT_KIND)
    story.set_experiment_note(client, exp_id, next((b for b, n in EXPERIMENTS.items() if n == name), ""), tags.get(story.NOTE))
    return exp_id


class StageRun:
    """Handle on the active stage run (thin, so stages never import mlflow themselves)."""

    def __init__(self, run: Any):
        self.run = run
        self.run_id: str = run.info.run_id
        self.note = ""   # a line the stage adds to its run's description (``run.describe``)

    def describe(self, text: str) -> None:
        """Add ``text`` (Markdown) to the run's description, under what the stage is (written when the run ends)."""
        self.note = f"{self.note}\n\n{text}".strip()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        import mlflow

        flat = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if flat:
            mlflow.log_metrics(flat, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        import mlflow

        p = Path(path)
        if p.is_dir():
            mlflow.log_artifacts(str(p), artifact_path=artifact_path or p.name)
        elif p.is_file():
            mlflow.log_artifact(str(p), artifact_path=artifact_path)

    def set_tags(self, tags: dict[str, Any]) -> None:
        import mlflow

        mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})

    def set_status(self, reason: str | None = None) -> None:
        """``brats.status``: ``ok``, or ``skipped`` with ``brats.status_reason`` (nothing to do on this data)."""
        self.set_tags({TAG_STATUS: "skipped", TAG_STATUS_REASON: reason} if reason else {TAG_STATUS: "ok"})


@contextmanager
def stage_run(
    stage: str,
    params: Params,
    sections: list[str],
    deps: list[str | Path] = (),
    tags: dict[str, str] | None = None,
    branch: str | None = None,
    run_id: str | None = None,
) -> Iterator[StageRun]:
    """Open the MLflow run of ``stage``; see the module docstring.

    ``run_id`` reopens an existing run (a resumed training) instead of starting a new one; its params are
    not logged again.
    """
    import mlflow

    root = real_project_root()
    uri = _set_uri(tracking_uri(params))
    exp_name = EXPERIMENTS[branch or branch_of(stage)]
    exp_id = ensure_experiment(exp_name, root, uri)
    sha, dirty = git_commit(find_project_root())
    all_tags = {TAG_STAGE: stage, TAG_GIT_COMMIT: sha, TAG_GIT_DIRTY: str(dirty).lower(), "mlflow.source.git.commit": sha,
                # a tag, not an input of the stage: read past the params audit (config/audit.py)
                TAG_EDITION: edition_tag(*(object.__getattribute__(params.data, k) for k in ("source", "root")))}
    if threads.chosen():
        all_tags[TAG_THREADS] = threads.chosen()
        all_tags[TAG_REPRODUCIBLE] = str(threads.is_reproducible()).lower()
    if os.environ.get("DVC_EXP_NAME"):
        all_tags[TAG_DVC_EXP] = os.environ["DVC_EXP_NAME"]
    hashes = {Path(d).as_posix(): content_hash(d) for d in deps} if params.tracking.hash_inputs else {}
    all_tags.update({f"{TAG_DATA_HASH_PREFIX}{d}": h for d, h in hashes.items()})
    family = next((f.key for f in families() if stage in (f.train_stage, f.eval_stage)), None)
    if family:
        all_tags[TAG_FAMILY] = family
    all_tags.update(tags or {})
    dumped = params.dump()
    logged = flatten({s: dumped[s] for s in sections if s in dumped})
    log.info("stage %s: MLflow experiment %s at %s", stage, exp_name, uri)
    if run_id:
        run = mlflow.start_run(run_id=run_id)
        mlflow.set_tags({k: str(v) for k, v in all_tags.items()})
    else:
        run = mlflow.start_run(experiment_id=exp_id, run_name=stage, tags={k: str(v) for k, v in all_tags.items()})
    try:
        if not run_id:  # MLflow caps a param value at 6000 chars
            mlflow.log_params({k: str(v)[:6000] for k, v in logged.items()})
            story.log_datasets(stage, hashes, root, all_tags[TAG_EDITION])
        handle = StageRun(run)
        yield handle
        _describe(stage, handle, hashes, sha, dirty, [Path(d).as_posix() for d in deps])
    except BaseException as err:
        try:
            mlflow.set_tag(TAG_ERROR, f"{type(err).__name__}: {err}"[:5000])
        finally:
            mlflow.end_run(status="FAILED" if not isinstance(err, KeyboardInterrupt) else "KILLED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def _describe(stage: str, run: StageRun, hashes: dict[str, str], sha: str, dirty: bool, deps: list[str]) -> None:
    """The finished stage run's description (``tracking/story.py``); a failure to write it never fails the stage."""
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient()
        metrics = client.get_run(run.run_id).data.metrics
        latest = latest_stage_runs(story.upstream(deps, real_project_root(), stage))
        links = {st: (client.get_run(rid).info.experiment_id, rid) for st, rid in latest.items()}
        client.set_tag(run.run_id, story.NOTE, story.run_note(stage, metrics, hashes, sha, dirty, links, run.note))
    except Exception as err:  # noqa: BLE001 (a description is not worth a failed stage)
        log.warning("stage %s: run description not written (%s: %s)", stage, type(err).__name__, err)


@contextmanager
def child_run(name: str, params: dict[str, Any] | None = None, tags: dict[str, Any] | None = None) -> Iterator[StageRun]:
    """A nested run under the active stage run (e.g. one per feature set, or per Optuna trial)."""
    import mlflow

    parent = mlflow.active_run()
    exp_id = parent.info.experiment_id if parent else None  # nested runs live in the parent's experiment
    tags = {story.NOTE: story.child_note(name, parent), **(tags or {})}
    with mlflow.start_run(run_name=name, nested=True, experiment_id=exp_id, tags={k: str(v) for k, v in tags.items()}) as run:
        if params:
            mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})
        yield StageRun(run)


def active_run() -> StageRun | None:
    """A handle on the active MLflow run (e.g. an Optuna trial's nested run), or None."""
    import mlflow

    run = mlflow.active_run()
    return StageRun(run) if run is not None else None


def log_to_run(run_id: str, metrics: dict[str, float]) -> None:
    """Log ``metrics`` to another (finished) run, e.g. the held-out scores to the training run they belong to."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for k, v in metrics.items():
        client.log_metric(run_id, k, float(v))


# ---------------------------------------------------------------------------------------------- reading the store
def use_store(start: Path | None = None) -> str:
    """Point MLflow at the project's store (``MLFLOW_TRACKING_URI`` wins) and return the URI (for the CLI)."""
    from brats_mlops.config.schema import load_params

    return _set_uri(tracking_uri(load_params(real_project_root(start) / "params.yaml")))


def _set_uri(uri: str) -> str:
    """Point MLflow at ``uri``; a database server that cannot be reached is one clear error within seconds
    (MLflow would retry for minutes, then print a traceback)."""
    import mlflow

    if "://" in uri and not uri.startswith(("sqlite:", "http:", "https:", "file:", "databricks")):
        from brats_mlops.utils.db import check_database

        check_database(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def find_runs(branch: str, filter_string: str, order_by: list[str] | None = None, max_results: int | None = None) -> list[Any]:
    """Runs of the experiment of ``branch`` matching ``filter_string`` (MLflow ``Run`` objects: ``.info``, ``.data``);
    empty when the experiment does not exist yet."""
    from mlflow.tracking import MlflowClient

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

    data = MlflowClient().get_run(run_id).data
    return {**data.params, **({f"metric.{k}": v for k, v in data.metrics.items()} if metrics else {})}


def download_artifact(run_id: str, artifact_path: str) -> Path:
    """A run's artifact as a local file (quietly: no download progress bars)."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path))


UI_VIEW = "workflowType=machine_learning"   # MLflow 3's "Model training" view (its default is GenAI; mlflow/mlflow#24498)


def ui_url(base: str, exp_id: str | None = None) -> str:
    """The MLflow UI's page of an experiment's runs (or the registered models) in the model-training view."""
    return f"{base}/#/experiments/{exp_id}/runs?{UI_VIEW}" if exp_id else f"{base}/#/models?{UI_VIEW}"


def experiment_names(tracking_server: str) -> list[tuple[str, str]]:
    """``(name, id)`` of the experiments on a tracking server."""
    from mlflow.tracking import MlflowClient

    return [(e.name, e.experiment_id) for e in MlflowClient(tracking_server).search_experiments()]
