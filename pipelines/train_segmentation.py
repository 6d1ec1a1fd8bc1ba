"""DVC stage `train_segmentation`: train the configured 3-D network; resumes a killed run in the same MLflow run.

``python -m pipelines.train_segmentation <family>`` trains another family's model the same way (``brats-mlops
families`` lists them). Data-parallel: ``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation``."""

from __future__ import annotations

import sys

from brats_mlops.config import load_params
from brats_mlops.families import get_family
from brats_mlops.names import STAGE_TRAIN_SEG
from brats_mlops.utils.entry import run_stage
from brats_mlops.workflows.train import train_family


def main(family: str = "3d") -> None:
    train_family(load_params(), get_family(family))


if __name__ == "__main__":
    run_stage(lambda: main(*sys.argv[1:2]), STAGE_TRAIN_SEG)  # an unknown family: one line naming the families
