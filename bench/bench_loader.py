"""The paper preset's training data loader at 128³ (issue 26): samples/s per core, and the cores one GPU needs.

    python -m bench.bench_loader --unique DIR [--cases 8] [--passes 3]

``--unique``: generated 240×240×155 cases (BraTS 2020 layout, ``python -m bench.gen_cohort``). ``--cases`` of them are
preprocessed with the paper's crop (128³) into a temporary folder; then, in this process (one core: torch and Blosc2
on one thread, no loader workers), ``SegmentationDataset`` items per second with

* no augmentation (reading and decoding only: the stored int16 crop → float32 z-scores, ``data/arrays.py``), beside
  reading the same arrays as float32 ``.npy`` (the format before issue 26) — the I/O floor;
* the paper's augmentation (flip, affine p=1/3 with isotropic scaling, gamma), without and with the bias field
  (the paper's p = 0.2, and p = 1 for the worst case; the per-axis field of ``data/augment.py``, and at p = 1 TorchIO's
  own ``RandomBiasField`` beside it: the same fields, the baseline).

The GPU side: nnU-Net v1's documented epoch times (documentation/expected_epoch_times.md: 250 iterations × batch 2 of
3d_fullres in 120-178 s on a V100, i.e. 2.8-4.2 samples/s) and its default of 12 augmentation processes per GPU.
Writes ``bench/results/loader.json``.

``--bias-field``: only the bias field at 128³, order 3 — TorchIO's ``BiasField.generate_bias_field`` against the
platform's per-axis one (``data/augment.py``; the same field bit for bit), interleaved, one thread. Writes
``bench/results/bias_field.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.machine import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "loader.json"
GPU_SAMPLES_PER_S = (500 / 178.0, 500 / 120.0)   # nnU-Net v1 expected_epoch_times.md, 3d_fullres on V100s


def bias_field(repeats: int = 5) -> None:
    import statistics

    import torch
    import torchio as tio

    from brats_mlops.data.augment import SeparableBiasField

    torch.set_num_threads(1)
    data = torch.zeros(1, 128, 128, 128)
    times: dict[str, list[float]] = {"torchio": [], "per_axis": []}
    for i in range(repeats):
        coefficients = list(np.random.default_rng(i).uniform(-0.5, 0.5, 20))
        fields = {}
        for name, fn in (("torchio", tio.BiasField.generate_bias_field), ("per_axis", SeparableBiasField.generate_bias_field)):
            t = time.perf_counter()
            fields[name] = fn(data, 3, coefficients)
            times[name].append(time.perf_counter() - t)
        assert fields["torchio"].tobytes() == fields["per_axis"].tobytes()
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"machine": machine(), "shape": [128, 128, 128], "order": 3, "repeats": repeats, "load_average": os.getloadavg()[0],
           "seconds": {k: [round(x, 4) for x in v] for k, v in times.items()}, "median_s": {k: round(v, 4) for k, v in med.items()},
           "speedup": round(med["torchio"] / med["per_axis"], 2), "identical": True}
    (OUT.parent / "bias_field.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bias-field", action="store_true", help="only the bias field: TorchIO's against the per-axis one")
    ap.add_argument("--unique", type=Path)
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.bias_field:
        return bias_field()
    if args.unique is None:
        ap.error("--unique DIR is required (generated BraTS-size cases; see above)")
    import torch

    torch.set_num_threads(1)
    import torchio as tio

    from brats_mlops.config import load_params
    from brats_mlops.config.schema import AugmentationParams
    from brats_mlops.data.augment import build_augmentation
    from brats_mlops.data.datasets import SegmentationDataset
    from brats_mlops.data.preprocess_run import preprocess_dataset
    from brats_mlops.data.preprocessing import load_preprocessed
    from brats_mlops.data.readers import discover

    p = load_params()
    mods = tuple(p.data.modalities)
    cfg = p.preprocess.model_copy(update={"crop_size": (128, 128, 128)})
    cases = [c for c in discover("auto", args.unique, mods).cases if c.seg is not None][:args.cases]
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "pre"
        plans = preprocess_dataset(cases, mods, cfg, out, num_workers=2)
        ids = plans.labelled_ids()
        npy = Path(d) / "npy"
        npy.mkdir()
        for cid in ids:
            img, lab = load_preprocessed(out, cid)
            np.save(npy / f"{cid}_img.npy", img)
            np.save(npy / f"{cid}_lab.npy", lab)
        stored = sum(f.stat().st_size for f in out.rglob("*.b2nd")) / len(ids)
        as_npy = sum(f.stat().st_size for f in npy.iterdir()) / len(ids)

        def rate(fn) -> float:
            fn(ids[0])  # warm-up (page cache, first-call costs)
            t, n = time.perf_counter(), 0
            for _ in range(args.passes):
                for cid in ids:
                    fn(cid)
                    n += 1
            return n / (time.perf_counter() - t)

        paper = p.segmentation.augmentation.model_copy(update={"enabled": True, "isotropic": True, "affine_p": 0.333})
        variants = {
            "read_npy_float32": lambda cid: (torch.from_numpy(np.load(npy / f"{cid}_img.npy")), np.load(npy / f"{cid}_lab.npy")),
            "read_decode_b2nd": lambda cid, ds=SegmentationDataset(out, ids, None): ds[ids.index(cid)],
            "paper_augmentation": None,
            "paper_augmentation_bias_field_p0.2": {"bias_field": True, "bias_field_p": 0.2},
            "paper_augmentation_bias_field_p1": {"bias_field": True, "bias_field_p": 1.0},
            "paper_augmentation_torchio_bias_field_p1": {"bias_field": True, "bias_field_p": 1.0},   # the baseline
        }
        res = {"machine": machine(), "cases": len(ids), "crop": [128, 128, 128], "threads": 1,
               "bytes_per_case_b2nd": round(stored), "bytes_per_case_npy": round(as_npy), "samples_per_s": {}}
        for name, v in variants.items():
            if callable(v):
                fn = v
            else:
                aug = build_augmentation(AugmentationParams(**{**paper.model_dump(), **(v or {})}))
                if "torchio_bias" in name:   # TorchIO's own RandomBiasField in place of the per-axis one
                    aug = tio.Compose([tio.RandomBiasField(p=t.probability) if isinstance(t, tio.RandomBiasField) else t
                                       for t in aug.transforms])
                ds = SegmentationDataset(out, ids, aug)
                fn = lambda cid, ds=ds: ds[ids.index(cid)]  # noqa: E731
            res["samples_per_s"][name] = round(rate(fn), 3)
            print(name, res["samples_per_s"][name], flush=True)
    lo, hi = GPU_SAMPLES_PER_S
    res["gpu_samples_per_s_nnunet_v100"] = [round(lo, 2), round(hi, 2)]
    res["cores_to_feed_one_gpu"] = {k: [round(lo / v, 1), round(hi / v, 1)] for k, v in res["samples_per_s"].items()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
