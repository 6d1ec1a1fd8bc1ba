"""2-D slice models (seeds 001/004) against the 3-D CPU default, on this CPU (issue 11's benchmark).

    python -m bench.bench_slices [--steps 5]

1. Training step (forward + loss + backward + Adam): the 2-D ``resnet18_unet`` on a batch of 16 axial 64x64 slices
   (the CPU default) and seed 004's Model 1 / Model 2, against the 3-D CPU default (``res_se_unet`` 8-128, batch 2 of
   64^3, Dice-CE). Reported per step and per voxel seen; ratios against the 3-D step.
2. Whole-case inference: one synthetic-default case (72x72x56, crop 64^3) and one BraTS-sized case (240x240x155:
   3-D sliding window 64^3; 2-D whole slices resized to 256, seed 001) with each model, ratios against the 3-D model.
3. Slice loading: ``SliceDataset`` items/s from memory-mapped ``.npy`` volumes (no augmentation / with flips) against
   the 2-D model's training-step consumption (items/s): the loader must not be the bottleneck.
Writes ``bench/results/slices.json``.
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

from bench.machine import machine
from brats_mlops.data.preprocessing import save_preprocessed
from brats_mlops.data.slices import SliceDataset, index_slices, slice_augmentation
from brats_mlops.inference.segment import predict_labels
from brats_mlops.losses.slices import WeightedDiceLoss
from brats_mlops.models import build_model
from brats_mlops.models.unet2d import build_model_2d

MC3D = {"model": "res_se_unet", "in_channels": 4, "out_channels": 4, "mode": "label", "modalities": ["t1", "t1ce", "t2", "flair"],
        "roi_size": [64, 64, 64], "region_thresholds": [0.5, 0.5, 0.5], "healthy_label": False, "sw_overlap": 0.5}


def _median_step(model, x, y, loss, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    ts = []
    for i in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
        if i:
            ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def train_steps(steps: int) -> dict:
    out = {}
    m3 = build_model("res_se_unet", 4, 4, channels=(8, 16, 32, 64, 128))
    t3 = _median_step(m3, torch.randn(2, 4, 64, 64, 64), torch.randint(0, 4, (2, 1, 64, 64, 64)),
                      DiceCELoss(to_onehot_y=True, softmax=True), steps)
    out["3d_res_se_unet_b2_64cubed"] = {"step_s": t3, "voxels_per_s": 2 * 64**3 / t3, "vs_3d_step": 1.0}
    for name in ("resnet18_unet", "seed004_model1", "seed004_model2"):
        m = build_model_2d(name, 4, 4)
        t = _median_step(m, torch.randn(16, 4, 64, 64), torch.randint(0, 4, (16, 64, 64)), WeightedDiceLoss([0, 1, 1, 1]), steps)
        out[f"2d_{name}_b16_64sq"] = {"step_s": t, "voxels_per_s": 16 * 64**2 / t, "step_time_vs_3d": t / t3,
                                     "voxel_throughput_vs_3d": (16 * 64**2 / t) / (2 * 64**3 / t3)}
    return out


def _case(shape, rng) -> np.ndarray:
    vol = np.zeros((4, *shape), np.float32)
    sl = tuple(slice(s // 6, s - s // 6) for s in shape)
    vol[(slice(None), *sl)] = rng.random((4, *[x.stop - x.start for x in sl])) * 1000 + 100
    return vol


def inference(rng) -> dict:
    m3 = build_model("res_se_unet", 4, 4, channels=(8, 16, 32, 64, 128)).eval()
    m2 = build_model_2d("resnet18_unet", 4, 4).eval()
    out = {}
    for label, shape, crop, size in (("synthetic_72x72x56", (72, 72, 56), [64, 64, 64], None),
                                     ("brats_240x240x155", (240, 240, 155), [240, 240, 160], 256)):
        vol = _case(shape, rng)
        mc2 = {"kind": "slices2d", "model": "resnet18_unet", "in_channels": 4, "out_channels": 4, "modalities": MC3D["modalities"],
               "crop_mode": "center", "crop_size": crop, "size": size, "normalisation": "zscore", "healthy_label": False}
        t = time.perf_counter()
        predict_labels(m3, vol, MC3D)
        t3 = time.perf_counter() - t
        t = time.perf_counter()
        predict_labels(m2, vol, mc2)
        t2 = time.perf_counter() - t
        out[label] = {"3d_s": t3, "2d_resnet18_unet_s": t2, "2d_time_vs_3d": t2 / t3}
    return out


def loader_vs_step(steps: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rng = np.random.default_rng(0)
        ids = [f"c{i}" for i in range(8)]
        for cid in ids:
            img = rng.standard_normal((4, 64, 64, 64)).astype(np.float32)
            lab = np.zeros((64, 64, 64), np.uint8)
            lab[20:40, 20:40, 20:40] = 2
            save_preprocessed(d, cid, images=img, labels=lab)
        refs = index_slices(d, ids)
        res = {}
        for name, tf in (("plain", None), ("flip_augmented", slice_augmentation(0.5, 0.0, 10))):
            ds = SliceDataset(d, refs, None, "zscore", False, tf)
            t = time.perf_counter()
            for i in np.random.default_rng(0).permutation(len(ds)):  # shuffled: volumes change from item to item
                ds[int(i)]
            res[f"loader_items_per_s_{name}"] = len(ds) / (time.perf_counter() - t)
    m = build_model_2d("resnet18_unet", 4, 4)
    t = _median_step(m, torch.randn(16, 4, 64, 64), torch.randint(0, 4, (16, 64, 64)), WeightedDiceLoss([0, 1, 1, 1]), steps)
    res["resnet18_unet_consumes_items_per_s"] = 16 / t
    res["loader_headroom_plain"] = res["loader_items_per_s_plain"] / res["resnet18_unet_consumes_items_per_s"]
    res["loader_headroom_augmented"] = res["loader_items_per_s_flip_augmented"] / res["resnet18_unet_consumes_items_per_s"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    res = {"machine": machine(), "threads": torch.get_num_threads(), "train_step": train_steps(args.steps),
           "segment_one_case": inference(np.random.default_rng(0)), "loader": loader_vs_step(args.steps)}
    out = Path("bench/results/slices.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
