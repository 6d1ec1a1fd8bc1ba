"""DVC stage `evaluate_segmentation_2d` (slices/dvc.yaml): the 2-D slice model, stacked back into volumes in the
original geometry and scored by exactly the evaluation of the 3-D model (see ``evaluate_segmentation``)."""

from __future__ import annotations

from brats_mlops.names import STAGE_EVAL_SEG_2D
from brats_mlops.utils.entry import run_stage
from pipelines.evaluate_segmentation import main


if __name__ == "__main__":
    run_stage(lambda: main(two_d=True), STAGE_EVAL_SEG_2D)
