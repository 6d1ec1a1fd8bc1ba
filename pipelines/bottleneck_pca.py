"""DVC stage `bottleneck_pca`: bottleneck features per case, PCA, scree plot and collapse statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brats_mlops.analysis.bottleneck import bottleneck_features, collapse_statistics
from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans
from brats_mlops.names import STAGE_BOTTLENECK_PCA, TAG_ABLATION_GROUP
from brats_mlops.reporting.figures import scree_plot
from brats_mlops.models.checkpoint import load_segmentation
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_BOTTLENECK_PCA)
    params = load_params()
    p = params.paths
    model, _ = load_segmentation(p.segmentation_checkpoints / "best.pt")
    plans = Plans.load(p.preprocessed_dir)
    ids = plans.labelled_ids()
    with stage_run(STAGE_BOTTLENECK_PCA, params, ["segmentation"], deps=[p.segmentation_checkpoints, p.preprocessed_dir],
                   tags={TAG_ABLATION_GROUP: params.segmentation.ablation_group}) as run:
        feats = bottleneck_features(model, Path(p.preprocessed_dir), ids)
        stats, ratios = collapse_statistics(feats)
        p.bottleneck_features.parent.mkdir(parents=True, exist_ok=True)
        np.savez(p.bottleneck_features, case_ids=np.array(ids), features=feats, explained_variance_ratio=ratios)
        dump_json({**stats, "explained_variance_ratio_top10": [float(r) for r in ratios[:10]]}, p.metrics("bottleneck_pca"))
        fig = scree_plot(ratios, Path(p.reports_dir) / "segmentation" / "bottleneck_scree.png",
                         title=f"bottleneck PCA ({stats['n_cases']} cases, {stats['n_features']} features)")
        run.log_metrics(stats)
        run.log_artifact(fig, "figures")
        log.info("PC1 explains %.1f%% of the variance; feature norm %.3g vs spread %.3g", 100 * stats["pc1_share"],
                 stats["mean_feature_norm"], stats["mean_distance_to_centroid"])


if __name__ == "__main__":
    run_stage(main, "bottleneck_pca")
