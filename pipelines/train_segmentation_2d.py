"""DVC stage `train_segmentation_2d` (slices/dvc.yaml): the 2-D slice model of seeds 001/004 on the platform's
training loop; resumes a killed run in the same MLflow run. DDP: ``torchrun --standalone --nproc_per_node N -m pipelines.train_segmentation_2d``."""

from __future__ import annotations

from pipelines.train_segmentation import main
from brats_mlops.names import STAGE_TRAIN_SEG_2D
from brats_mlops.utils.entry import run_stage


if __name__ == "__main__":
    run_stage(lambda: main("2d"), STAGE_TRAIN_SEG_2D)
