"""nnU-Net as a registered model (``brats-segmentation-nnunet``): an MLflow pyfunc around nnU-Net's predictor, with the
trained model's files (``plans.json``, ``dataset.json``, ``fold_<k>/checkpoint_final.pth``) inside the artifact.

``predict`` accepts the same inputs as the platform's segmentation pyfunc: a case folder (labels in that folder's
convention), a ``(C, H, W, D)`` array (with ``params={"spacing": [...], "label_convention": ...}``), or a DataFrame
with a ``case_dir`` column. Mirroring TTA follows the registered flag (``brats.tta``); nnU-Net's predictor averages the
registered folds.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from brats_mlops.config.schema import PathsParams
from brats_mlops.names import MODEL_SEGMENTATION_NNUNET, TAG_ABLATION_GROUP, TAG_FOLDS, TAG_NETWORK, TAG_TTA
from brats_mlops.registry.common import PIP_REQUIREMENTS, lineage_tags, register
from brats_mlops.registry.segmentation import SegmentationPyfunc

SETTINGS = "brats_nnunet.json"


class NnunetPyfunc(SegmentationPyfunc):  # predict(): the platform's input handling
    def load_context(self, context: Any) -> None:
        from brats_mlops.nnunet.predict import load_predictor

        folder = Path(context.artifacts["model_folder"])
        self.settings = json.loads((folder / SETTINGS).read_text())
        self.modalities = tuple(self.settings["modalities"])
        self.predictor = load_predictor(folder, self.settings["folds"], tta=self.settings["tta"] == "mirror")

    def labels(self, images: np.ndarray, spacing: tuple[float, ...] | None = None, tta: str | None = None) -> np.ndarray:
        """Internal labels; ``tta`` "mirror"/"none" overrides the registered setting for this call."""
        from brats_mlops.nnunet.predict import predict_internal

        if spacing is None:
            raise ValueError("nnU-Net needs the voxel spacing of the images: it resamples them to its plans (an array "
                             "input: params={'spacing': [sx, sy, sz]} in mm)")
        self.predictor.use_mirroring = (tta or self.settings["tta"]) == "mirror"
        return predict_internal(self.predictor, images, spacing)



def package(model_folder: Path, folds: list[int], modalities: list[str] | tuple[str, ...], tta: str, out: Path) -> Path:
    """The files the pyfunc needs, copied to ``out``: plans, dataset.json, each fold's final checkpoint, settings."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ("plans.json", "dataset.json"):
        shutil.copy2(model_folder / name, out / name)
    for f in folds:
        (out / f"fold_{f}").mkdir()
        shutil.copy2(model_folder / f"fold_{f}" / "checkpoint_final.pth", out / f"fold_{f}" / "checkpoint_final.pth")
    (out / SETTINGS).write_text(json.dumps({"folds": list(folds), "modalities": list(modalities), "tta": tta}) + "\n")
    return out


def register_nnunet(model_folder: Path, folds: list[int], modalities: list[str] | tuple[str, ...], tta: str,
                    metrics: dict[str, float], train_run_id: str | None, ablation_group: str, paths: PathsParams,
                    alias: str = "challenger") -> tuple[str, str]:
    """Log the trained nnU-Net as a pyfunc in the active run and register it as ``brats-segmentation-nnunet``
    (lineage tags as for the platform's models, ``brats.tta``, ``brats.folds``); returns ``(model_uri, version)``."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = package(model_folder, folds, modalities, tta, Path(tmp) / "nnunet_model")
        info = mlflow.pyfunc.log_model(name="segmentation_model", python_model=NnunetPyfunc(),
                                       artifacts={"model_folder": str(staged)},
                                       pip_requirements=PIP_REQUIREMENTS + ["nnunetv2==2.8.1"])
    tags = lineage_tags(paths, train_run_id, model_folder / "plans.json", **{
        TAG_ABLATION_GROUP: ablation_group, TAG_TTA: tta, TAG_FOLDS: ",".join(map(str, folds)), TAG_NETWORK: "nnU-Net v2"})
    return info.model_uri, register(info.model_uri, MODEL_SEGMENTATION_NNUNET, metrics, tags, alias)
