"""Segmentation speed on this CPU (issue 3's benchmark).

    python -m bench.bench_segmentation [--steps 3]

1. Training-step throughput (forward + Dice-CE + backward + AdamW step, batch 1, 4 → 4 channels,
   widths 16-32-64-128-256) of ``res_se_unet`` against MONAI ``UNet`` and ``BasicUNet`` of the same widths,
   at 64³ and 128³, in one process. Ratios are against MONAI ``UNet``.
2. Data loader (TorchIO augmentation of 64³ preprocessed-like cases, 2 workers) samples/s against the CPU
   default model's training step: the loader must not be the bottleneck.
3. Wall time to segment one 240×240×155 case (sliding window 64³ and 128³, CPU default widths).
Writes ``bench/results/segmentation.json``.
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
from monai.losses import DiceCELoss
from monai.networks.nets import BasicUNet, UNet
from torch.utils.data import DataLoader

from bench.machine import machine
from brats_mlops.config.schema import AugmentationParams
from brats_mlops.inference.segment import predict_labels
from brats_mlops.models import build_model
from brats_mlops.data.augment import build_augmentation
from brats_mlops.data.datasets import SegmentationDataset
from brats_mlops.data.preprocessing import save_preprocessed

CH = (16, 32, 64, 128, 256)


def step_time(model: torch.nn.Module, size: int, steps: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    loss = DiceCELoss(to_onehot_y=True, softmax=True)
    x = torch.randn(1, 4, size, size, size)
    y = torch.randint(0, 4, (1, 1, size, size, size))
    ts = []
    for i in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
        if i:  # first step warms up
            ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--sections", default="train,loader,infer", help="comma-separated subset of train,loader,infer")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    out_path = Path("bench/results/segmentation.json")
    res: dict = json.loads(out_path.read_text()) if out_path.is_file() else {}
    res.update({"machine": machine(), "threads": torch.get_num_threads()})
    models = {
        "res_se_unet": lambda: build_model("res_se_unet", 4, 4, channels=CH),
        "monai_UNet": lambda: UNet(3, 4, 4, channels=CH, strides=(2, 2, 2, 2), num_res_units=0, norm=("GROUP", {"num_groups": 8})),
        "monai_BasicUNet": lambda: BasicUNet(3, 4, 4, features=(16, 32, 64, 128, 256, 16)),
    }
    steps = {}
    for size in (64, 128) if "train" in sections else ():
        for name, make in models.items():
            t = step_time(make(), size, args.steps)
            steps[f"{name}_{size}"] = {"step_s": t, "samples_per_s": 1 / t}
        base = steps[f"monai_UNet_{size}"]["step_s"]
        for name in models:
            steps[f"{name}_{size}"]["speed_vs_monai_UNet"] = base / steps[f"{name}_{size}"]["step_s"]
    if steps:
        res["train_step"] = steps
    default = build_model("res_se_unet", 4, 4, channels=(8, 16, 32, 64, 128))
    if "loader" in sections:
        res["loader"] = loader_vs_step(default, args.steps)
    if "infer" in sections:
        res["segment_one_case_240x240x155"] = one_case(default, rng)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


def loader_vs_step(default: torch.nn.Module, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rng = np.random.default_rng(0)
        ids = [f"c{i}" for i in range(16)]
        for cid in ids:
            img = np.zeros((4, 64, 64, 64), np.float32)
            img[:, 8:56, 8:56, 8:56] = rng.standard_normal((4, 48, 48, 48))
            lab = np.zeros((64, 64, 64), np.uint8)
            lab[24:40, 24:40, 24:40] = rng.integers(1, 4)
            save_preprocessed(d, cid, images=img, labels=lab)
        ds = SegmentationDataset(d, ids, build_augmentation(AugmentationParams()))
        dl = DataLoader(ds, batch_size=2, num_workers=2, shuffle=True)
        t = time.perf_counter()
        n = 0
        for batch in dl:
            n += batch["image"].shape[0]
        loader_sps = n / (time.perf_counter() - t)
    t_step = step_time(default, 64, steps)
    return {"loader_samples_per_s_2workers": loader_sps, "cpu_default_model_samples_per_s_64": 1 / t_step,
            "loader_headroom": loader_sps * t_step}


def one_case(default: torch.nn.Module, rng: np.random.Generator) -> dict:
    vol = np.zeros((4, 240, 240, 155), np.float32)
    vol[:, 50:190, 40:200, 10:150] = rng.random((4, 140, 160, 140)) * 1000 + 100
    infer = {}
    for roi in (64, 128):
        mc = {"in_channels": 4, "modalities": ["t1", "t1ce", "t2", "flair"], "roi_size": [roi] * 3, "mode": "label",
              "region_thresholds": [0.5] * 3, "healthy_label": False, "sw_overlap": 0.5}
        t = time.perf_counter()
        predict_labels(default, vol, mc)
        infer[f"roi{roi}_cpu_default_widths_s"] = time.perf_counter() - t
    return infer


if __name__ == "__main__":
    main()
