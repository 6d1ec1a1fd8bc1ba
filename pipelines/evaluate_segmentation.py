"""DVC stage `evaluate_segmentation`: the 3-D model predicts the held-out cases in their original geometry, scored
with the edition's official BraTS metrics; overlays; registered as ``brats-segmentation`` (@challenger).

Every family is scored by this one path (``workflows/evaluate.py``): ``python -m pipelines.evaluate_segmentation
<family>`` evaluates another family's model (the 2-D and nnU-Net stages are this call with ``2d`` and ``nnunet``)."""

from __future__ import annotations

import sys

from brats_mlops.config import load_params
from brats_mlops.families import get_family
from brats_mlops.names import STAGE_EVAL_SEG
from brats_mlops.utils.entry import run_stage
from brats_mlops.workflows.evaluate import evaluate_family


def main(family: str = "3d") -> None:
    evaluate_family(load_params(), get_family(family))


if __name__ == "__main__":
    run_stage(lambda: main(*sys.argv[1:2]), STAGE_EVAL_SEG)  # an unknown family: one line naming the families
