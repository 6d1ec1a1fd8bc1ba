"""DVC stage `survival`: feature sets × age × Appendix A grids; Table 7 with intervals; permutation test;
time-to-event models (c-index); the selected latent-feature pipeline registered as brats-survival@challenger
(``workflows/survival.py``)."""

from __future__ import annotations

from brats_mlops.config import load_params
from brats_mlops.names import STAGE_SURVIVAL
from brats_mlops.utils.entry import run_stage
from brats_mlops.workflows.survival import run_survival


def main() -> None:
    run_survival(load_params())


if __name__ == "__main__":
    run_stage(main, STAGE_SURVIVAL)
