"""The base of every params section, the params error, and ``paths``: where every stage reads and writes."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

import brats_mlops.config.audit as _audit
from brats_mlops.errors import UserError


class ParamsError(UserError, ValueError):
    """A params file that does not validate. The message names every bad key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if _audit._paths is not None and name[0] != "_":   # BRATS_PARAMS_AUDIT (config/audit.py)
            _audit.record(self, name, value)
        return value


class PathsParams(Section):
    """Where every stage writes. dvc.yaml interpolates the same keys (``${paths.x}``)."""

    validation_dir: str = "data/validation"
    preprocessed_dir: str = "data/preprocessed"
    splits_dir: str = "data/splits"
    reports_dir: str = "reports"
    metrics_dir: str = "metrics"
    features_dir: str = "data/features"
    models_dir: str = "models"
    plots_dir: str = "plots"
    nnunet_dir: str = "data/nnunet"  # nnU-Net's raw and preprocessed folders (its results: <models_dir>/nnunet)

    # files inside those folders (dvc.yaml spells them ${paths.<dir>}/<name>; the code uses these properties)
    @property
    def raw_manifest(self) -> Path:
        """What ``validate`` read: DVC's hash of ``data.root`` (``data/manifest.py``), the later stages' dependency."""
        return Path(self.validation_dir) / "inputs.json"

    @property
    def segmentation_split(self) -> Path:
        return Path(self.splits_dir) / "segmentation.json"

    @property
    def survival_cohort(self) -> Path:
        return Path(self.splits_dir) / "survival.csv"

    @property
    def survival_tte(self) -> Path:
        return Path(self.splits_dir) / "survival_tte.csv"

    @property
    def survival_info(self) -> Path:
        return Path(self.splits_dir) / "survival.json"

    @property
    def segmentation_checkpoints(self) -> Path:
        return Path(self.models_dir) / "segmentation"

    @property
    def autoencoder_checkpoints(self) -> Path:
        return Path(self.models_dir) / "autoencoder"

    @property
    def slices2d_checkpoints(self) -> Path:
        return Path(self.models_dir) / "segmentation_2d"

    @property
    def survival2d_checkpoints(self) -> Path:
        return Path(self.models_dir) / "survival_2d"

    @property
    def nnunet_raw(self) -> Path:
        return Path(self.nnunet_dir) / "raw"

    @property
    def nnunet_preprocessed(self) -> Path:
        return Path(self.nnunet_dir) / "preprocessed"

    @property
    def nnunet_results(self) -> Path:
        return Path(self.models_dir) / "nnunet"

    @property
    def segmentation_volumes(self) -> Path:
        return Path(self.features_dir) / "segmentation_volumes.csv"

    @property
    def bottleneck_features(self) -> Path:
        return Path(self.features_dir) / "bottleneck.npz"

    @property
    def latents(self) -> Path:
        return Path(self.features_dir) / "latents.npz"

    def metrics(self, stage: str) -> Path:
        """``metrics/<stage>.json``."""
        return Path(self.metrics_dir) / f"{stage}.json"

    def plot(self, name: str) -> Path:
        """``plots/<name>.tsv``."""
        return Path(self.plots_dir) / f"{name}.tsv"
