"""DVC stage `nnunet_evaluate` (nnunet/dvc.yaml): the trained nnU-Net predicts the platform's held-out cases in their
original geometry, scored by the same evaluation as ``evaluate_segmentation`` (``workflows/evaluate.py``); the model
is registered as ``brats-segmentation-nnunet`` (@challenger), and ``brats-mlops compare --group default --group
nnunet`` puts it beside the platform's models on the same cases."""

from __future__ import annotations

from pipelines.evaluate_segmentation import main
from brats_mlops.names import STAGE_NNUNET_EVAL
from brats_mlops.utils.entry import run_stage


if __name__ == "__main__":
    run_stage(lambda: main("nnunet"), STAGE_NNUNET_EVAL)
