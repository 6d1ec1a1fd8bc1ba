"""DVC stage `nnunet_train` (nnunet/dvc.yaml): nnU-Net's trainer on each fold of ``nnunet.folds``, tracked in one
MLflow run that a killed training resumes (``workflows/nnunet.py``)."""

from __future__ import annotations

from brats_mlops.config import load_params
from brats_mlops.names import STAGE_NNUNET_TRAIN
from brats_mlops.utils.entry import run_stage
from brats_mlops.workflows.nnunet import train_nnunet


def main() -> None:
    train_nnunet(load_params())


if __name__ == "__main__":
    run_stage(main, STAGE_NNUNET_TRAIN)
