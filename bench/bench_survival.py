"""Survival-branch speed on this CPU (issue 4's benchmark).

    python -m bench.bench_survival [--sections ae,grid] [--paper-steps 1]

1. Autoencoder training step (AutoencoderKL forward + L1/KL/LSGAN + backward + Adam, then the PatchGAN
   discriminator step) at the CPU default (params.yaml: 48³, widths 8-16-32, batch 4) and at the paper's size
   (112×112×96, widths 32-64-128-128, discriminator 32, batch 1), per volume; ratio paper / default.
   Peak resident memory of the process after each (ru_maxrss, monotone: the paper size is measured second).
2. Wall time of the survival stage's classification (every feature set × age × model × CV fold, the repeated CV
   and the bootstrap; ``branch.classify``, feature sets in parallel processes) on the pipeline's features
   (data/features, data/splits; run `dvc repro` first) with n_jobs 1 and 2; ``--grid paper`` for Appendix A's grids,
   ``--feature-sets`` for a subset.
Writes ``bench/results/survival.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import torch

from bench.machine import machine
from brats_mlops.config import load_params
from brats_mlops.losses.autoencoder import AdversarialLosses, kl_loss
from brats_mlops.models.autoencoder import build_autoencoder, build_discriminator


def ae_step_time(channels, disc_channels, shape, batch, steps, channels_last: bool = False) -> float:
    """Median seconds per volume of one generator + discriminator update (networks and input in channels-last-3d
    with ``channels_last``)."""
    mc = {"channels": list(channels), "latent_channels": 3, "num_res_blocks": 1, "norm_num_groups": 8,
          "disc_layers": 3, "disc_channels": disc_channels}
    gen, disc = build_autoencoder(mc), build_discriminator(mc)
    x = torch.rand(batch, 1, *shape)
    if channels_last:
        gen, disc = gen.to(memory_format=torch.channels_last_3d), disc.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    og, od = torch.optim.Adam(gen.parameters(), 1e-4), torch.optim.Adam(disc.parameters(), 5e-4)
    adv = AdversarialLosses()
    ts = []
    for i in range(steps + 1):
        t = time.perf_counter()
        og.zero_grad()
        recon, mu, sigma = gen(x)
        disc.requires_grad_(False)
        loss = torch.nn.functional.l1_loss(recon, x) + 1e-6 * kl_loss(mu, sigma) + 0.01 * adv.generator(disc(recon)[-1])
        disc.requires_grad_(True)
        loss.backward()
        og.step()
        od.zero_grad()
        adv.discriminator(disc(x)[-1], disc(recon.detach())[-1]).backward()
        od.step()
        if i:  # the first step warms up
            ts.append((time.perf_counter() - t) / batch)
    return statistics.median(ts)


def max_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def grid_wall_time(n_jobs: int, grid: str, feature_sets: list[str] | None = None) -> tuple[float, int]:
    """Wall time of the survival stage's classification (``branch.classify``: feature sets in ``n_jobs`` processes)."""
    from brats_mlops.survival.branch import SurvivalInputs, classify

    params = load_params()
    upd = {"n_jobs": n_jobs, "grid": grid, **({"feature_sets": feature_sets} if feature_sets else {})}
    cfg = params.survival.model_copy(update=upd)
    data = SurvivalInputs.load(params.paths)
    t = time.perf_counter()
    results = classify(cfg, data, params.seed)
    return time.perf_counter() - t, len(results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default="ae,grid", help="comma-separated subset of ae,grid")
    ap.add_argument("--steps", type=int, default=3, help="timed steps at the CPU default size")
    ap.add_argument("--paper-steps", type=int, default=1, help="timed steps at the paper's size (~40 s each)")
    ap.add_argument("--grid", default="fast", help="survival grid of the grid section: fast | paper (Appendix A)")
    ap.add_argument("--feature-sets", default="", help="comma-separated subset of survival.feature_sets (default: all)")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    out_path = Path("bench/results/survival.json")
    res: dict = json.loads(out_path.read_text()) if out_path.is_file() else {}
    res.update({"machine": machine(), "threads": torch.get_num_threads()})
    if "ae" in sections:
        p = load_params()
        a, shape = p.autoencoder, tuple(p.preprocess.autoencoder.shape)
        d = ae_step_time(a.channels, a.disc_channels, shape, a.batch_size, args.steps)
        rss_d = max_rss_gib()
        print(f"AE step at the CPU default {shape} {list(a.channels)} batch {a.batch_size}: {d:.3f} s/volume")
        pp = ae_step_time((32, 64, 128, 128), 32, (112, 112, 96), 1, args.paper_steps)
        rss_p = max_rss_gib()
        print(f"AE step at the paper's size: {pp:.1f} s/volume")
        res["autoencoder_step"] = {
            "cpu_default": {"shape": list(shape), "channels": list(a.channels), "batch": a.batch_size, "s_per_volume": d,
                            "max_rss_gib": rss_d},
            "paper": {"shape": [112, 112, 96], "channels": [32, 64, 128, 128], "batch": 1, "s_per_volume": pp, "max_rss_gib": rss_p},
            "paper_over_default": pp / d,
            "paper_epoch_494_volumes_h": pp * 494 / 3600,
        }
    if "grid" in sections:
        fs = [f for f in args.feature_sets.split(",") if f] or None
        t1, n = grid_wall_time(1, args.grid, fs)
        print(f"survival grid ({args.grid}), 1 job: {t1:.1f} s for {n} feature-set rows")
        t2, _ = grid_wall_time(2, args.grid, fs)
        print(f"survival grid ({args.grid}), 2 jobs: {t2:.1f} s")
        res[f"survival_grid_{args.grid}"] = {"rows": n, "feature_sets": fs or "all", "n_jobs_1_s": t1, "n_jobs_2_s": t2,
                                            "speedup_2_jobs": t1 / t2}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
