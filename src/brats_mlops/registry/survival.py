"""The survival classifier as an MLflow pyfunc: case folder (+ age) → survival class and its probability.

The model bundles what it needs: the autoencoder checkpoint it was trained with (the version is recorded as a
tag), the feature set that turns a latent into features, and the fitted scikit-learn pipeline (scaler, PCA,
classifier). ``predict`` accepts
  * a dict ``{"case_dir": ..., "age": ...}`` (``age`` required when the feature set uses it);
  * a ``pandas.DataFrame`` with ``case_dir`` (or ``latent_path`` to a saved ``.npy`` latent) and ``age`` columns.
It returns a DataFrame: ``class``, ``class_name``, ``probability`` (of that class) and ``p_<class>`` for each class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from brats_mlops.config.schema import PathsParams
from brats_mlops.models.checkpoint import checkpoint_run_id
from brats_mlops.names import (MODEL_AUTOENCODER, MODEL_SURVIVAL, TAG_AE_RUN, TAG_AE_VERSION, TAG_FEATURE_SET,
                               TAG_TRAIN_RUN)
from brats_mlops.registry.common import PIP_REQUIREMENTS, lineage_tags, register
from brats_mlops.survival.branch import Registrable


class SurvivalPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        import joblib

        from brats_mlops.models.checkpoint import load_autoencoder

        self.ae, ck = load_autoencoder(context.artifacts["autoencoder"])
        self.mc = ck["model_config"]
        self.pipe = joblib.load(context.artifacts["classifier"])
        self.meta = json.loads(Path(context.artifacts["meta"]).read_text())

    def features(self, latent: np.ndarray, age: float | None) -> np.ndarray:
        from brats_mlops.survival.experiment import LATENT_FEATURES

        x = LATENT_FEATURES[self.meta["feature_set"]](latent).astype(float)
        if self.meta["with_age"]:
            if age is None or not np.isfinite(age):
                raise ValueError(f"this survival model ({self.meta['feature_set']} + age) needs the patient's age")
            x = np.append(x, float(age))
        return x

    def latent_of(self, row: dict[str, Any]) -> np.ndarray:
        from brats_mlops.inference.latents import case_input, latent_means

        if row.get("latent_path"):
            return np.load(row["latent_path"])
        if row.get("case_dir"):
            return latent_means(self.ae, case_input(row["case_dir"], self.mc))[0]
        raise ValueError("each input needs 'case_dir' (a case folder) or 'latent_path'")

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would turn them into a schema
        if isinstance(model_input, dict):
            rows = [model_input]
        elif isinstance(model_input, pd.DataFrame):
            rows = model_input.to_dict("records")
        else:
            raise TypeError(f"unsupported input {type(model_input).__name__}: pass {{'case_dir': ..., 'age': ...}} or a DataFrame")
        X = np.stack([self.features(self.latent_of(r), r.get("age")) for r in rows])
        proba = self.pipe.predict_proba(X)
        classes = [int(c) for c in self.pipe.classes_]
        names = self.meta.get("class_names", {})
        out = pd.DataFrame({f"p_{c}": proba[:, i] for i, c in enumerate(classes)})
        best = proba.argmax(1)
        out.insert(0, "probability", proba[np.arange(len(rows)), best])
        out.insert(0, "class_name", [names.get(str(classes[b]), str(classes[b])) for b in best])
        out.insert(0, "class", [classes[b] for b in best])
        return out


def class_names(target: str, edges: list[float]) -> dict[str, str]:
    """Readable names of the survival classes (e.g. ``"<370 d"``, ``">=370 d"``)."""
    bounds = [None, *edges, None]
    names = {}
    for k in range(len(edges) + 1):
        lo, hi = bounds[k], bounds[k + 1]
        names[str(k)] = f"<{hi:g} d" if lo is None else (f">={lo:g} d" if hi is None else f"{lo:g}-{hi:g} d")
    return names


def log_and_register(autoencoder_checkpoint: Path, pipeline: Any, meta: dict[str, Any], metrics: dict[str, float],
                     tags: dict[str, str], workdir: Path, alias: str = "challenger", name: str = MODEL_SURVIVAL) -> tuple[str, str]:
    """Log the bundle as a pyfunc model in the active run, register it under ``name`` and set ``alias``."""
    import joblib

    workdir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, workdir / "classifier.joblib")
    (workdir / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    info = mlflow.pyfunc.log_model(name="survival_model", python_model=SurvivalPyfunc(), pip_requirements=PIP_REQUIREMENTS,
                                   artifacts={"autoencoder": str(autoencoder_checkpoint), "classifier": str(workdir / "classifier.joblib"),
                                              "meta": str(workdir / "meta.json")})
    return info.model_uri, register(info.model_uri, name, metrics, tags, alias)


def autoencoder_version(run_id: str | None) -> str | None:
    """The registered brats-autoencoder version trained by ``run_id`` (the one the survival model needs)."""
    from mlflow.tracking import MlflowClient

    if not run_id:
        return None
    for mv in MlflowClient().search_model_versions(f"name='{MODEL_AUTOENCODER}'"):
        if mv.tags.get(TAG_TRAIN_RUN) == run_id:
            return str(mv.version)
    return None


def register_selected(sel: Registrable, run_id: str, paths: PathsParams) -> tuple[str, str, str | None]:
    """Register the survival stage's selected latent pipeline with the autoencoder checkpoint it needs; tags name
    the autoencoder version and run, the commit and the survival run. Returns ``(uri, version, autoencoder_version)``."""
    import tempfile

    ae_dir = paths.autoencoder_checkpoints
    ae_run = checkpoint_run_id(ae_dir)
    ae_version = autoencoder_version(ae_run)
    meta = {**sel.meta, "class_names": class_names(sel.meta["target"], sel.meta["edges"]), "autoencoder_version": ae_version}
    tags = lineage_tags(paths, run_id, False, **{TAG_AE_VERSION: str(ae_version), TAG_AE_RUN: str(ae_run),
                                                 TAG_FEATURE_SET: sel.result.label})
    with tempfile.TemporaryDirectory() as tmp:
        uri, version = log_and_register(ae_dir / "best.pt", sel.pipeline, meta, sel.metrics, tags, Path(tmp))
    return uri, version, ae_version
