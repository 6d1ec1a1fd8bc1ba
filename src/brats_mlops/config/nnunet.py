"""Params of the nnU-Net v2 bridge (``nnunet``; run by ``nnunet/dvc.yaml``).

The defaults train nnU-Net on a 2-core CPU in about the wall time of the platform's own 3-D training
(``train_segmentation``), so the two meet at an equal CPU budget. nnU-Net's own settings (1000 epochs of 250
iterations, 5 folds) are the preset ``params/presets/nnunet_gpu.yaml`` — a GPU job.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from brats_mlops.config.paths import Section as _Section


class NnunetParams(_Section):
    dataset_id: int = Field(500, ge=1, le=999)  # nnU-Net's Dataset<id>_BraTSPlatform
    configuration: Literal["3d_fullres", "2d", "3d_lowres"] = "3d_fullres"
    folds: tuple[int, ...] = (0,)  # folds of the platform's split to train (0: its train/val; more: segmentation.folds)
    epochs: int = Field(3, ge=1)  # nnU-Net: 1000
    iterations_per_epoch: int = Field(8, ge=1)  # nnU-Net: 250
    val_iterations_per_epoch: int = Field(2, ge=1)  # nnU-Net: 50
    initial_lr: float = Field(0.01, gt=0.0)
    augmentation_workers: int = Field(0, ge=0)  # nnUNet_n_proc_DA (0: in-process and reproducible; >0: unseeded workers)
    preprocess_workers: int = Field(2, ge=1)  # fingerprint extraction and preprocessing processes
    tta: Literal["mirror", "none"] = "mirror"  # nnU-Net's mirroring at prediction (its default) or none
    max_eval_cases: int | None = Field(None, ge=1)
    ablation_group: str = "nnunet"
