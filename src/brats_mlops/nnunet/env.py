"""nnU-Net's folders and switches, set from params (nnU-Net reads them from the environment at use)."""

from __future__ import annotations

import os
from pathlib import Path

from brats_mlops.config.nnunet import NnunetParams
from brats_mlops.config.paths import PathsParams

DATASET_NAME = "BraTSPlatform"
PLANS = "nnUNetPlans"
CHANNEL_NAMES = {"t1": "T1", "t1ce": "T1ce", "t2": "T2", "flair": "Flair"}  # none is "CT": nnU-Net z-scores each


def dataset_folder_name(cfg: NnunetParams) -> str:
    return f"Dataset{cfg.dataset_id:03d}_{DATASET_NAME}"


def configure(paths: PathsParams, cfg: NnunetParams, augmentation_workers: int | None = None) -> dict[str, str]:
    """Point nnU-Net at the project's folders (absolute paths) and set its process/compile switches; returns them."""
    env = settings(paths, cfg, augmentation_workers)
    os.environ.update(env)
    return env


def settings(paths: PathsParams, cfg: NnunetParams, augmentation_workers: int | None = None) -> dict[str, str]:
    """nnU-Net's environment variables for ``paths`` and ``cfg`` (what :func:`configure` sets)."""
    return {
        "nnUNet_raw": str(Path(paths.nnunet_raw).resolve()),
        "nnUNet_preprocessed": str(Path(paths.nnunet_preprocessed).resolve()),
        "nnUNet_results": str(Path(paths.nnunet_results).resolve()),
        "nnUNet_n_proc_DA": str(cfg.augmentation_workers if augmentation_workers is None else augmentation_workers),
        "nnUNet_def_n_proc": str(cfg.preprocess_workers),
        "nnUNet_compile": "f",  # nnU-Net switches compile off on the CPU itself; on a GPU it would compile at start
        "nnUNet_wandb_enabled": "0",
    }


def raw_dataset(paths: PathsParams, cfg: NnunetParams) -> Path:
    return Path(paths.nnunet_raw) / dataset_folder_name(cfg)


def preprocessed_dataset(paths: PathsParams, cfg: NnunetParams) -> Path:
    return Path(paths.nnunet_preprocessed) / dataset_folder_name(cfg)


def trained_model_folder(paths: PathsParams, cfg: NnunetParams, trainer: str) -> Path:
    """nnU-Net's ``<results>/<dataset>/<trainer>__<plans>__<configuration>`` (holds fold_<k>/, plans.json, dataset.json)."""
    return Path(paths.nnunet_results) / dataset_folder_name(cfg) / f"{trainer}__{PLANS}__{cfg.configuration}"
