"""DVC stage `evaluate_segmentation`: full-volume inference on held-out cases, BraTS metrics, overlays, registry.

``main(two_d=True)`` is the stage `evaluate_segmentation_2d` (slices/dvc.yaml): the same evaluation of the 2-D
slice model, written to ``metrics/segmentation_2d.json`` and registered as ``brats-segmentation-2d``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.editions import edition_tag
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import read_split
from brats_mlops.inference.evaluate import evaluate_cases, headline, held_out, key_metrics, load_evaluated, summarise
from brats_mlops.metrics.profiles import stage_profile
from brats_mlops.models.checkpoint import checkpoint_run_id
from brats_mlops.names import (MODEL_SEGMENTATION, MODEL_SEGMENTATION_2D, STAGE_EVAL_SEG, STAGE_EVAL_SEG_2D,
                               TAG_ABLATION_GROUP, TAG_ENSEMBLE, TAG_EVALUATE_TTA, TAG_METRIC_PROFILE, TAG_TRAIN_RUN)
from brats_mlops.registry.segmentation import register_evaluated
from brats_mlops.reporting.figures import overlay_figure
from brats_mlops.tracking import log_to_run, stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger

N_OVERLAYS = 3


def main(two_d: bool = False) -> None:
    stage, name, kind = (STAGE_EVAL_SEG_2D, MODEL_SEGMENTATION_2D, "segmentation_2d") if two_d else (STAGE_EVAL_SEG, MODEL_SEGMENTATION, "segmentation")
    log = stage_logger(stage)
    params = load_params()
    cfg, p = (params.slices2d if two_d else params.segmentation), params.paths
    ckdir = p.slices2d_checkpoints if two_d else p.segmentation_checkpoints
    model, best, checkpoints = load_evaluated(ckdir, "none" if two_d else params.evaluate.ensemble)
    train_run, mc = checkpoint_run_id(ckdir), best["model_config"]
    ids, evaluated_on = held_out(read_split(p.segmentation_split), cfg.max_eval_cases)
    cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
    out_dir = Path(p.reports_dir) / kind
    profile = stage_profile(params.evaluate.profile, params.data.source, params.data.root).name
    log.info("evaluating the best checkpoint (epoch %d%s) on %d %s cases in their original geometry (official metrics, %s)",
             best["epoch"], f"; ensemble of {len(model)} folds" if len(model) > 1 else "", len(ids), evaluated_on, profile)
    if evaluated_on == "validation":
        log.warning("split.test_fraction is 0: reporting on the validation cases that also picked the checkpoint (optimistic)")
    with stage_run(stage, params, ["slices2d"] if two_d else ["segmentation", "evaluate"], deps=[ckdir, params.data.root, p.segmentation_split],
                   tags={TAG_ABLATION_GROUP: cfg.ablation_group, TAG_TRAIN_RUN: str(train_run), TAG_METRIC_PROFILE: profile}) as run:
        rows = []
        for i, r in enumerate(evaluate_cases(model, mc, cases, ids, params.segmentation.postprocess_min_voxels,
                                                   "none" if two_d else params.evaluate.tta, profile)):
            rows.append(r.row)
            if i < N_OVERLAYS:
                flair = r.images[mc["modalities"].index("flair") if "flair" in mc["modalities"] else 0]
                run.log_artifact(overlay_figure(flair, r.pred, r.gt, out_dir / "overlays" / f"{r.case_id}.png", title=f"{r.case_id}: "
                                                f"{headline(r.row)}"), "overlays")
        df = pd.DataFrame(rows)
        out_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_dir / "cases.csv", index=False)
        summary = summarise(df, evaluated_on, best["epoch"], profile, edition_tag(params.data.source, params.data.root))
        dump_json(summary, p.metrics(kind))
        run.log_metrics(summary)
        run.log_artifact(out_dir / "cases.csv", "evaluation")
        key = key_metrics(summary)
        if train_run:  # the held-out metrics also go to the training run, so ablations compare there
            log_to_run(train_run, {f"test_{k}": v for k, v in key.items()})
        uri, version = register_evaluated(checkpoints, key, train_run, cfg.ablation_group, p, name, None if two_d else
                                          {TAG_EVALUATE_TTA: params.evaluate.tta, TAG_ENSEMBLE: len(checkpoints)})
        log.info("%s (D_BraTS %.4f) on %d cases; registered %s version %s as @challenger", headline(summary),
                 summary["dice_brats"], len(df), uri, version)


if __name__ == "__main__":
    run_stage(main, STAGE_EVAL_SEG)
