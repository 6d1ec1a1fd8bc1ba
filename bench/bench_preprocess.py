"""Preprocessing throughput and preprocessed-case load time at BraTS size (240x240x155).

    python -m bench.bench_preprocess [--cases 6] [--repeats 3]

Baseline (same process, same cases): the naive notebook way — nibabel ``get_fdata()`` as float64 per
modality, centre crop to 128^3, z-score over non-zero voxels, single process.
Measured: ``preprocess_dataset`` segmentation inputs (with ``.nii.gz`` decompressed by zlib, then by isal) (float32 reads, crop first, masked z-score, label remap,
.b2nd writes) with 1 and 2 workers; the full stage (also the autoencoder's B-spline resampling) with 2 workers;
load time of one preprocessed case (decoded to float32) against its five .nii.gz files.
Writes ``bench/results/preprocess.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from bench.machine import machine
from brats_mlops.config.schema import PreprocessParams, SyntheticParams
from brats_mlops.data import preprocessing as pp
from brats_mlops.data.preprocess_run import preprocess_dataset
from brats_mlops.data.readers import discover
from brats_mlops.data.synthetic import generate_dataset

MODS = ("t1", "t1ce", "t2", "flair")
TMP = Path("bench/tmp")


def naive(case, size=(128, 128, 128)):
    vols = [nib.load(str(case.images[m].path)).get_fdata() for m in MODS]
    seg = nib.load(str(case.seg.path)).get_fdata()
    out = []
    for v in vols:
        st = [(s - c) // 2 for s, c in zip(v.shape, size)]
        c = v[st[0]:st[0] + size[0], st[1]:st[1] + size[1], max(st[2], 0):max(st[2], 0) + size[2]]
        nz = c[c != 0]
        out.append((c - nz.mean()) / nz.std())
    return np.stack(out), seg


def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    raw = TMP / "raw"
    if not (raw / "MICCAI_BraTS2020_TrainingData").is_dir() or len(list(raw.rglob("*_seg.nii.gz"))) != args.cases:
        shutil.rmtree(TMP, ignore_errors=True)
        generate_dataset(raw, SyntheticParams(n_train=args.cases, n_validation=0, shape=(240, 240, 155), spacing=(1, 1, 1)), 2)
    cases = [c for c in discover("synthetic", raw, MODS).cases]
    n = len(cases)
    seg_only = PreprocessParams(crop_size=(128, 128, 128))
    res: dict = {"machine": machine(), "cases": n, "shape": [240, 240, 155], "crop": [128, 128, 128]}

    t_naive = timed(lambda: [naive(c) for c in cases], args.repeats)

    def ours(workers, ae):
        out = TMP / f"out_{workers}_{int(ae)}"
        shutil.rmtree(out, ignore_errors=True)
        if ae:
            preprocess_dataset(cases, MODS, PreprocessParams(crop_size=(128, 128, 128)), out, num_workers=workers)
        elif workers == 1:
            for c in cases:
                pp.preprocess_case(c, MODS, seg_only, out, autoencoder_inputs=False)
        else:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers) as pool:
                list(pool.map(pp.preprocess_case, cases, [MODS] * n, [seg_only] * n, [out] * n, [False] * n))

    from brats_mlops.data import io as dio

    igzip, dio._igzip = dio._igzip, None            # zlib (nibabel's own gzip) first: the effect of isal, same run
    t1z = timed(lambda: ours(1, False), args.repeats)
    t2z = timed(lambda: ours(2, False), args.repeats)
    dio._igzip = igzip
    t1 = timed(lambda: ours(1, False), args.repeats)
    t2 = timed(lambda: ours(2, False), args.repeats)
    t2ae = timed(lambda: ours(2, True), args.repeats)
    res["preprocess"] = {
        "baseline_naive_1proc_cases_per_s": n / t_naive,
        "ours_seg_1worker_cases_per_s": n / t1,
        "ours_seg_2workers_cases_per_s": n / t2,
        "ours_full_stage_2workers_cases_per_s": n / t2ae,
        "ours_seg_1worker_zlib_cases_per_s": n / t1z,
        "ours_seg_2workers_zlib_cases_per_s": n / t2z,
        "ratio_ours_1worker_zlib_vs_baseline": t_naive / t1z,
        "ratio_ours_2workers_zlib_vs_baseline": t_naive / t2z,
        "ratio_ours_1worker_vs_baseline": t_naive / t1,
        "ratio_ours_2workers_vs_baseline": t_naive / t2,
        "ratio_full_stage_2workers_vs_baseline": t_naive / t2ae,
    }

    out = TMP / "out_1_0"
    c = cases[0]
    t_npy = timed(lambda: pp.load_preprocessed(out, c.case_id), 10)
    t_nii = timed(lambda: [np.asarray(nib.load(str(r.path)).dataobj, dtype=np.float32) for r in [*c.images.values(), c.seg]], 5)
    res["load_one_case"] = {
        "nii_gz_5_files_s": t_nii,
        "b2nd_s": t_npy,
        "ratio_b2nd_vs_nii_gz": t_nii / t_npy,
        "note": "nii.gz: the case's 4 modalities + seg at 240x240x155; b2nd: the preprocessed 4x128^3 (int16 crop + "
                "statistics, decoded to float32) + 128^3 uint8 (data/arrays.py)",
    }
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/preprocess.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
