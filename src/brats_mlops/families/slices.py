"""The 2-D slice models of seeds 001 and 004 (U-Net variants on axial slices; ``models/unet2d.py``).

Trained on slices of the preprocessed volumes by :class:`~brats_mlops.training.slices.SliceTrainer`; a case is
predicted slice by slice in the preprocessing crop and put back into its own geometry, so the one evaluation path
scores it exactly like the 3-D networks (and adds seed 004's per-class figures). No TTA or ensembling.
"""

from __future__ import annotations

from pathlib import Path

from brats_mlops.families.checkpoints import CheckpointFamily
from brats_mlops.names import MODEL_SEGMENTATION_2D, MODEL_SURVIVAL_2D, STAGE_EVAL_SEG_2D, STAGE_TRAIN_SEG_2D


class Slices2D(CheckpointFamily):
    key, kind, title, section = "2d", "slices2d", "2-D", "slices2d"
    description = "seeds 001/004's U-Nets on axial slices (slices2d.model), stacked back into volumes"
    registered_name, survival_model = MODEL_SEGMENTATION_2D, MODEL_SURVIVAL_2D
    train_stage, eval_stage, metrics_name = STAGE_TRAIN_SEG_2D, STAGE_EVAL_SEG_2D, "segmentation_2d"
    spatial_dims = 2
    class_scores = True

    def checkpoint_dir(self, params) -> Path:
        return Path(params.paths.slices2d_checkpoints)

    def build(self, mc):
        from brats_mlops.models.unet2d import build_model_2d

        return build_model_2d(mc["model"], in_channels=mc["in_channels"], num_classes=mc["out_channels"])

    def predict_labels(self, models, images, mc, device="cpu", overlap=None, tta=None):
        from brats_mlops.inference.slices import predict_labels_2d

        return predict_labels_2d(models[0], images, mc, device=device)

    def train(self, params, run, history_path: Path | None = None, parent=None):
        from brats_mlops.training.slices import train_segmentation_2d

        return train_segmentation_2d(params, run, history_path=history_path)


FAMILY = Slices2D()
