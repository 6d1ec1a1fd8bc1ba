"""DVC stage `nnunet_evaluate` (nnunet/dvc.yaml): the trained nnU-Net predicts the platform's held-out cases in their
original geometry, scored by the same official BraTS 2023 evaluation as ``evaluate_segmentation``; the model is
registered as ``brats-segmentation-nnunet`` (@challenger), and ``brats-mlops compare --group default --group nnunet``
puts it beside the platform's models on the same cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.editions import edition_tag
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import read_split
from brats_mlops.errors import UserError
from brats_mlops.inference.evaluate import headline, held_out, key_metrics, score_cases, summarise
from brats_mlops.metrics.profiles import stage_profile
from brats_mlops.names import STAGE_NNUNET_EVAL, TAG_ABLATION_GROUP, TAG_METRIC_PROFILE, TAG_TRAIN_RUN
from brats_mlops.nnunet import env
from brats_mlops.nnunet.predict import load_predictor, predict_internal
from brats_mlops.nnunet.trainer import RUN_ID_FILE, fold_folder
from brats_mlops.registry.nnunet import register_nnunet
from brats_mlops.tracking import log_to_run, stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_NNUNET_EVAL)
    params = load_params()
    cfg, p = params.nnunet, params.paths
    env.configure(p, cfg, augmentation_workers=0)
    folds = list(cfg.folds)
    model_folder = fold_folder(p, cfg, folds[0]).parent
    run_file = model_folder / f"fold_{folds[0]}" / RUN_ID_FILE
    if not run_file.is_file():
        raise UserError(f"no trained nnU-Net fold {folds[0]} in {model_folder}: run nnunet_train first (dvc repro nnunet/dvc.yaml)")
    train_run = run_file.read_text().strip()
    ids, evaluated_on = held_out(read_split(p.segmentation_split), cfg.max_eval_cases)
    cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
    out_dir = Path(p.reports_dir) / "segmentation_nnunet"
    profile = stage_profile(params.evaluate.profile, params.data.source, params.data.root).name
    log.info("nnU-Net %s (folds %s, TTA %s) on %d %s cases in their original geometry (official metrics, %s)",
             cfg.configuration, folds, cfg.tta, len(ids), evaluated_on, profile)
    with stage_run(STAGE_NNUNET_EVAL, params, ["nnunet"], deps=[p.nnunet_results, params.data.root, p.segmentation_split],
                   tags={TAG_ABLATION_GROUP: cfg.ablation_group, TAG_TRAIN_RUN: train_run, TAG_METRIC_PROFILE: profile}) as run:
        predictor = load_predictor(model_folder, folds, tta=cfg.tta == "mirror")
        results = score_cases(lambda images, spacing: predict_internal(predictor, images, spacing), params.data.modalities,
                              cases, ids, params.segmentation.postprocess_min_voxels, profile=profile)
        df = pd.DataFrame([r.row for r in results])
        out_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_dir / "cases.csv", index=False)
        # nnU-Net predicts with its final checkpoint
        summary = summarise(df, evaluated_on, cfg.epochs - 1, profile, edition_tag(params.data.source, params.data.root))
        dump_json(summary, p.metrics("segmentation_nnunet"))
        run.log_metrics(summary)
        run.log_artifact(out_dir / "cases.csv", "evaluation")
        key = key_metrics(summary)
        log_to_run(train_run, {f"test_{k}": v for k, v in key.items()})
        uri, version = register_nnunet(model_folder, folds, params.data.modalities, cfg.tta, key, train_run,
                                       cfg.ablation_group, p)
        log.info("%s (D_BraTS %.4f) on %d cases; registered %s version %s as @challenger", headline(summary),
                 summary["dice_brats"], len(df), uri, version)


if __name__ == "__main__":
    run_stage(main, STAGE_NNUNET_EVAL)
