"""Registering a logged model: one version per call, its metrics and lineage as version tags, an alias."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from brats_mlops.names import TAG_DATA_HASH, TAG_DATA_VALIDATION, TAG_GIT_COMMIT, TAG_TRAIN_RUN

TYPE_HINT_NOTICE = "Add type hints to the `predict` method"


def _hide_type_hint_notice() -> None:
    """Drop MLflow's "Add type hints to the `predict` method" notice (printed, in colour, whenever one of our pyfunc
    classes is defined, i.e. on every model log and load). Our ``predict`` methods take case folders, arrays and
    frames on purpose, so a type-hint schema would be wrong. A ``warnings.filterwarnings`` rule cannot do it: MLflow
    raises the notice inside its own ``catch_warnings`` with ``simplefilter("once")``, ahead of any filter of ours;
    so the notice is dropped where warnings are shown, every other warning passes through. ``BRATS_VERBOSE=1``
    (``brats-mlops --verbose``) keeps it."""
    shown = warnings.showwarning
    if getattr(shown, "_brats_quiet", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 (warnings' signature)
        if TYPE_HINT_NOTICE in str(message) and os.environ.get("BRATS_VERBOSE", "") in ("", "0"):
            return
        shown(message, category, filename, lineno, file, line)

    showwarning._brats_quiet = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


_hide_type_hint_notice()

def _pinned(*dists: str) -> list[str]:
    """``dist==<installed version>``: what a logged model needs, as installed (the lock file's pins), never a stale copy."""
    from importlib.metadata import version

    return [f"{d}=={version(d).split('+')[0]}" for d in dists]   # torch 2.13.0+cpu: pin the public version


# a registered model's environment (MLflow warns on load where the current one differs)
PIP_REQUIREMENTS = _pinned("torch", "monai", "nibabel", "numpy", "scikit-learn") + ["brats-mlops"]


def register(model_uri: str, name: str, metrics: dict[str, float], tags: dict[str, Any], alias: str = "challenger") -> str:
    """Register ``model_uri`` under ``name``, tag the version (``metric.<k>`` for each metric) and point ``alias`` at it.

    Returns the new version.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    from brats_mlops.registry.card import version_card

    mv = mlflow.register_model(model_uri, name)
    client = MlflowClient()
    for k, v in {**tags, **{f"metric.{k}": f"{v:.6g}" for k, v in metrics.items()}}.items():
        client.set_model_version_tag(name, mv.version, k, str(v))
    client.set_registered_model_alias(name, alias, mv.version)
    run = mlflow.active_run()
    run_data = client.get_run(run.info.run_id).data if run is not None else None
    if run is not None and model_uri.startswith("models:/m-"):   # MLflow 3: the logged model carries its metrics too
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, model_id=model_uri.removeprefix("models:/"))
    client.update_model_version(name, mv.version, description=version_card(
        name, str(mv.version), metrics, tags, run_data.metrics if run_data else None, run_data.tags if run_data else None))
    return str(mv.version)


def tag_metrics(tags: dict[str, str]) -> dict[str, float]:
    """The metrics a registered version carries as ``metric.<key>`` tags (what :func:`register` writes)."""
    out = {}
    for k, v in tags.items():
        if k.startswith("metric."):
            try:
                out[k.removeprefix("metric.")] = float(v)
            except ValueError:
                pass
    return out


def data_validation_tag(metrics_dir: str | Path) -> dict[str, str]:
    """``{"brats.data_validation": ...}`` from the validate stage's summary: ``passed (...)`` when validation ran
    and every case used passed it (quarantined cases never reach training), else ``not run``."""
    import json

    p = Path(metrics_dir) / "data_validation.json"
    if not p.is_file():
        return {TAG_DATA_VALIDATION: "not run"}
    m = json.loads(p.read_text())
    return {TAG_DATA_VALIDATION: f"passed ({m.get('passed')} of {m.get('cases_seen')} cases; "
                                     f"{m.get('quarantined')} quarantined and excluded; source {m.get('source')})"}


def lineage_tags(paths: Any, train_run_id: str | None, data_file: str | Path | None = None, **extra: Any) -> dict[str, str]:
    """The lineage every registered version carries: the hash of the data it was trained on (``data_file``, default the
    preprocessing plans; ``None`` with ``data_file=False``), the git commit, the run that trained it, the validate
    stage's verdict on the data, and ``extra`` tags (by their names.py constants)."""
    from brats_mlops.tracking import git_commit, real_project_root
    from brats_mlops.utils.hashing import content_hash

    sha, _ = git_commit(real_project_root())
    tags: dict[str, Any] = {TAG_GIT_COMMIT: sha, TAG_TRAIN_RUN: str(train_run_id)}
    if data_file is not False:
        tags[TAG_DATA_HASH] = content_hash(Path(data_file) if data_file else Path(paths.preprocessed_dir) / "plans.json")
    return {**tags, **data_validation_tag(paths.metrics_dir), **extra}


def load_registered(uri: str) -> Any:
    """Load a registered pyfunc; a missing alias/version becomes a message that says what to do."""
    import mlflow

    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as err:
        raise LookupError(f"cannot load {uri}: {type(err).__name__}: {str(err)[:300]}. `brats-mlops models` lists the "
                          "versions and aliases; `brats-mlops promote <name>` sets @champion, or pass --alias/--version") from err
