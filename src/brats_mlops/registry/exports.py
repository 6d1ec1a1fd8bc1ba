"""The registry side of ``brats-mlops export``: which version a reference names, its files and facts, and the record
that links an export back to it (an ``export`` run in the segmentation experiment, tagged with the version, its data
hash, commit and metric profile; the version gets a ``brats.export.<format>`` tag naming that run)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brats_mlops.errors import UserError
from brats_mlops.names import (TAG_DATA_HASH, TAG_DATA_VALIDATION, TAG_GIT_COMMIT, TAG_METRIC_PROFILE, TAG_PREFIX,
                               TAG_STAGE, TAG_TRAIN_RUN)

TAG_EXPORT_PREFIX = f"{TAG_PREFIX}export."  # on a version: brats.export.<format> = the run that recorded the export
_REF = re.compile(r"^(?:models:/)?(?P<name>[\w.-]+?)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))?$")


@dataclass
class RegisteredVersion:
    name: str
    version: str
    tags: dict[str, str]
    metrics: dict[str, float]
    run_id: str | None
    source: str  # the logged model's URI
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


def resolve(ref: str) -> RegisteredVersion:
    """``name``, ``name@alias`` or ``name/version`` (optionally ``models:/``-prefixed; the alias defaults to champion)
    → the registered version; an unknown one is a :class:`UserError` naming what exists."""
    from mlflow.tracking import MlflowClient

    m = _REF.match(ref.strip())
    if not m:
        raise UserError(f"{ref!r} is not a model reference: use NAME, NAME@ALIAS or NAME/VERSION (e.g. brats-segmentation@champion)")
    name, alias, version = m["name"], m["alias"] or (None if m["version"] else "champion"), m["version"]
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except Exception:
        try:
            have = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        except Exception:
            have = []
        what = f"@{alias}" if alias else f"version {version}"
        raise UserError(f"{name} has no {what} ({'versions: ' + ', '.join(map(str, have)) if have else 'no versions'}); "
                        "`brats-mlops models` lists them, `brats-mlops promote` sets @champion") from None
    from brats_mlops.registry.common import tag_metrics

    return RegisteredVersion(name, str(mv.version), dict(mv.tags), tag_metrics(mv.tags), mv.run_id, mv.source, list(mv.aliases or []))


def download(rv: RegisteredVersion, dst: Path) -> Path:
    """The version's logged model (MLmodel, python_model, artifacts) copied into ``dst``."""
    import mlflow

    dst.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{rv.name}/{rv.version}", dst_path=str(dst)))


def lineage(rv: RegisteredVersion) -> dict[str, Any]:
    """What an export carries about where it came from (also written to the export's ``lineage.json``)."""
    profile = None
    if rv.tags.get(TAG_TRAIN_RUN) not in (None, "None"):
        profile = _evaluation_profile(rv)
    return {"model": rv.name, "version": rv.version, "aliases": rv.aliases, "model_uri": f"models:/{rv.name}/{rv.version}",
            "data_hash": rv.tags.get(TAG_DATA_HASH), "git_commit": rv.tags.get(TAG_GIT_COMMIT),
            "train_run": rv.tags.get(TAG_TRAIN_RUN), "registering_run": rv.run_id,
            "data_validation": rv.tags.get(TAG_DATA_VALIDATION), "metric_profile": profile, "metrics": rv.metrics}


def _evaluation_profile(rv: RegisteredVersion) -> str | None:
    """The official metric profile of the evaluation run that registered the version."""
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient().get_run(rv.run_id).data.tags.get(TAG_METRIC_PROFILE) if rv.run_id else None
    except Exception:
        return None


def record_export(rv: RegisteredVersion, fmt: str, out: Path, files: list[Path], facts: dict[str, Any]) -> str:
    """An ``export`` run (segmentation experiment) holding the export's small files and facts, tagged with the version
    it came from; the version's ``brats.export.<fmt>`` tag names the run. Returns the run id."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from brats_mlops.names import EXPERIMENTS
    from brats_mlops.tracking import ensure_experiment, real_project_root, tracking_uri

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    exp = ensure_experiment(EXPERIMENTS["segmentation"], real_project_root(), uri)
    tags = {TAG_STAGE: "export", f"{TAG_PREFIX}export_format": fmt, f"{TAG_PREFIX}exported_model": rv.ref,
            **{k: str(v) for k, v in ((TAG_DATA_HASH, rv.tags.get(TAG_DATA_HASH)), (TAG_GIT_COMMIT, rv.tags.get(TAG_GIT_COMMIT)),
                                      (TAG_TRAIN_RUN, rv.tags.get(TAG_TRAIN_RUN))) if v}}
    with mlflow.start_run(experiment_id=exp, run_name=f"export {fmt}: {rv.ref}", tags=tags) as run:
        mlflow.log_params({"format": fmt, "model": rv.name, "version": rv.version, "out": str(out)})
        numeric = {k: float(v) for k, v in facts.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if numeric:
            mlflow.log_metrics(numeric)
        mlflow.log_text(json.dumps(facts, indent=1, default=str), "export/facts.json")
        for f in files:
            mlflow.log_artifact(str(f), "export")
        run_id = run.info.run_id
    MlflowClient().set_model_version_tag(rv.name, rv.version, f"{TAG_EXPORT_PREFIX}{fmt}", run_id)
    return run_id
