"""DVC stage `segmentation_features`: tumour volumes and ratios of the survival cohort from the trained
segmentation model (full-volume inference in the original geometry)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brats_mlops.config import load_params
from brats_mlops.data.io import load_case_images
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import survival_skip_reason
from brats_mlops.inference.segment import predict_labels
from brats_mlops.names import SEGMENTATION_CHECKPOINTS, STAGE_SEG_FEATURES
from brats_mlops.survival.features import VOLUME_COLUMNS, segmentation_volumes
from brats_mlops.tracking import stage_run
from brats_mlops.training.segmentation import load_checkpoint_model
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger
from brats_mlops.utils.progress import progress

CHECKPOINTS = Path(SEGMENTATION_CHECKPOINTS)
OUT = Path("data/features/segmentation_volumes.csv")


def main() -> None:
    log = stage_logger(STAGE_SEG_FEATURES)
    params = load_params()
    p = params.paths
    skipped = survival_skip_reason(p.splits_dir)
    with stage_run(STAGE_SEG_FEATURES, params, ["segmentation"], deps=[CHECKPOINTS, params.data.root, Path(p.splits_dir) / "survival_tte.csv"]) as run:
        if skipped:
            OUT.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(columns=["case_id", *VOLUME_COLUMNS]).to_csv(OUT, index=False)
            run.set_status(skipped)
            log.warning("skipped (survival branch off): %s", skipped)
            return
        model, best = load_checkpoint_model(CHECKPOINTS / "best.pt")
        mc = best["model_config"]
        cohort = pd.read_csv(Path(p.splits_dir) / "survival_tte.csv")
        cases = {c.case_id: c for c in discover(params.data.source, params.data.root, params.data.modalities).cases}
        log.info("predicting tumour volumes of %d survival-cohort cases with the best segmentation checkpoint", len(cohort))
        rows = []
        for cid in progress(cohort.case_id, total=len(cohort), desc="volumes"):
            images, _, spacing = load_case_images(cases[cid], mc["modalities"])
            rows.append({"case_id": cid, **segmentation_volumes(predict_labels(model, images, mc), spacing)})
        OUT.parent.mkdir(parents=True, exist_ok=True)
        df = pd.DataFrame(rows)
        df.to_csv(OUT, index=False)
        run.set_status()
        run.log_metrics({"cases": len(df), "mean_wt_cm3": float(df.wt_cm3.mean())})
        run.log_artifact(OUT, "features")


if __name__ == "__main__":
    run_stage(main, "segmentation_features")
