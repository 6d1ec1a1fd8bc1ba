"""DVC stage `segmentation_features`: tumour volumes and ratios of the survival cohort from the trained
segmentation model (full-volume inference in the original geometry)."""

from __future__ import annotations

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.io import load_case_images
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import survival_skip_reason
from brats_mlops.inference.segment import predict_labels
from brats_mlops.models.checkpoint import load_segmentation
from brats_mlops.names import STAGE_SEG_FEATURES
from brats_mlops.survival.features import VOLUME_COLUMNS, segmentation_volumes
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger
from brats_mlops.utils.progress import progress


def main() -> None:
    log = stage_logger(STAGE_SEG_FEATURES)
    params = load_params()
    p = params.paths
    skipped = survival_skip_reason(p.splits_dir)
    with stage_run(STAGE_SEG_FEATURES, params, ["segmentation"], deps=[p.segmentation_checkpoints, p.raw_manifest, p.survival_tte]) as run:
        if skipped:
            p.segmentation_volumes.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(columns=["case_id", *VOLUME_COLUMNS]).to_csv(p.segmentation_volumes, index=False)
            run.set_status(skipped)
            log.warning("skipped (survival branch off): %s", skipped)
            return
        model, best = load_segmentation(p.segmentation_checkpoints / "best.pt")
        mc = best["model_config"]
        cohort = pd.read_csv(p.survival_tte)
        cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
        log.info("predicting tumour volumes of %d survival-cohort cases with the best segmentation checkpoint", len(cohort))
        rows = []
        for cid in progress(cohort.case_id, total=len(cohort), desc="volumes"):
            images, _, spacing = load_case_images(cases[cid], mc["modalities"])
            rows.append({"case_id": cid, **segmentation_volumes(predict_labels(model, images, mc), spacing)})
        p.segmentation_volumes.parent.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame(rows)
        df.to_csv(p.segmentation_volumes, index=False)
        run.set_status()
        run.log_metrics({"cases": len(df), "mean_wt_cm3": float(df.wt_cm3.mean())})
        run.log_artifact(p.segmentation_volumes, "features")


if __name__ == "__main__":
    run_stage(main, "segmentation_features")
