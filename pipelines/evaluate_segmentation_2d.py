"""DVC stage `evaluate_segmentation_2d` (slices/dvc.yaml): the 2-D slice model, stacked back into volumes in the
original geometry and scored by exactly the evaluation of the 3-D model (``workflows/evaluate.py``), written to
``metrics/segmentation_2d.json`` and registered as ``brats-segmentation-2d``."""

from __future__ import annotations

from pipelines.evaluate_segmentation import main
from brats_mlops.names import STAGE_EVAL_SEG_2D
from brats_mlops.utils.entry import run_stage


if __name__ == "__main__":
    run_stage(lambda: main("2d"), STAGE_EVAL_SEG_2D)
