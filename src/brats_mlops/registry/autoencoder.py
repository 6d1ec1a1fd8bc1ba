"""The autoencoder as an MLflow pyfunc: input volume(s) or a case folder → posterior-mean latent(s).

``predict`` accepts
  * an ``(1, X, Y, Z)`` or ``(N, 1, X, Y, Z)`` array already prepared like ``autoencoder/<id>.b2nd``;
  * a case folder (``str``/``Path``) in BraTS 2020 or 2023 naming, prepared as in preprocessing.
It returns the latent means ``(N, C, x, y, z)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from brats_mlops.config.schema import PathsParams
from brats_mlops.models.checkpoint import load_autoencoder
from brats_mlops.names import MODEL_AUTOENCODER
from brats_mlops.registry.common import PIP_REQUIREMENTS, lineage_tags, register


class AutoencoderPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.model, ck = load_autoencoder(context.artifacts["checkpoint"])
        self.mc = ck["model_config"]

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would turn them into a schema
        from brats_mlops.inference.latents import case_input, latent_means

        if isinstance(model_input, (str, Path)):
            return latent_means(self.model, case_input(model_input, self.mc))
        if isinstance(model_input, np.ndarray):
            return latent_means(self.model, model_input)
        raise TypeError(f"unsupported input {type(model_input).__name__}: pass a case folder or a (N, 1, X, Y, Z) array")


def log_and_register(checkpoint: Path, metrics: dict[str, float], tags: dict[str, str], alias: str = "challenger",
                     name: str = MODEL_AUTOENCODER) -> tuple[str, str]:
    """Log the checkpoint as a pyfunc model in the active run, register it under ``name`` and set ``alias``."""
    info = mlflow.pyfunc.log_model(name="autoencoder_model", python_model=AutoencoderPyfunc(),
                                   artifacts={"checkpoint": str(checkpoint)}, pip_requirements=PIP_REQUIREMENTS)
    return info.model_uri, register(info.model_uri, name, metrics, tags, alias)


def register_trained(checkpoint: Path, val_l1: float, run_id: str, paths: PathsParams) -> tuple[str, str]:
    """Register the ``train_autoencoder`` stage's best checkpoint with its lineage tags (data hash, commit, run)."""
    return log_and_register(checkpoint, {"val_l1": val_l1}, lineage_tags(paths, run_id))
