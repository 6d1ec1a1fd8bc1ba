"""Optuna study stages (tune/dvc.yaml; not run by the default `dvc repro`):

    python -m pipelines.tune segmentation|autoencoder|survival [--n-trials N]

Several processes on the same `tune.storage` cooperate on one study; a restarted study resumes.
"""

from __future__ import annotations

import argparse

from brats_mlops.config import load_params
from brats_mlops.tuning.objectives import STUDIES
from brats_mlops.tuning.study import run_study
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", choices=sorted(STUDIES))
    ap.add_argument("--n-trials", type=int, default=None, help="total trials (complete or pruned) the study should reach")
    args = ap.parse_args(argv)
    stage_logger(f"tune_{args.study}")
    run_study(STUDIES[args.study], load_params(), args.n_trials)


if __name__ == "__main__":
    run_stage(main, "tune")
