"""Tracking spine: the only module that opens MLflow runs.

Every stage does::

    with stage_run(STAGE_PREPROCESS, params, sections=["data", "preprocess"], deps=[...]) as run:
        ...
        run.log_metrics({...})
        run.log_artifact(path)

which opens a run in the branch's experiment, logs the stage's params (flattened), the git commit and the
content hashes of its inputs as tags, and ends the run FINISHED — or FAILED, with the error as a tag, when
the stage raises. The run is opened when the stage first uses it, not before its work (``tracking/opening.py``).

The default store is ``sqlite:///<project root>/mlflow.db``. Runs made by ``dvc exp run --temp`` or
``--queue`` execute in a copy under ``<project root>/.dvc/tmp/exps/``; the root is resolved past that copy so
their runs land in the same store. ``MLFLOW_TRACKING_URI`` overrides everything (e.g. a tracking server).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from brats_mlops.config.schema import Params, find_project_root
from brats_mlops.data.editions import edition_tag
from brats_mlops.families import families, stage_branch as branch_of
from brats_mlops.names import (EXPERIMENTS, TAG_DATA_HASH_PREFIX, TAG_DVC_EXP, TAG_EDITION, TAG_ERROR,
                               TAG_FAMILY, TAG_GIT_COMMIT, TAG_GIT_DIRTY, TAG_REPRODUCIBLE, TAG_STAGE, TAG_STARTUP, TAG_STATUS,
                               TAG_STATUS_REASON, TAG_THREADS)
from brats_mlops.tracking import story
from brats_mlops.tracking.opening import opening_of_stage, settle
from brats_mlops.utils import entry, threads
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
    """Handle on the active stage run (thin, so stages never import mlflow themselves).

    A stage's own run is opened on the first use of its handle (``tracking/opening.py``), which makes it the thread's
    active MLflow run."""

    def __init__(self, run: Any = None, activate: Callable[[], Any] | None = None):
        self._run = run
        self._activate = activate
        self.note = ""   # a line the stage adds to its run's description (``run.describe``)

    @property
    def run(self) -> Any:
        if self._run is None:
            self._run = self._activate()
        return self._run

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def describe(self, text: str) -> None:
        """Add ``text`` (Markdown) to the run's description, under what the stage is (written when the run ends)."""
        self.note = f"{self.note}\n\n{text}".strip()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        import mlflow

        self.run
        flat = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if flat:
            mlflow.log_metrics(flat, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        import mlflow

        self.run
        p = Path(path)
        if p.is_dir():
            mlflow.log_artifacts(str(p), artifact_path=artifact_path or p.name)
        elif p.is_file():
            mlflow.log_artifact(str(p), artifact_path=artifact_path)

    def set_tags(self, tags: dict[str, Any]) -> None:
        import mlflow

        self.run
        mlflow.set_tags({k: str(v) for k, v in tags.items()})

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        self.run
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

    The run is opened when the stage first touches it, dated from now (``tracking/opening.py``). ``run_id`` reopens an
    existing run (a resumed training) instead of starting a new one; its params are not logged again.
    """
    began = time.time()
    root = real_project_root()
    uri = _point_at(tracking_uri(params))
    exp_name = EXPERIMENTS[branch or branch_of(stage)]
    base = {TAG_STAGE: stage,
            # a tag, not an input of the stage: read past the params audit (config/audit.py)
            TAG_EDITION: edition_tag(*(object.__getattribute__(params.data, k) for k in ("source", "root")))}
    if threads.chosen():
        base[TAG_THREADS] = threads.chosen()
        base[TAG_REPRODUCIBLE] = str(threads.is_reproducible()).lower()
    if os.environ.get("DVC_EXP_NAME"):
        base[TAG_DVC_EXP] = os.environ["DVC_EXP_NAME"]
    family = next((f.key for f in families() if stage in (f.train_stage, f.eval_stage)), None)
    if family:
        base[TAG_FAMILY] = family
    dumped = params.dump()
    logged = flatten({s: dumped[s] for s in sections if s in dumped})
    log.info("stage %s: MLflow experiment %s at %s", stage, exp_name, uri)

    def open_run() -> tuple[str, str, bool, dict[str, str]]:
        from mlflow.entities import Param, RunTag
        from mlflow.tracking import MlflowClient
        from mlflow.tracking.context import registry as context

        exp_id = ensure_experiment(exp_name, root, uri)
        sha, dirty = git_commit(find_project_root())
        hashes = {Path(d).as_posix(): content_hash(d) for d in deps} if params.tracking.hash_inputs else {}
        all_tags = {**base, TAG_GIT_COMMIT: sha, TAG_GIT_DIRTY: str(dirty).lower(), "mlflow.source.git.commit": sha,
                    **{f"{TAG_DATA_HASH_PREFIX}{d}": h for d, h in hashes.items()}, **(tags or {})}
        client = MlflowClient()
        if run_id:
            client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in all_tags.items()])
            return run_id, sha, dirty, hashes
        resolved = context.resolve_tags({k: str(v) for k, v in all_tags.items()})
        new = client.create_run(exp_id, start_time=int(began * 1000), run_name=stage, tags=resolved).info.run_id
        client.log_batch(new, params=[Param(k, str(v)[:6000]) for k, v in logged.items()])  # MLflow caps a value at 6000
        return new, sha, dirty, hashes

    opened: dict[str, Any] = {}

    def activate() -> Any:
        if "error" in opened:
            raise opened["error"]
        if "run" not in opened:
            import mlflow

            opening_of_stage.clear()
            try:
                rid, opened["sha"], opened["dirty"], opened["hashes"] = open_run()
            except Exception as err:
                opened["error"] = err
                log.error("stage %s: its MLflow run at %s could not be opened (%s: %s)", stage, uri, type(err).__name__, err)
                raise
            opened["run"] = mlflow.start_run(run_id=rid)
            if not run_id:
                story.log_datasets(stage, opened["hashes"], root, base[TAG_EDITION])
        return opened["run"]

    handle = StageRun(activate=activate)
    opening_of_stage[:] = [activate]
    try:
        yield handle
        handle.run
        if entry.STARTUP and not run_id:   # a stage process (utils/entry.py): how long it took to start its work
            handle.set_tags({TAG_STARTUP: f"{entry.STARTUP[0]:.2f}"})
        _describe(stage, handle, opened["hashes"], opened["sha"], opened["dirty"], [Path(d).as_posix() for d in deps])
    except BaseException as err:
        import mlflow

        opening_of_stage.clear()
        try:
            handle.run
        except Exception:  # noqa: BLE001 (no run to mark, and the log said why: the stage's own error is the one to raise)
            raise err from None
        try:
            mlflow.set_tag(TAG_ERROR, f"{type(err).__name__}: {err}"[:5000])
        finally:
            mlflow.end_run(status="FAILED" if not isinstance(err, KeyboardInterrupt) else "KILLED")
        raise
    else:
        import mlflow

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

    settle()
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

    settle()
    run = mlflow.active_run()
    return StageRun(run) if run is not None else None


def log_to_run(run_id: str, metrics: dict[str, float]) -> None:
    """Log ``metrics`` to another (finished) run, e.g. the held-out scores to the training run they belong to."""
    from mlflow.tracking import MlflowClient

    settle()
    client = MlflowClient()
    for k, v in metrics.items():
        client.log_metric(run_id, k, float(v))


# ---------------------------------------------------------------------------------------------- reading the store
def use_store(start: Path | None = None) -> str:
    """Point MLflow at the project's store (``MLFLOW_TRACKING_URI`` wins) and return the URI (for the CLI)."""
    from brats_mlops.config.schema import load_params

    return _set_uri(tracking_uri(load_params(real_project_root(start) / "params.yaml")))


def _set_uri(uri: str) -> str:
    """Point MLflow at ``uri`` (importing it); see :func:`_point_at`."""
    import mlflow

    mlflow.set_tracking_uri(_point_at(uri))
    return uri


def _point_at(uri: str) -> str:
    """Point MLflow at ``uri`` through ``MLFLOW_TRACKING_URI`` (what MLflow reads when no URI was set; what its
    ``set_tracking_uri`` sets for subprocesses), so without importing MLflow. A database server that cannot be
    reached is one clear error within seconds (MLflow would retry for minutes, then print a traceback)."""
    if "://" in uri and not uri.startswith(("sqlite:", "http:", "https:", "file:", "databricks")):
        from brats_mlops.utils.db import check_database

        check_database(uri)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    if "mlflow" in sys.modules and hasattr(sys.modules["mlflow"], "set_tracking_uri"):
        sys.modules["mlflow"].set_tracking_uri(uri)
    return uri


from brats_mlops.tracking.store import (UI_VIEW, download_artifact, experiment_names, find_runs,  # noqa: E402,F401
                                        latest_stage_runs, run_params, ui_url)
