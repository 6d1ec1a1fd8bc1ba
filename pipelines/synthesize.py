"""DVC stage `synthesize`: write the embedded synthetic BraTS 2020-layout dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

from brats_mlops.config import load_params
from brats_mlops.data.synthetic import generate_dataset
from brats_mlops.names import STAGE_SYNTHESIZE
from brats_mlops.tracking import stage_run
from brats_mlops.utils.entry import run_stage
from brats_mlops.utils.logs import stage_logger

OUT = Path("data/raw/synthetic")  # declared in dvc.yaml (outs of synthesize)


def main() -> None:
    log = stage_logger(STAGE_SYNTHESIZE)
    params = load_params()
    if params.data.source != "synthetic":  # a real dataset: the declared output is a marker, nothing is generated
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        (OUT / "NOT_GENERATED.txt").write_text(f"data.source is {params.data.source!r} (data.root {params.data.root}): "
                                               "the embedded synthetic data is generated only for data.source: synthetic\n")
        log.info("data.source is %s: nothing to generate", params.data.source)
        return
    log.info("writing %d labelled + %d unlabelled synthetic cases of shape %s to %s",
             params.synthetic.n_train, params.synthetic.n_validation, params.synthetic.shape, OUT)
    with stage_run(STAGE_SYNTHESIZE, params, ["synthetic"]) as run:
        if OUT.exists():
            shutil.rmtree(OUT)
        truths = generate_dataset(OUT, params.synthetic, num_workers=params.data.num_workers)
        run.log_metrics({"cases": len(truths)})
        run.log_artifact(OUT / "synthetic_ground_truth.csv")


if __name__ == "__main__":
    run_stage(main, "synthesize")
