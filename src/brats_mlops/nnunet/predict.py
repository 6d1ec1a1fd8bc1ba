"""nnU-Net's predictor on the platform's arrays: (C, H, W, D) images in the dataset's geometry → internal labels.

The trained model folder (``plans.json``, ``dataset.json``, ``fold_<k>/checkpoint_final.pth``) is all it needs; the
network is built by the platform's trainer class (nnU-Net's lookup by trainer name would import every trainer module).
Several folds are averaged (nnU-Net's fold ensembling); ``tta`` mirrors along nnU-Net's allowed axes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from brats_mlops.data.labels import get_scheme
from brats_mlops.errors import UserError
from brats_mlops.models.checkpoint import load_nnunet_checkpoint


class ModelFolderError(UserError, FileNotFoundError):
    """A trained nnU-Net model folder without the checkpoints asked for."""


def available_folds(model_folder: Path, checkpoint: str = "checkpoint_final.pth") -> list[int]:
    return sorted(int(p.parent.name.removeprefix("fold_")) for p in Path(model_folder).glob(f"fold_*/{checkpoint}"))


def load_predictor(model_folder: str | Path, folds: list[int] | None = None, tta: bool = True,
                   checkpoint: str = "checkpoint_final.pth"):  # -> nnUNetPredictor
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from brats_mlops.nnunet.trainer import nnUNetTrainer_Platform

    model_folder = Path(model_folder)
    folds = folds if folds is not None else available_folds(model_folder, checkpoint)
    if not folds:
        raise ModelFolderError(f"{model_folder} holds no fold_<k>/{checkpoint}: train nnU-Net first (dvc repro nnunet/dvc.yaml)")
    dataset_json = json.loads((model_folder / "dataset.json").read_text())
    pm = PlansManager(json.loads((model_folder / "plans.json").read_text()))
    cks = [load_nnunet_checkpoint(model_folder / f"fold_{f}" / checkpoint) for f in folds]
    cm = pm.get_configuration(cks[0]["init_args"]["configuration"])
    network = nnUNetTrainer_Platform.build_network_architecture(
        pm, cm, determine_num_input_channels(pm, cm, dataset_json), pm.get_label_manager(dataset_json).num_segmentation_heads,
        enable_deep_supervision=False)
    network.load_state_dict(cks[0]["network_weights"])
    gpu = torch.cuda.is_available()
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=tta, perform_everything_on_device=gpu,
                                device=torch.device("cuda" if gpu else "cpu"), verbose=False, verbose_preprocessing=False,
                                allow_tqdm=False)
    predictor.manual_initialization(network, pm, cm, [c["network_weights"] for c in cks], dataset_json,
                                    cks[0]["trainer_name"], cks[0].get("inference_allowed_mirroring_axes"))
    return predictor


def predict_internal(predictor, images: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Labels (internal convention, the input's shape) of a (C, H, W, D) volume with voxel ``spacing`` (mm), read
    as nibabel reads it: nnU-Net's NibabelIO sees the axes and spacing reversed, so they are reversed here too."""
    x = np.ascontiguousarray(np.asarray(images, dtype=np.float32).transpose(0, 3, 2, 1))
    seg = predictor.predict_single_npy_array(x, {"spacing": [float(s) for s in spacing[::-1]]}, None, None, False)
    back = get_scheme(predictor.dataset_json.get("label_scheme")).from_nnunet()  # data/labels.py
    return np.asarray(back, np.uint8)[np.asarray(seg).transpose(2, 1, 0)]
