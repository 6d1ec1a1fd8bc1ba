"""DVC stage `extract_latents`: the autoencoder's posterior mean E (C×H×W×D) of every patient with survival
data, and the PCA of the flattened latents (the paper's comparison with the U-Net bottleneck's collapse)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brats_mlops.analysis.bottleneck import collapse_statistics
from brats_mlops.config import load_params
from brats_mlops.data.preprocessing import Plans
from brats_mlops.data.datasets import load_volumes
from brats_mlops.data.splits import survival_skip_reason
from brats_mlops.inference.latents import latent_means
from brats_mlops.models.checkpoint import load_autoencoder
from brats_mlops.names import STAGE_EXTRACT_LATENTS
from brats_mlops.reporting.figures import scree_plot
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.jsonio import dump_json
from brats_mlops.utils.logs import stage_logger


def main() -> None:
    log = stage_logger(STAGE_EXTRACT_LATENTS)
    params = load_params()
    p = params.paths
    model, best = load_autoencoder(p.autoencoder_checkpoints / "best.pt")
    skipped = survival_skip_reason(p.splits_dir)
    if skipped:  # no survival cohort: the latents of every labelled case still show the PCA contrast with the bottleneck
        ids = Plans.load(p.preprocessed_dir).labelled_ids()
        log.warning("survival branch off (%s): latents of all %d labelled cases (PCA only)", skipped, len(ids))
    else:
        ids = pd.read_csv(p.survival_tte).case_id.tolist()
    with stage_run(STAGE_EXTRACT_LATENTS, params, ["autoencoder"], deps=[p.autoencoder_checkpoints, p.preprocessed_dir, p.survival_tte]) as run:
        lat = latent_means(model, load_volumes(Path(p.preprocessed_dir), ids))
        p.latents.parent.mkdir(parents=True, exist_ok=True)
        np.savez(p.latents, case_ids=np.array(ids), latents=lat)
        stats, ratios = collapse_statistics(lat.reshape(len(lat), -1).astype(np.float64))
        m = {**stats, "cohort": "all labelled cases (survival branch skipped)" if skipped else "survival cohort",
             "latent_shape": list(lat.shape[1:]), "autoencoder_best_epoch": int(best["epoch"]),
             "explained_variance_ratio_top10": [float(r) for r in ratios[:10]]}
        dump_json(m, p.metrics("latents"))
        fig = scree_plot(ratios, Path(p.reports_dir) / "autoencoder" / "latent_scree.png",
                         title=f"autoencoder latent PCA ({len(ids)} patients, {lat[0].size} features)")
        run.log_metrics(stats)
        run.log_artifact(fig, "figures")
        log.info("latents %s of %d patients; PC1 %.1f%% of the variance, %d components for 98%%", list(lat.shape[1:]),
                 len(ids), 100 * stats["pc1_share"], stats["components_for_98pct"])


if __name__ == "__main__":
    run_stage(main, "extract_latents")
