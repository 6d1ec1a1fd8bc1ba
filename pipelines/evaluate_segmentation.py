"""DVC stage `evaluate_segmentation`: full-volume inference on held-out cases, BraTS metrics, overlays, registry."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from brats_mlops.config import load_params
from brats_mlops.data.io import load_case_images, load_image
from brats_mlops.data.preprocessing import dump_json, remap_labels
from brats_mlops.data.readers import discover
from brats_mlops.inference.segment import predict_labels
from brats_mlops.metrics import case_metrics, postprocess
from brats_mlops.names import SEGMENTATION_CHECKPOINTS, STAGE_EVAL_SEG, TAG_ABLATION_GROUP, TAG_DATA_HASH, TAG_GIT_COMMIT, TAG_TRAIN_RUN
from brats_mlops.reporting.figures import overlay_figure
from brats_mlops.registry.common import data_validation_tag
from brats_mlops.registry.segmentation import log_and_register
from brats_mlops.tracking import git_commit, real_project_root, stage_run
from brats_mlops.training.segmentation import load_checkpoint_model
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.hashing import content_hash
from brats_mlops.utils.logs import stage_logger
from brats_mlops.utils.progress import progress

CHECKPOINTS = Path(SEGMENTATION_CHECKPOINTS)
N_OVERLAYS = 3
SUMMARY_KEYS = ["dice_wt", "dice_tc", "dice_et", "dice_brats", "iou_wt", "iou_tc", "iou_et", "hd95_wt", "hd95_tc", "hd95_et",
                "sensitivity_wt", "sensitivity_tc", "sensitivity_et", "specificity_wt", "specificity_tc", "specificity_et",
                "lesion_dice_wt", "lesion_dice_tc", "lesion_dice_et", "lesion_hd95_wt", "lesion_hd95_tc", "lesion_hd95_et",
                "dice_ncr", "dice_ed",
                "lesion_num_tp_wt", "lesion_num_fn_wt", "lesion_num_fp_wt", "lesion_num_tp_tc", "lesion_num_fn_tc", "lesion_num_fp_tc",
                "lesion_num_tp_et", "lesion_num_fn_et", "lesion_num_fp_et"]


def main() -> None:
    log = stage_logger(STAGE_EVAL_SEG)
    params = load_params()
    cfg, p = params.segmentation, params.paths
    model, best = load_checkpoint_model(CHECKPOINTS / "best.pt")
    last = torch.load(CHECKPOINTS / "last.pt", map_location="cpu", weights_only=False)
    mc = best["model_config"]
    split = json.loads((Path(p.splits_dir) / "segmentation.json").read_text())
    # the test cases (never seen by training or checkpoint selection); validation cases only when split.test_fraction is 0
    key = "test" if split.get("test") else "val"
    evaluated_on = "test" if key == "test" else "validation"
    held_out = split[key][: cfg.max_eval_cases]
    cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
    out_dir = Path(p.reports_dir) / "segmentation"
    rows = []
    log.info("evaluating the best checkpoint (epoch %d) on %d %s cases in their original geometry (official BraTS 2023 metrics)",
             best["epoch"], len(held_out), evaluated_on)
    if evaluated_on == "validation":
        log.warning("split.test_fraction is 0: reporting on the validation cases that also picked the checkpoint (optimistic)")
    with stage_run(STAGE_EVAL_SEG, params, ["segmentation"], deps=[CHECKPOINTS, params.data.root, Path(p.splits_dir) / "segmentation.json"],
                   tags={TAG_ABLATION_GROUP: cfg.ablation_group, TAG_TRAIN_RUN: str(last.get("run_id"))}) as run:
        for i, cid in enumerate(progress(held_out, desc="evaluate")):
            case = cases[cid]
            images, _, spacing = load_case_images(case, mc["modalities"])
            gt = remap_labels(load_image(case.seg, dtype=None)[0], case.label_map)
            pred = predict_labels(model, images, mc)
            post = postprocess(pred, cfg.postprocess_min_voxels)
            row = {"case_id": cid, **case_metrics(pred, gt, spacing)}
            row.update({f"{k}_post": v for k, v in case_metrics(post, gt, spacing).items()})
            rows.append(row)
            if i < N_OVERLAYS:
                fig = overlay_figure(images[mc["modalities"].index("flair") if "flair" in mc["modalities"] else 0], pred, gt,
                                     out_dir / "overlays" / f"{cid}.png", title=f"{cid}: Dice WT {row['dice_wt']:.3f} TC {row['dice_tc']:.3f} ET {row['dice_et']:.3f}")
                run.log_artifact(fig, "overlays")
        df = pd.DataFrame(rows)
        out_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(out_dir / "cases.csv", index=False)
        summary = {k: float(df[k].mean()) for k in SUMMARY_KEYS}
        summary.update({f"{k}_post": float(df[f"{k}_post"].mean()) for k in SUMMARY_KEYS})
        summary.update({f"{k}_std": float(df[k].std(ddof=1)) if len(df) > 1 else 0.0 for k in ("dice_wt", "dice_tc", "dice_et", "dice_brats")})
        summary["n_cases"] = len(df)
        summary["evaluated_on"] = evaluated_on
        summary["best_epoch"] = int(best["epoch"])
        dump_json(summary, Path(p.metrics_dir) / "segmentation.json")
        run.log_metrics(summary)
        run.log_artifact(out_dir / "cases.csv", "evaluation")
        # the held-out metrics also go to the training run, so ablations compare there
        from mlflow.tracking import MlflowClient

        if last.get("run_id"):
            client = MlflowClient()
            for k in ("dice_wt", "dice_tc", "dice_et", "dice_brats", "hd95_wt", "hd95_tc", "hd95_et"):
                client.log_metric(last["run_id"], f"test_{k}", summary[k])
        sha, _ = git_commit(real_project_root())
        key = {k: summary[k] for k in ("dice_wt", "dice_tc", "dice_et", "dice_brats", "hd95_wt", "hd95_tc", "hd95_et")}
        uri, version = log_and_register(CHECKPOINTS / "best.pt", key, {
            TAG_DATA_HASH: content_hash(Path(p.preprocessed_dir) / "plans.json"), TAG_GIT_COMMIT: sha,
            TAG_TRAIN_RUN: str(last.get("run_id")), TAG_ABLATION_GROUP: cfg.ablation_group, **data_validation_tag(p.metrics_dir)})
        log.info("Dice WT %.4f TC %.4f ET %.4f (D_BraTS %.4f) on %d cases; registered %s version %s as @challenger",
                 summary["dice_wt"], summary["dice_tc"], summary["dice_et"], summary["dice_brats"], len(df), uri, version)


if __name__ == "__main__":
    run_stage(main, "evaluate_segmentation")
