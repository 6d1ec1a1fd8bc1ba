"""nnU-Net v2 beside the platform's models (``nnunet/dvc.yaml``): trained by nnU-Net's own trainer on the platform's
split (``brats_mlops.nnunet``), predicted by nnU-Net's predictor (its folds averaged, its mirroring when
``nnunet.tta: mirror``), scored by the one evaluation path and registered as ``brats-segmentation-nnunet``."""

from __future__ import annotations

from pathlib import Path

from brats_mlops.errors import UserError
from brats_mlops.families import Evaluated, SegmentationFamily
from brats_mlops.names import MODEL_SEGMENTATION_NNUNET, MODEL_SURVIVAL, STAGE_NNUNET_EVAL, STAGE_NNUNET_TRAIN


class NnunetFamily(SegmentationFamily):
    key, kind, title, section = "nnunet", "nnunet", "nnU-Net v2", "nnunet"
    description = "nnU-Net v2's own planning, trainer and predictor on the platform's split"
    registered_name, survival_model = MODEL_SEGMENTATION_NNUNET, MODEL_SURVIVAL
    train_stage, eval_stage, metrics_name = STAGE_NNUNET_TRAIN, STAGE_NNUNET_EVAL, "segmentation_nnunet"

    def checkpoint_dir(self, params) -> Path:
        return Path(params.paths.nnunet_results)

    def predicts_with(self) -> str:
        return "its mirroring (nnunet.tta), its folds averaged"

    def network(self, run_params: dict[str, str]) -> str:
        return f"{self.title} {run_params.get('nnunet.configuration', '?')}"

    def evaluated(self, params) -> Evaluated:
        from brats_mlops.nnunet import env
        from brats_mlops.nnunet.predict import load_predictor, predict_internal
        from brats_mlops.nnunet.trainer import RUN_ID_FILE, fold_folder
        from brats_mlops.registry.nnunet import register_nnunet

        cfg, p = params.nnunet, params.paths
        env.configure(p, cfg, augmentation_workers=0)
        folds = list(cfg.folds)
        model_folder = fold_folder(p, cfg, folds[0]).parent
        run_file = model_folder / f"fold_{folds[0]}" / RUN_ID_FILE
        if not run_file.is_file():
            raise UserError(f"no trained nnU-Net fold {folds[0]} in {model_folder}: run nnunet_train first (dvc repro nnunet/dvc.yaml)")
        predictor = load_predictor(model_folder, folds, tta=cfg.tta == "mirror")

        def predict(images, spacing):
            return predict_internal(predictor, images, spacing)

        def register(metrics, train_run, group):
            return register_nnunet(model_folder, folds, params.data.modalities, cfg.tta, metrics, train_run, group, p)

        mods = tuple(params.data.modalities)
        # nnU-Net predicts with its final checkpoint
        return Evaluated(predict, mods, run_file.read_text().strip(), cfg.epochs - 1,
                         f"nnU-Net {cfg.configuration} (folds {folds}, TTA {cfg.tta})", register, {},
                         deps=[Path(p.nnunet_results)], figure_channel=mods.index("flair") if "flair" in mods else 0)


FAMILY = NnunetFamily()
