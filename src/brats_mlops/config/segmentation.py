"""Params of the 3-D segmentation branch (``segmentation``): network, loss, optimiser, augmentation, selection,
transfer learning. Re-exported by :mod:`brats_mlops.config.schema`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from brats_mlops.config.paths import Section as _Section


class LossParams(_Section):
    dice: float = Field(1.0, ge=0.0)  # soft Dice over the non-background classes (regions in region mode)
    ce_beta: float = Field(0.0, ge=0.0)  # β of the class-weighted cross-entropy (BCE in region mode)
    focal: float = Field(0.0, ge=0.0)
    edge: float = Field(0.0, ge=0.0)
    mse: float = Field(0.0, ge=0.0)  # MSE of the probabilities against the one-hot target (seed 003: 0.25 with CE 0.0044, edge 0.00015)

    @model_validator(mode="after")
    def _some(self) -> "LossParams":
        if self.dice + self.ce_beta + self.focal + self.edge + self.mse == 0:
            raise ValueError("all loss weights are 0: set at least one of dice, ce_beta, focal, edge, mse > 0")
        return self


class AugmentationParams(_Section):
    enabled: bool = True
    flip_p: float = Field(0.5, ge=0.0, le=1.0)  # left-right flip probability
    affine_p: float = Field(1 / 3, ge=0.0, le=1.0)
    scales: tuple[float, float] = (0.6, 1.4)
    degrees: float = Field(15.0, ge=0.0)
    translation: float = Field(5.0, ge=0.0)  # voxels
    log_gamma: float = Field(0.3, ge=0.0)  # gamma with log(γ) uniform in ±log_gamma
    isotropic: bool = False  # one scale factor for all axes (the paper); False: one per axis (TorchIO's default)
    bias_field: bool = False  # opt-in: slow on CPU (see STACK-NOTES)
    bias_field_p: float = Field(0.3, ge=0.0, le=1.0)  # probability when bias_field is on (the paper: 0.2)
    elastic: bool = False  # opt-in: slow on CPU


class SegmentationParams(_Section):
    model: Literal["res_se_unet", "res_se_unet_deeper", "unet3d", "res_unet", "segresnet"] = "res_se_unet"
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)  # per level; the deeper variant appends 320
    mode: Literal["label", "region"] = "label"
    loss: LossParams = LossParams()
    region_thresholds: tuple[float, float, float] = (0.5, 0.5, 0.5)  # WT, TC, ET in region mode
    epochs: int = Field(30, ge=1)
    folds: int = Field(1, ge=1)  # k > 1: k-fold cross-validation over the non-test cases, one nested MLflow run per fold
    batch_size: int = Field(2, ge=1)
    grad_accum: int = Field(2, ge=1)
    lr: float = Field(1e-4, gt=0.0)
    lr_min: float = Field(5e-5, ge=0.0)
    optimizer: Literal["adamw", "adam"] = "adamw"  # seed 003: adam (no weight decay)
    schedule: Literal["cosine", "exponential"] = "cosine"  # cosine to lr_min (paper) | lr x exp_gamma per epoch (seed 003)
    exp_gamma: float = Field(0.95, gt=0.0, le=1.0)
    select_on: Literal["dice", "dice_hd95"] = "dice"  # checkpoint selection: composite Dice | Dice and HD95 together (seed 003)
    hd95_scale: float = Field(100.0, gt=0.0)  # dice_hd95 score = composite Dice - mean HD95 (voxels) / hd95_scale
    weight_decay: float = Field(1e-3, ge=0.0)
    warmup_epochs: int = Field(0, ge=0)
    num_workers: int = Field(2, ge=0)
    val_every: int = Field(1, ge=1)
    augmentation: AugmentationParams = AugmentationParams()
    sw_overlap: float = Field(0.5, ge=0.0, lt=1.0)  # sliding-window overlap at evaluation
    postprocess_min_voxels: int = Field(50, ge=0)  # evaluation reports metrics before and after post-processing
    postprocess_predictions: bool = False  # seed 003: predict and the registered model return post-processed labels
    ablation_group: str = "default"  # tag to compare runs (brats-mlops compare / dvc exp show)
    max_eval_cases: int | None = Field(None, ge=1)  # cap held-out cases at evaluation (None: all)
    init_from: str | None = None  # transfer learning: models:/<name>@<alias> or /<version>, or a checkpoint path
    freeze: Literal["none", "encoder", "middle", "decoder"] = "none"  # parameter group frozen when fine-tuning
    freeze_patterns: tuple[str, ...] = ()  # more frozen parameters by name pattern (fnmatch), e.g. "enc.0.*"

    @model_validator(mode="after")
    def _lr(self) -> "SegmentationParams":
        if self.lr_min > self.lr:
            raise ValueError(f"segmentation.lr_min={self.lr_min} must be <= segmentation.lr={self.lr}")
        if self.warmup_epochs >= self.epochs and self.warmup_epochs:
            raise ValueError(f"segmentation.warmup_epochs={self.warmup_epochs} must be < epochs={self.epochs}")
        return self
