"""Schema of ``params.yaml``.

Every knob of the pipeline is a field here with its allowed values; a stage calls
:func:`load_params` when it starts, and a bad value stops it with a message that names
the key, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, PositiveInt, ValidationError, field_validator, model_validator

import brats_mlops.config.audit as audit
from brats_mlops.config.paths import ParamsError, PathsParams, Section as _Section
from brats_mlops.config.segmentation import AugmentationParams, LossParams, SegmentationParams  # noqa: F401 (re-exported)
from brats_mlops.config.slices import Slices2DParams, Survival2DParams
from brats_mlops.config.nnunet import NnunetParams
from brats_mlops.names import MODALITIES

Modality = Literal["t1", "t1ce", "t2", "flair"]


def _triple(name: str, v: tuple, positive: bool = True) -> tuple:
    if len(v) != 3:
        raise ValueError(f"{name} needs 3 values (x, y, z), got {list(v)}")
    if positive and any(x <= 0 for x in v):
        raise ValueError(f"{name} values must be > 0, got {list(v)}")
    return tuple(v)


class DataParams(_Section):
    source: str = "synthetic"  # an edition of data/editions.py, or auto (detected from the folder's naming)
    root: str = "data/raw/synthetic"
    modalities: tuple[Modality, ...] = MODALITIES
    num_workers: int = Field(2, ge=1, le=64)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        from brats_mlops.data.editions import EDITIONS

        if v != "auto" and v not in EDITIONS:
            raise ValueError(f"unknown data source {v!r}; choose auto or one of {', '.join(EDITIONS)}")
        return v

    @field_validator("modalities")
    @classmethod
    def _mods(cls, v: tuple) -> tuple:
        if len(v) == 0:
            raise ValueError("at least one modality is needed")
        if len(set(v)) != len(v):
            raise ValueError(f"modalities repeat: {list(v)}")
        # keep the canonical channel order whatever order the user wrote
        return tuple(m for m in MODALITIES if m in v)


class SyntheticParams(_Section):
    n_train: int = Field(60, ge=2)
    n_validation: int = Field(12, ge=0)
    shape: tuple[int, int, int] = (96, 96, 64)
    spacing: tuple[float, float, float] = (2.5, 2.5, 2.42)
    seed: int = 2020
    template: Literal["mni152", "procedural"] = "mni152"
    survival_fraction: float = Field(0.85, ge=0.0, le=1.0)
    alive_fraction: float = Field(0.04, ge=0.0, le=1.0)
    missing_age_fraction: float = Field(0.03, ge=0.0, le=1.0)
    noise_std: float = Field(0.03, ge=0.0)
    bias_field_strength: float = Field(0.25, ge=0.0, le=1.0)
    irregularity: float = Field(1.0, ge=0.0, le=2.0)
    multifocal_fraction: float = Field(0.25, ge=0.0, le=1.0)
    satellite_fraction: float = Field(0.3, ge=0.0, le=1.0)

    _v_shape = field_validator("shape")(classmethod(lambda cls, v: _triple("synthetic.shape", v)))
    _v_spacing = field_validator("spacing")(classmethod(lambda cls, v: _triple("synthetic.spacing", v)))


class ValidateParams(_Section):
    on_failure: Literal["quarantine", "stop"] = "quarantine"
    min_nonzero_fraction: float = Field(0.01, ge=0.0, le=1.0)
    affine_atol: float = Field(1e-3, gt=0.0)
    age_range: tuple[float, float] = (0.0, 110.0)
    resection_values: tuple[str, ...] = ("GTR", "STR", "NA")


class AutoencoderPreprocessParams(_Section):
    modality: Modality = "t1ce"
    spacing: tuple[float, float, float] = (1.6, 1.6, 1.3)
    shape: tuple[int, int, int] = (112, 112, 96)
    upper_percentile: float = Field(99.5, gt=50.0, le=100.0)
    spline_order: int = Field(3, ge=0, le=5)

    _v_shape = field_validator("shape")(classmethod(lambda cls, v: _triple("preprocess.autoencoder.shape", v)))
    _v_spacing = field_validator("spacing")(
        classmethod(lambda cls, v: _triple("preprocess.autoencoder.spacing", v))
    )


class PreprocessParams(_Section):
    crop: Literal["center", "foreground"] = "center"
    crop_size: tuple[int, int, int] = (128, 128, 128)
    percentile_rescale: bool = False
    percentiles: tuple[float, float] = (2.0, 98.0)
    gaussian_sigma: float = Field(0.0, ge=0.0)  # Gaussian smoothing of each modality (voxels; seed 002), 0: none
    healthy_label: bool = False
    autoencoder: AutoencoderPreprocessParams = AutoencoderPreprocessParams()

    _v_crop = field_validator("crop_size")(classmethod(lambda cls, v: _triple("preprocess.crop_size", v)))

    @field_validator("percentiles")
    @classmethod
    def _pct(cls, v: tuple) -> tuple:
        if not 0 <= v[0] < v[1] <= 100:
            raise ValueError(f"need 0 <= low < high <= 100, got {list(v)}")
        return v


class SurvivalSplitParams(_Section):
    target: Literal["binary", "challenge3", "quantile"] = "binary"
    threshold_days: float = Field(370.0, gt=0)
    class_edges: tuple[float, float] = (300.0, 450.0)
    gtr_only: bool = False
    n_quantiles: int = Field(3, ge=2, le=10)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)


class SplitParams(_Section):
    val_fraction: float = Field(0.15, gt=0.0, lt=1.0)  # picks the checkpoint (validation curves)
    test_fraction: float = Field(0.15, ge=0.0, lt=1.0)  # scored once by evaluate_segmentation; 0: no test split
    seed: int = 42
    survival: SurvivalSplitParams = SurvivalSplitParams()

    @model_validator(mode="after")
    def _fractions(self) -> "SplitParams":
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must leave training cases: {self.val_fraction} + {self.test_fraction} >= 1")
        return self


class AutoencoderLossParams(_Section):
    """Generator loss = l1*L1 + kl*KL + perceptual*Perceptual + adversarial*LSGAN (paper §4.2)."""

    l1: float = Field(1.0, ge=0)
    kl: float = Field(1e-6, ge=0)
    perceptual: float = Field(0.0, ge=0)  # paper: 0.001; needs local weights (perceptual_cache_dir)
    adversarial: float = Field(0.01, ge=0)
    perceptual_network: str = "medicalnet_resnet10_23datasets"  # a MONAI PerceptualLoss network_type
    perceptual_cache_dir: str | None = None  # torch.hub dir already holding the network and its weights


class AutoencoderParams(_Section):
    """MONAI AutoencoderKL + PatchDiscriminator (paper Table 6); trained by the train_autoencoder stage."""

    channels: tuple[int, ...] = (32, 64, 128, 128)
    latent_channels: int = Field(3, ge=1)
    num_res_blocks: int = Field(1, ge=1)
    norm_num_groups: int = Field(8, ge=1)
    disc_layers: int = Field(3, ge=1)
    disc_channels: int = Field(32, ge=1)
    use_convtranspose: bool = False  # decoder upsampling by transposed convolution (the paper's Table 6); False: nearest + conv
    loss: AutoencoderLossParams = AutoencoderLossParams()
    adversarial_start_epoch: int = Field(0, ge=0)  # epochs of reconstruction-only warm-up before the GAN terms
    lr_generator: float = Field(1e-4, gt=0)
    lr_discriminator: float = Field(5e-4, gt=0)
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(1, ge=1)
    grad_accum: int = Field(8, ge=1)
    val_every: int = Field(5, ge=1)
    val_fraction: float = Field(0.2, gt=0, lt=1)  # used only when the data has no unlabelled cases
    figure_cases: int = Field(2, ge=0)  # validation cases in the reconstruction figure

    @field_validator("channels")
    @classmethod
    def _ch(cls, v: tuple) -> tuple:
        if len(v) < 2 or any(c <= 0 for c in v):
            raise ValueError(f"need >= 2 positive widths, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _groups(self) -> "AutoencoderParams":
        bad = [c for c in self.channels if c % self.norm_num_groups]
        if bad:
            raise ValueError(f"autoencoder.channels {bad} are not divisible by norm_num_groups={self.norm_num_groups}")
        lp = self.loss
        if lp.perceptual > 0:
            hub = Path(lp.perceptual_cache_dir) if lp.perceptual_cache_dir else None
            if hub is None or not hub.is_dir():
                raise ValueError(
                    f"autoencoder.loss.perceptual={lp.perceptual} needs pretrained weights, which cannot be downloaded "
                    f"here: set autoencoder.loss.perceptual_cache_dir to a torch.hub directory that already holds "
                    f"{lp.perceptual_network!r} (got {lp.perceptual_cache_dir!r}), or set autoencoder.loss.perceptual: 0")
        return self


LATENT_FEATURE_SETS = ("f0", "f1", "f2", "channel_means", "channel_stats", "coronal_profile", "sagittal_profile",
                       "axial_profile", "flattened_latent")
FeatureSet = Literal["age_only", "segmentation_volumes", "bottleneck", "f0", "f1", "f2", "channel_means", "channel_stats",
                     "coronal_profile", "sagittal_profile", "axial_profile", "flattened_latent"]


class SurvivalParams(_Section):
    # auto: run the survival branch when the cohort supports the split and CV, else skip it with the reason;
    # true: stop at `split` when it does not; false: always skip (segmentation-only datasets)
    enabled: Literal["auto"] | bool = "auto"
    feature_sets: tuple[FeatureSet, ...] = ("age_only", "segmentation_volumes", "bottleneck") + LATENT_FEATURE_SETS
    with_age: tuple[bool, ...] = (False, True)  # each feature set without and with age (age_only ignores it)
    models: tuple[Literal["logistic_regression", "linear_svm", "rbf_svm", "random_forest", "gradient_boosting"], ...] = (
        "logistic_regression", "linear_svm", "rbf_svm", "random_forest", "gradient_boosting")
    grid: Literal["paper", "fast", "tuned"] = "paper"  # paper: Appendix A exactly; fast: fewer trees; tuned: `tuned` below
    tuned: dict[str, dict[str, Any]] = Field(default_factory=lambda: {  # one point per model (written by the survival study)
        "logistic_regression": {"C": 1.0}, "linear_svm": {"C": 1.0}, "rbf_svm": {"C": 1.0, "gamma": "scale"},
        "random_forest": {"n_estimators": 100, "max_depth": 5, "min_samples_leaf": 1},
        "gradient_boosting": {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 1}})
    cv_folds: int = Field(5, ge=2)
    cv_repeats: int = Field(5, ge=1)  # repeated stratified CV of each selected pipeline on the whole cohort
    bottleneck_pca: int = Field(10, ge=1)  # PCA components of the bottleneck features (fitted in the folds)
    flattened_pca: int = Field(10, ge=1)  # PCA components of the flattened latent (paper: 10)
    profile_variance: float = Field(0.9, gt=0, le=1)  # PCA of the slice profiles keeps this variance share (paper: 90%)
    time_to_event: tuple[Literal["cox", "rsf"], ...] = ("cox", "rsf")  # scikit-survival models scored by c-index
    n_boot: int = Field(2000, ge=100)
    n_perm: int = Field(2000, ge=100)
    n_jobs: int = Field(2, ge=1)


class TuneParams(_Section):
    """Optuna studies (`brats-mlops tune <study>`, tune/dvc.yaml); not part of the default `dvc repro`."""

    storage: str | None = None  # SQLAlchemy URL shared by workers; null: sqlite:///<project root>/optuna.db
    n_trials: "TuneTrials" = Field(default_factory=lambda: TuneTrials())
    timeout_s: float | None = None  # stop a worker after this many seconds (null: no limit)
    heartbeat_interval: int = Field(30, ge=1)  # s between heartbeats of a running trial
    grace_period: int = Field(120, ge=2)  # s without a heartbeat before a trial is failed and re-queued
    max_retry: int = Field(2, ge=0)  # re-runs of a trial whose worker died
    pruner: Literal["median", "percentile", "none"] = "median"
    pruner_percentile: float = Field(50.0, gt=0, lt=100)  # percentile pruner: prune below this percentile of earlier trials
    pruner_warmup_steps: int = Field(1, ge=0)  # epochs before the median pruner may stop a trial
    segmentation_epochs: int = Field(3, ge=1)  # epochs per segmentation trial
    autoencoder_epochs: int = Field(3, ge=1)  # epochs per autoencoder trial
    survival_feature_set: FeatureSet = "segmentation_volumes"  # feature set the classifier study tunes on
    survival_with_age: bool = True


class TuneTrials(_Section):
    segmentation: int = Field(8, ge=1)
    autoencoder: int = Field(6, ge=1)
    survival: int = Field(40, ge=1)


class TrackingParams(_Section):
    uri: str | None = None
    hash_inputs: bool = True
    server_default_permission: Literal["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"] = "READ"
    server_users_can_create: bool = False


class EvaluateParams(_Section):
    # metrics/profiles.py; auto: the dataset edition's (data/editions.py); a profile that cannot score the edition's
    # label scheme stops the stage (metrics/profiles.py: stage_profile)
    profile: Literal["auto", "2023-GLI", "2023-SSA", "2023-PED", "2023-MEN", "2023-MET", "2024-GLI", "2025-GLI", "2025-MET",
                     "2025-PED", "2025-MEN-RT", "2025-MEN", "2025-GoAT"] = "auto"
    tta: Literal["none", "mirror"] = "none"  # evaluate_segmentation (3-D): test-time augmentation by mirroring
    ensemble: Literal["none", "folds"] = "none"  # folds: average the k folds of segmentation.folds (nnU-Net's ensembling)


class RuntimeParams(_Section):
    threads: PositiveInt | Literal["auto"] = 2  # a number: results reproduce dvc.lock; auto: faster under load, not reproducible


class Params(_Section):
    seed: int = 42
    paths: PathsParams = PathsParams()
    data: DataParams = DataParams()
    synthetic: SyntheticParams = SyntheticParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    preprocess: PreprocessParams = PreprocessParams()
    split: SplitParams = SplitParams()
    segmentation: SegmentationParams = SegmentationParams()
    autoencoder: AutoencoderParams = AutoencoderParams()
    survival: SurvivalParams = SurvivalParams()
    tune: TuneParams = Field(default_factory=lambda: TuneParams())
    tracking: TrackingParams = TrackingParams()
    runtime: RuntimeParams = RuntimeParams()
    evaluate: EvaluateParams = EvaluateParams()
    slices2d: Slices2DParams = Slices2DParams()
    survival2d: Survival2DParams = Survival2DParams()
    nnunet: NnunetParams = NnunetParams()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _cross(self) -> "Params":
        if self.preprocess.autoencoder.modality not in self.data.modalities:
            raise ValueError(
                f"preprocess.autoencoder.modality={self.preprocess.autoencoder.modality!r} is not among "
                f"data.modalities={list(self.data.modalities)}"
            )
        return self

    @model_validator(mode="after")
    def _ae_shape(self) -> "Params":
        div = 2 ** (len(self.autoencoder.channels) - 1)
        shape = self.preprocess.autoencoder.shape
        if any(s % div for s in shape):
            raise ValueError(f"preprocess.autoencoder.shape={list(shape)} must be divisible by {div} for "
                             f"autoencoder.channels={list(self.autoencoder.channels)} ({len(self.autoencoder.channels) - 1} downsamplings)")
        return self

    @model_validator(mode="after")
    def _crop_fits_model(self) -> "Params":
        levels = len(self.segmentation.channels) + (1 if self.segmentation.model == "res_se_unet_deeper" else 0)
        div = 8 if self.segmentation.model == "segresnet" else 2 ** (levels - 1)
        bad = [c for c in self.preprocess.crop_size if c % div]
        if bad:
            raise ValueError(
                f"preprocess.crop_size={list(self.preprocess.crop_size)} must be divisible by {div} for "
                f"segmentation.model={self.segmentation.model} with {levels} levels"
            )
        return self

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def find_project_root(start: Path | None = None) -> Path:
    """The directory holding ``params.yaml`` (walking up from ``start`` or the cwd)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "params.yaml").is_file() or (d / "dvc.yaml").is_file():
            return d
    return here


def _format_error(err: ValidationError, origin: str) -> str:
    lines = [f"{origin} is not valid ({err.error_count()} problem(s)):"]
    for e in err.errors():
        loc = list(e["loc"])
        msg = e["msg"]
        if loc and isinstance(loc[-1], int) and e["type"] == "missing":
            loc, msg = loc[:-1], f"too few values: needs {loc[-1] + 1} or more"
        if e["type"] == "too_long":
            msg = f"too many values ({msg})"
        key = ".".join(str(p) for p in loc) or "<top level>"
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo? see params.yaml for the valid keys of this section)"
        got = f" (got {e.get('input')!r})" if loc else ""
        lines.append(f"  - {key}: {msg}{got}")
    return "\n".join(lines)


_WITH_SECTIONS: dict[tuple[str, ...], type[Params]] = {}


def params_model(raw: dict[str, Any]) -> type[Params]:
    """``Params``, or — when ``raw`` has top-level sections that are not built in — ``Params`` with the params sections
    of the model families that declare them (``families/``: a new family brings its own section), so those validate
    like every other section and an unknown key is still an error."""
    builtin = {f.alias or name for name, f in Params.model_fields.items()} | set(Params.model_fields)
    if all(k in builtin for k in raw):
        return Params
    from pydantic import create_model

    from brats_mlops.families import section_models

    sections = {k: m for k, m in section_models().items() if k not in builtin}
    key = tuple(sorted(sections))
    if key not in _WITH_SECTIONS:
        fields: dict[str, Any] = {k: (m, Field(default_factory=m)) for k, m in sections.items()}
        _WITH_SECTIONS[key] = create_model("Params", __base__=Params, __module__=__name__, **fields)
    return _WITH_SECTIONS[key]


def parse_params(raw: dict[str, Any] | None, origin: str = "params") -> Params:
    try:
        return audit.watch(params_model(raw or {}).model_validate(raw or {}))
    except ValidationError as err:
        raise ParamsError(_format_error(err, origin)) from None


def load_params(path: str | Path | None = None) -> Params:
    """Read and validate ``params.yaml`` (default: the one at the project root)."""
    p = Path(path) if path else find_project_root() / "params.yaml"
    if not p.is_file():
        raise ParamsError(f"params file not found: {p} (run from the project root or pass --params)")
    from brats_mlops.utils.yamlio import read_yaml

    raw = read_yaml(p)
    return parse_params(raw, origin=str(p))
