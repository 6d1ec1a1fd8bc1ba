"""The platform's 3-D networks (paper §3–4): residual SE U-Nets, the plain 3-D U-Net, MONAI's SegResNet.

Trained on 3-D crops by :class:`~brats_mlops.training.segmentation.SegmentationTrainer` (k-fold cross-validation,
DDP, transfer learning), predicted with a Gaussian-blended sliding window over the brain's bounding box, with
nnU-Net's mirroring TTA and fold/version ensembling. :class:`VolumetricFamily` is also the base of a new 3-D family
that only brings another network (override :meth:`build` and name its section; see ``docs/how-to/add-a-model-family.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brats_mlops.families.checkpoints import CheckpointFamily
from brats_mlops.names import MODEL_SEGMENTATION, MODEL_SURVIVAL, STAGE_EVAL_SEG, STAGE_TRAIN_SEG


class VolumetricFamily(CheckpointFamily):
    """A 3-D network trained by the platform's 3-D trainer and predicted by the sliding window."""

    spatial_dims = 3
    supports_tta = True
    supports_ensemble = True
    supports_folds = False  # k-fold training (segmentation.folds): the built-in 3-D family

    def build(self, mc: dict[str, Any]):
        from brats_mlops.models.catalog import build_model

        return build_model(mc["model"], in_channels=mc["in_channels"], num_classes=mc["out_channels"], channels=tuple(mc["channels"]))

    def predict_labels(self, models, images, mc, device="cpu", overlap=None, tta=None):
        from brats_mlops.inference.segment import sliding_window_labels

        return sliding_window_labels(models, images, mc, device=device, overlap=overlap, tta=tta)

    def train(self, params, run, history_path: Path | None = None, parent=None):
        from brats_mlops.training.segmentation import train_segmentation

        return train_segmentation(params, run, self.checkpoint_dir(params), history_path, section=self.section, kind=self.kind,
                                  parent=parent)


class Platform3D(VolumetricFamily):
    key, kind, title, section = "3d", "3d", "3-D", "segmentation"
    description = "the paper's residual SE U-Nets, 3-D U-Net, SegResNet (segmentation.model), on 3-D crops"
    registered_name, survival_model = MODEL_SEGMENTATION, MODEL_SURVIVAL
    train_stage, eval_stage, metrics_name = STAGE_TRAIN_SEG, STAGE_EVAL_SEG, "segmentation"
    eval_sections = ("segmentation", "evaluate")
    supports_folds = True

    def checkpoint_dir(self, params) -> Path:
        return Path(params.paths.segmentation_checkpoints)


FAMILY = Platform3D()
