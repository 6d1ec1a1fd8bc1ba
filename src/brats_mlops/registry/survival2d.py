"""Seed 001's combined pipeline as an MLflow pyfunc: case folder + age → the 2-D segmentation model's masks →
ResNet50 survival bin per axial slice → the patient's bin by majority vote over the non-empty slices.

``predict`` takes ``{"case_dir": ..., "age": ...}`` (or a DataFrame with those columns) and returns a DataFrame:
``bin``, ``bin_name`` (day range), ``probabilities`` (mean bin probabilities over the voting slices), ``n_slices``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from brats_mlops.config.schema import PathsParams
from brats_mlops.names import MODEL_SURVIVAL_2D
from brats_mlops.registry.common import PIP_REQUIREMENTS, lineage_tags, register


class Survival2DPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from brats_mlops.models.checkpoint import load_checkpoint, load_segmentation
        from brats_mlops.models.survival2d import SurvivalResNet50

        self.seg, ck = load_segmentation(context.artifacts["segmentation"])
        self.seg_mc = ck["model_config"]
        sv = load_checkpoint(context.artifacts["survival"])
        self.mc = sv["model_config"]
        self.model = SurvivalResNet50(self.mc["n_bins"], self.mc["dropout"])
        self.model.load_state_dict(sv["model"])
        self.model.eval()

    def predict_case(self, case_dir: str | Path, age: float) -> dict[str, Any]:
        from brats_mlops.data.io import load_case_images
        from brats_mlops.data.readers import read_case_folder
        from brats_mlops.inference.slices import predict_crop_2d
        from brats_mlops.survival.slices2d import predict_rows
        from brats_mlops.survival.slices2d_eval import bin_names, majority_vote

        if age is None or not np.isfinite(float(age)):
            raise ValueError("the 2-D survival model needs the patient's age")
        case = read_case_folder(case_dir, tuple(self.seg_mc["modalities"]))
        images, _, _ = load_case_images(case, self.seg_mc["modalities"])
        masks, _ = predict_crop_2d(self.seg, images, self.seg_mc)
        has = masks.reshape(-1, masks.shape[-1]).any(0)
        zs = np.flatnonzero(has) if has.any() else np.arange(masks.shape[-1])
        rows = pd.DataFrame({"case_id": "case", "z": zs, "bin": 0, "age": float(age)})
        probs = predict_rows(self.model, rows, {"case": masks}, self.mc["size"], tuple(self.mc["age_range"]))
        b = majority_vote(probs.argmax(1), probs)
        return {"bin": b, "bin_name": bin_names(self.mc["edges"])[b], "probabilities": probs.mean(0).tolist(), "n_slices": len(zs)}

    def predict(self, context, model_input, params=None):  # no type hints: MLflow would turn them into a schema
        if isinstance(model_input, dict):
            model_input = pd.DataFrame([model_input])
        if isinstance(model_input, pd.DataFrame) and {"case_dir", "age"} <= set(model_input.columns):
            return pd.DataFrame([self.predict_case(r.case_dir, r.age) for r in model_input.itertuples()])
        raise TypeError("pass {'case_dir': DIR, 'age': YEARS} or a DataFrame with 'case_dir' and 'age' columns")


def register_survival_2d(survival_checkpoint: Path, segmentation_checkpoint: Path, metrics: dict[str, float], run_id: str,
                         paths: PathsParams) -> tuple[str, str]:
    """Log the combined pipeline in the active run and register it as ``brats-survival-2d`` @challenger."""
    info = mlflow.pyfunc.log_model(name="survival_2d_model", python_model=Survival2DPyfunc(), pip_requirements=PIP_REQUIREMENTS,
                                   artifacts={"survival": str(survival_checkpoint), "segmentation": str(segmentation_checkpoint)})
    tags = lineage_tags(paths, run_id)
    return info.model_uri, register(info.model_uri, MODEL_SURVIVAL_2D, metrics, tags)
