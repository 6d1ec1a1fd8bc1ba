"""One process of the DDP benchmark (``bench/bench_scale.py`` starts it with torchrun): two epochs of the
segmentation trainer on the pipeline's preprocessed data (the first warms up), timed on every rank; rank 0 writes
``argv[1]`` (JSON)."""

from __future__ import annotations

import json
import sys
import tempfile
import time

import torch

from brats_mlops.config import load_params
from brats_mlops.training import distributed
from brats_mlops.training.segmentation import SegmentationTrainer


def main() -> None:
    ctx = distributed.init()
    params = load_params()
    with tempfile.TemporaryDirectory() as ck:
        tr = SegmentationTrainer.from_params(params, ck)
        times, steps = [], 0
        for epoch in range(2):
            t = time.perf_counter()
            rec = tr.train_epoch(epoch)
            if ctx.enabled:
                torch.distributed.barrier()
            times.append(time.perf_counter() - t)
            steps = rec["optimizer_steps"]
    if ctx.is_main:
        n = len(tr.split["train"])
        out = {"processes": ctx.world_size, "threads_per_process": torch.get_num_threads(), "train_cases": n,
               "steps_per_rank": steps, "epoch_s": times[1], "warmup_epoch_s": times[0], "steps_per_s": steps / times[1],
               "cases_per_s": n / times[1]}
        with open(sys.argv[1], "w") as f:
            json.dump(out, f)
    distributed.shutdown()


if __name__ == "__main__":
    main()
