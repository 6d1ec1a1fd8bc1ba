"""Inference time per case of an exported network (TorchScript, ONNX Runtime) against the PyTorch network, in one
process, through the same pre/post-processing (issue 25's benchmark).

    python -m bench.bench_export [--repeats 3] [--channels 16 32 64 128 256] [--size 240 240 155]

The network is the paper's ``res_se_unet`` (random weights: speed does not depend on them) exported exactly as
``brats-mlops export --format torchscript|onnx`` does (``export/network.py``), on a synthetic case of ``--size`` with the
brain filling most of it, the 3-D family's sliding window over 128^3 windows (``--roi``), overlap 0.5, one thread per
runtime (``--threads``). Reports the median seconds per case and the ratio to PyTorch. Writes ``bench/results/export.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.machine import machine
from brats_mlops.export import network
from brats_mlops.families import get_family
from brats_mlops.models.catalog import build_model


def _case(size: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(100, 20, (4, *size)).astype(np.float32)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in size], indexing="ij"))
    img[:, (grid ** 2).sum(0) > 0.9] = 0  # background outside an ellipsoid "brain"
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    ap.add_argument("--size", type=int, nargs=3, default=[240, 240, 155])
    ap.add_argument("--roi", type=int, nargs=3, default=[128, 128, 128])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("bench/results/export.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    mc = {"kind": "3d", "model": "res_se_unet", "channels": args.channels, "in_channels": 4, "out_channels": 4,
          "label_scheme": "glioma", "mode": "label", "region_thresholds": [0.5, 0.5, 0.5], "modalities": ["t1", "t1ce", "t2", "flair"],
          "roi_size": args.roi, "healthy_label": False, "sw_overlap": 0.5, "percentile_clip": None}
    net = build_model("res_se_unet", 4, 4, channels=tuple(args.channels)).eval()
    images = _case(tuple(args.size))
    fam = get_family("3d")
    with tempfile.TemporaryDirectory() as tmp:
        nets = {"pytorch": net,
                "torchscript": network.load_exported(network.to_torchscript(net, mc, Path(tmp) / "model.pt")),
                "onnx": network.load_exported(network.to_onnx(net, mc, Path(tmp) / "model.onnx"))}
        times: dict[str, list[float]] = {k: [] for k in nets}
        labels = {}
        for _ in range(args.repeats):  # interleaved, so a busy moment of the machine hits every runtime alike
            for name, n in nets.items():
                t = time.perf_counter()
                labels[name] = fam.predict_labels([n], images, mc, tta="none")
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["pytorch"])
    res = {"machine": machine(), "network": f"res_se_unet {args.channels}", "case": args.size, "roi": args.roi,
           "threads": args.threads, "repeats": args.repeats,
           "runtimes": {k: {"median_s_per_case": statistics.median(v), "all_s": v, "vs_pytorch": statistics.median(v) / base,
                            "labels_identical_to_pytorch": bool(np.array_equal(labels[k], labels["pytorch"]))}
                        for k, v in times.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
