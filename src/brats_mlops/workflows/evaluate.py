"""The one evaluation path of every segmentation family (the stages ``evaluate_segmentation``,
``evaluate_segmentation_2d``, ``nnunet_evaluate`` and any new family's): the family's trained model predicts the
held-out cases in their original geometry; the official metrics of the edition's profile, before and after
post-processing, per case (``reports/<family>/cases.csv``) and summarised (``metrics/<family>.json``); overlays of the
first cases; the key metrics also on the training run; the model registered as the family's model (@challenger)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from brats_mlops.config.schema import Params
from brats_mlops.data.editions import edition_tag
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import read_split
from brats_mlops.families import SegmentationFamily
from brats_mlops.inference.evaluate import headline, held_out, key_metrics, score_cases, summarise
from brats_mlops.metrics.profiles import stage_profile
from brats_mlops.names import TAG_ABLATION_GROUP, TAG_METRIC_PROFILE, TAG_TRAIN_RUN
from brats_mlops.reporting.figures import overlay_figure
from brats_mlops.tracking import log_to_run, stage_run
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger

N_OVERLAYS = 3


def evaluate_family(params: Params, family: SegmentationFamily) -> dict[str, Any]:
    """Score ``family``'s trained model on the held-out cases, write and log the results, register the model;
    returns the summary (what ``metrics/<family>.json`` holds)."""
    log = stage_logger(family.eval_stage)
    cfg, p = family.config(params), params.paths
    model = family.evaluated(params)
    ids, evaluated_on = held_out(read_split(p.segmentation_split), cfg.max_eval_cases)
    cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
    out_dir = Path(p.reports_dir) / family.metrics_name
    profile = stage_profile(params.evaluate.profile, params.data.source, params.data.root).name
    log.info("evaluating %s on %d %s cases in their original geometry (official metrics, %s)", model.description, len(ids),
             evaluated_on, profile)
    if evaluated_on == "validation":
        log.warning("split.test_fraction is 0: reporting on the validation cases that also picked the checkpoint (optimistic)")
    with stage_run(family.eval_stage, params, list(family.eval_sections), deps=[*model.deps, p.raw_manifest, p.segmentation_split],
                   tags={TAG_ABLATION_GROUP: cfg.ablation_group, TAG_TRAIN_RUN: str(model.train_run),
                         TAG_METRIC_PROFILE: profile}) as run:
        rows = []
        for i, r in enumerate(score_cases(model.predict, model.modalities, cases, ids, params.segmentation.postprocess_min_voxels,
                                          with_class_scores=family.class_scores, profile=profile)):
            rows.append(r.row)
            if i < N_OVERLAYS:
                run.log_artifact(overlay_figure(r.images[model.figure_channel], r.pred, r.gt, out_dir / "overlays" / f"{r.case_id}.png",
                                                title=f"{r.case_id}: {headline(r.row)}"), "overlays")
        df = pd.DataFrame(rows)
        out_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_dir / "cases.csv", index=False)
        summary = summarise(df, evaluated_on, model.epoch, profile, edition_tag(params.data.source, params.data.root))
        dump_json(summary, p.metrics(family.metrics_name))
        run.log_metrics(summary)
        run.log_artifact(out_dir / "cases.csv", "evaluation")
        key = key_metrics(summary)
        if model.train_run:  # the held-out metrics also go to the training run, so ablations compare there
            log_to_run(model.train_run, {f"test_{k}": v for k, v in key.items()})
        uri, version = model.register(key, model.train_run, cfg.ablation_group)
        log.info("%s (D_BraTS %.4f) on %d cases; registered %s version %s as @challenger", headline(summary),
                 summary["dice_brats"], len(df), uri, version)
    return summary
