"""Params of the 2-D slice systems of seeds 001 and 004 (``slices2d``, ``survival2d``; run by ``slices/dvc.yaml``).

The defaults run on a 2-core CPU in a few minutes; the seeds' exact settings are the presets
``params/presets/seed001.yaml`` and ``seed004.yaml`` (``brats-mlops preset apply seed001``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from brats_mlops.config.paths import Section as _Section


class Slice2DAugmentation(_Section):
    """2-D augmentation of training slices (MONAI dictionary transforms on image and label together)."""

    enabled: bool = True
    flip_p: float = Field(0.5, ge=0.0, le=1.0)  # left-right flip
    rotate_p: float = Field(0.0, ge=0.0, le=1.0)  # in-plane rotation by up to ±degrees
    degrees: float = Field(10.0, ge=0.0, le=180.0)


class Slice2DLoss(_Section):
    """total = weighted_dice·WeightedDice(class_weights) + focal·CategoricalFocal(γ, α) + ce·CrossEntropy."""

    weighted_dice: float = Field(1.0, ge=0.0)  # seed 001: 1 with class_weights [0, 1, 1, 1]
    focal: float = Field(0.0, ge=0.0)  # seed 004: 1 (Keras categorical focal cross-entropy)
    ce: float = Field(0.0, ge=0.0)
    class_weights: tuple[float, ...] = (0.0, 1.0, 1.0, 1.0)
    focal_gamma: float = Field(2.0, ge=0.0)
    focal_alpha: float = Field(0.25, gt=0.0, le=1.0)


class Slices2DParams(_Section):
    """2-D segmentation of axial slices, scored in 3-D beside the 3-D model."""

    model: Literal["resnet18_unet", "seed004_model1", "seed004_model2"] = "resnet18_unet"
    encoder_weights: str | None = None  # resnet18_unet: a local ResNet-18 state dict (no downloads here); null: random init
    size: int | None = Field(None, ge=16)  # resize slices to size x size (seed 001: 256); null: the crop's own size
    normalisation: Literal["zscore", "minmax01"] = "zscore"  # seed 004: minmax01 (per channel, per subject)
    drop_empty: bool = False  # train only on slices with tumour
    empty_slice_fraction: float = Field(1.0, ge=0.0, le=1.0)  # share of tumour-free training slices drawn per epoch
    split_mode: Literal["patient", "slice"] = "patient"  # slice: seed 001's leaky split (an ablation, never the headline)
    loss: Slice2DLoss = Slice2DLoss()
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    schedule: Literal["none", "step", "exponential"] = "step"  # seed 001: step; seed 004: exponential
    step_size: int = Field(10, ge=1)  # step: multiply the lr by step_gamma every step_size epochs
    step_gamma: float = Field(0.1, gt=0.0, le=1.0)
    exp_gamma: float = Field(0.985, gt=0.0, le=1.0)  # exponential: lr *= exp_gamma per epoch (seed 004)
    epochs: int = Field(6, ge=1)
    patience: int | None = Field(None, ge=1)  # early stopping after N validations without improvement (seed 001: 3)
    batch_size: int = Field(16, ge=1)
    num_workers: int = Field(0, ge=0)
    val_every: int = Field(1, ge=1)
    augmentation: Slice2DAugmentation = Slice2DAugmentation()
    infer_batch_size: int = Field(32, ge=1)  # slices per forward pass at inference
    ablation_group: str = "slices2d"
    max_eval_cases: int | None = Field(None, ge=1)

    @field_validator("loss")
    @classmethod
    def _some_loss(cls, v: Slice2DLoss) -> Slice2DLoss:
        if v.weighted_dice + v.focal + v.ce <= 0:
            raise ValueError("at least one of weighted_dice, focal, ce must be > 0")
        return v


class Survival2DParams(_Section):
    """Seed 001's survival bins: ResNet50 on mask slices + an age branch, majority vote per patient."""

    enabled: Literal["auto", True, False] = "auto"  # auto: skip with the reason when the data has no usable survival table
    n_bins: int = Field(3, ge=2, le=10)  # equal-frequency survival bins (seed 001: 3)
    size: int = Field(64, ge=32)  # mask slices resized to size x size (seed 001: 224)
    train_slices: Literal["all", "nonempty"] = "nonempty"  # seed 001 trained on every slice of the GT masks
    slice_stride: int = Field(2, ge=1)  # use every N-th axial slice (1: all; the seed used all)
    weights: str | None = None  # a local ResNet50 state dict (ImageNet weights cannot be downloaded); null: random init
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    lr: float = Field(1e-4, gt=0.0)
    step_size: int = Field(10, ge=1)  # StepLR: lr x step_gamma every step_size epochs (seed 001)
    step_gamma: float = Field(0.1, gt=0.0, le=1.0)
    epochs: int = Field(6, ge=1)  # seed 001: 50 with early stopping (patience 3)
    patience: int | None = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    val_fraction: float = Field(0.15, gt=0.0, lt=1.0)  # patients of the training part held out for early stopping
    leakage_ablation: bool = True  # also train and score on seed 001's slice-level split (the leak, measured)
    n_boot: int = Field(1000, ge=100)  # bootstrap resamples over test patients for the 95% intervals


DIVISORS = {"resnet18_unet": 32, "seed004_model1": 4, "seed004_model2": 8}  # slice sides must be multiples of these


def slices_problem(cfg: Slices2DParams, crop_size: tuple[int, ...], healthy_label: bool, num_classes: int | None = None) -> str | None:
    """Why ``slices2d`` does not fit the preprocessed data (slice side vs the network's poolings, class weights), or None."""
    div = DIVISORS[cfg.model]
    if cfg.size is not None and cfg.size % div:
        return f"slices2d.size={cfg.size} must be divisible by {div} for slices2d.model={cfg.model}"
    if cfg.size is None and any(c % div for c in crop_size[:2]):
        return (f"slices2d.size is null, so slices keep the crop's size {list(crop_size[:2])}, which must be divisible by "
                f"{div} for slices2d.model={cfg.model}; set slices2d.size")
    n = num_classes or (5 if healthy_label else 4)  # the plans' classes (glioma: 4, + healthy brain)
    if len(cfg.loss.class_weights) != n:
        return (f"slices2d.loss.class_weights needs one weight per class ({n}: the label scheme's labels"
                f"{' and healthy brain' if healthy_label else ''}), got {list(cfg.loss.class_weights)}")
    return None
