"""What every family trained into platform checkpoints shares: loading the scored checkpoint(s) and registering them
(the base of the 3-D and 2-D families and of a new one; not a family itself: no ``FAMILY`` here)."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.families import Evaluated, Params, SegmentationFamily
from brats_mlops.names import TAG_ENSEMBLE, TAG_EVALUATE_TTA


def evaluated_checkpoints(family: SegmentationFamily, params: Params) -> Evaluated:
    """``best.pt`` of the family's checkpoint folder — or, when the family ensembles and ``evaluate.ensemble`` is
    ``folds``, every fold's ``best.pt`` of a k-fold training — predicting with ``evaluate.tta`` where the family
    supports TTA; registered as the family's model with the checkpoint files."""
    from brats_mlops.inference.evaluate import load_evaluated
    from brats_mlops.models.checkpoint import checkpoint_run_id
    from brats_mlops.registry.segmentation import register_evaluated

    ckdir = family.checkpoint_dir(params)
    models, best, checkpoints = load_evaluated(ckdir, params.evaluate.ensemble if family.supports_ensemble else "none")
    mc = best["model_config"]
    tta = params.evaluate.tta if family.supports_tta else "none"
    tags = {TAG_EVALUATE_TTA: tta, TAG_ENSEMBLE: str(len(checkpoints))} if family.supports_tta else {}

    def predict(images, _spacing):
        return family.predict_labels(models, images, mc, tta=tta)

    def register(metrics: dict[str, float], train_run: str | None, group: str) -> tuple[str, str]:
        return register_evaluated(checkpoints, metrics, train_run, group, params.paths, family.registered_name, tags or None)

    what = f"the best checkpoint (epoch {best['epoch']})" + (f"; ensemble of {len(models)} folds" if len(models) > 1 else "")
    return Evaluated(predict, tuple(mc["modalities"]), checkpoint_run_id(ckdir), int(best["epoch"]), what, register, tags,
                     deps=[Path(ckdir)], figure_channel=_figure_channel(mc["modalities"]))


def _figure_channel(modalities) -> int:
    """The channel the overlays show: FLAIR where the model reads it, else its first input."""
    return list(modalities).index("flair") if "flair" in modalities else 0


class CheckpointFamily(SegmentationFamily):
    """A family the platform trains into ``best.pt``/``last.pt`` (its registered model: the segmentation pyfunc)."""

    def evaluated(self, params: Params) -> Evaluated:
        return evaluated_checkpoints(self, params)
