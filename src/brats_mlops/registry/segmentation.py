"""The segmentation model as an MLflow pyfunc around a state dict (any input size, no torch.export).

``predict`` accepts
  * a case folder (``str``/``Path``) in BraTS 2020 or 2023 naming → labels in that folder's convention;
  * a ``(C, H, W, D)`` array of the configured modalities → labels in ``params["label_convention"]``
    (default ``brats2020``: 0, 1, 2, 4);
  * a ``pandas.DataFrame`` with a ``case_dir`` column → a list of label volumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from brats_mlops.data.case import internal_to_raw
from brats_mlops.data.io import load_case_images
from brats_mlops.data.readers import read_case_folder
from brats_mlops.inference.segment import predict_labels
from brats_mlops.models.checkpoint import load_segmentation
from brats_mlops.config.schema import PathsParams
from brats_mlops.names import MODEL_SEGMENTATION, TAG_ABLATION_GROUP, TAG_PREFIX
from brats_mlops.registry.common import PIP_REQUIREMENTS, lineage_tags, load_registered, register


def to_convention(labels: np.ndarray, source: str) -> np.ndarray:
    return internal_to_raw(labels, source)


class SegmentationPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.model, ck = load_segmentation(context.artifacts["checkpoint"])
        self.mc = ck["model_config"]
        self.modalities = tuple(self.mc["modalities"])
        # an ensemble (evaluate.ensemble: folds) carries the other folds' checkpoints as ensemble_1, ensemble_2, ...
        extra = sorted((k for k in context.artifacts if k.startswith("ensemble_")), key=lambda k: int(k.split("_")[1]))
        self.models = [self.model] + [load_segmentation(context.artifacts[k])[0] for k in extra]

    def labels(self, images: np.ndarray, spacing: tuple[float, ...] | None = None, tta: str | None = None) -> np.ndarray:
        """Internal labels of a (C, H, W, D) array (its folds' probabilities averaged when it is an ensemble; ``tta``
        "mirror": nnU-Net's mirroring; ``spacing`` in mm, which a family that resamples needs: nnU-Net); post-processed (seed 003) when the model was trained with
        ``segmentation.postprocess_predictions`` — the same function evaluation reports as ``*_post``."""
        lab = predict_labels(self.models, images, self.mc, tta=tta)
        if self.mc.get("postprocess_min_voxels") is not None:
            from brats_mlops.metrics import postprocess

            lab = postprocess(lab, self.mc["postprocess_min_voxels"], scheme=self.mc.get("label_scheme"))
        return lab

    def predict_case(self, folder: str | Path, tta: str | None = None) -> np.ndarray:
        case = read_case_folder(folder, self.modalities)
        images, _, spacing = load_case_images(case, self.modalities)
        return to_convention(self.labels(images, spacing, tta), case.source)

    def array_labels(self, images: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """Internal labels of a (C, H, W, D) array input (``params``: the ``predict`` params)."""
        spacing = params.get("spacing")
        return self.labels(images, tuple(spacing) if spacing is not None else None, params.get("tta"))

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would turn them into a schema
        """Shared by every segmentation pyfunc (nnU-Net's subclasses it): a case folder, a (C, H, W, D) array
        (through :meth:`array_labels`), a DataFrame with ``case_dir``, or ``{"case_dir": ...}``."""
        params = params or {}
        if isinstance(model_input, (str, Path)):
            return self.predict_case(model_input, params.get("tta"))
        if isinstance(model_input, np.ndarray):
            lab = self.array_labels(model_input.astype(np.float32), params)
            return to_convention(lab, params.get("label_convention", "brats2020"))
        import pandas as pd

        if isinstance(model_input, pd.DataFrame) and "case_dir" in model_input.columns:
            return [self.predict_case(p) for p in model_input["case_dir"]]
        if isinstance(model_input, dict) and "case_dir" in model_input:
            return self.predict_case(model_input["case_dir"])
        raise TypeError(f"unsupported input {type(model_input).__name__}: pass a case folder, a (C, H, W, D) array, "
                        "or a DataFrame with a 'case_dir' column")


def log_and_register(checkpoint: Path | list[Path], metrics: dict[str, float], tags: dict[str, str], alias: str = "challenger",
                     name: str = MODEL_SEGMENTATION) -> tuple[str, str]:
    """Log the checkpoint (a list: an ensemble, the first one's config) as a pyfunc model in the active run, register it
    under ``name`` and set ``alias``.

    Returns ``(model_uri, version)``.
    """
    cks = [checkpoint] if isinstance(checkpoint, (str, Path)) else list(checkpoint)
    artifacts = {"checkpoint": str(cks[0]), **{f"ensemble_{i}": str(c) for i, c in enumerate(cks[1:], 1)}}
    info = mlflow.pyfunc.log_model(name="segmentation_model", python_model=SegmentationPyfunc(),
                                   artifacts=artifacts, pip_requirements=PIP_REQUIREMENTS)
    return info.model_uri, register(info.model_uri, name, metrics, tags, alias)


def register_evaluated(checkpoint: Path | list[Path], metrics: dict[str, float], train_run_id: str | None, ablation_group: str,
                       paths: PathsParams, name: str = MODEL_SEGMENTATION, tags: dict[str, str] | None = None) -> tuple[str, str]:
    """Register the ``evaluate_segmentation`` stage's scored checkpoint (3-D, or the 2-D slice model as
    ``brats-segmentation-2d``) with its lineage tags (data hash, commit, training run, ablation group, data validation)
    and ``tags`` (e.g. ``brats.evaluate_tta``: the metrics were measured with test-time augmentation, which the
    registered model's own ``predict`` does not apply)."""
    from brats_mlops.models.checkpoint import load_checkpoint

    first = checkpoint if isinstance(checkpoint, (str, Path)) else checkpoint[0]
    parent = {f"{TAG_PREFIX}{k}": v for k, v in load_checkpoint(first)["model_config"].get("parent", {}).items()}
    return log_and_register(checkpoint, metrics, {**parent, **lineage_tags(paths, train_run_id, **{TAG_ABLATION_GROUP: ablation_group}),
                                                  **(tags or {})}, name=name)


def parent_weights(init_from: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Transfer learning's start: ``(state dict, model config, lineage)`` of ``init_from``, a registered model
    (``models:/<name>@<alias>`` or ``models:/<name>/<version>``; lineage ``parent_model`` + ``parent_version``) or a
    checkpoint path (lineage ``parent_checkpoint``)."""
    from brats_mlops.errors import UserError
    from brats_mlops.models.checkpoint import load_checkpoint

    if not init_from.startswith("models:/"):
        path = Path(init_from)
        if not path.is_file():
            raise UserError(f"segmentation.init_from={init_from!r}: no such checkpoint file (or use models:/<name>@<alias>)")
        ck = load_checkpoint(path)
        return ck["model"], ck["model_config"], {"parent_checkpoint": str(path)}
    from mlflow.tracking import MlflowClient

    ref = init_from.removeprefix("models:/")
    name, alias = ref.split("@", 1) if "@" in ref else (ref.split("/", 1)[0], None)
    try:
        version = MlflowClient().get_model_version_by_alias(name, alias).version if alias else ref.split("/", 1)[1]
    except Exception as err:
        raise UserError(f"segmentation.init_from={init_from!r} does not resolve ({type(err).__name__}); "
                        "`brats-mlops models` lists the registered versions and aliases") from None
    py = load_registered(f"models:/{name}/{version}").unwrap_python_model()
    return py.model.state_dict(), py.mc, {"parent_model": name, "parent_version": str(version)}
