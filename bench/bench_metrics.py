"""Cost of the official scoring rules per case, on the official scorer's four real metastasis cases (240×240×155).

    python -m bench.bench_metrics [--repeats 3]

Each rule scores the same four pairs (labels 1 NETC, 2 SNFH, 3 ET, as the 2023 glioma labels and the 2024/2025 ones
read them) in this process: 2023-GLI and 2023-MET (``metrics/brats.py``), 2024-GLI (``metrics/brats2024.py``) and
2025-MET / 2025-GLI (``metrics/brats2025.py``, panoptica). Reported: the median wall time per case over ``--repeats``
passes and its ratio to 2023-GLI measured in the same session (the evaluate stages' default). Writes
``bench/results/metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from bench.machine import machine

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "brats2025_mets_sample"
OUT = Path(__file__).resolve().parent / "results" / "metrics.json"


def pairs():
    for ref in sorted((DATA / "ref").glob("*-seg.nii.gz")):
        cid = ref.name.removeprefix("BraTS-MET-").removesuffix("-seg.nii.gz")
        (pred,) = [p for p in (DATA / "pred").iterdir() if p.name.endswith(f"{cid}.nii.gz")]
        g = nib.load(str(ref))
        yield cid, np.asarray(nib.load(str(pred)).dataobj).astype(np.uint8), np.asarray(g.dataobj).astype(np.uint8), \
            tuple(float(z) for z in g.header.get_zooms()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from brats_mlops.metrics.brats import case_metrics
    from brats_mlops.metrics.brats2024 import case_metrics_2024
    from brats_mlops.metrics.brats2025 import case_metrics_2025

    rules = {
        "2023-GLI": lambda p, g, s: case_metrics(p, g, s, profile="2023-GLI"),
        "2023-MET": lambda p, g, s: case_metrics(p, g, s, profile="2023-MET"),
        "2024-GLI": case_metrics_2024,
        "2025-MET": lambda p, g, s: case_metrics_2025(p, g, s, "mets"),
        "2025-GLI": lambda p, g, s: case_metrics_2025(p, g, s, "gli"),
    }
    data = list(pairs())
    times: dict[str, list[float]] = {r: [] for r in rules}
    for _ in range(args.repeats):
        for name, fn in rules.items():  # interleaved: the machine's load affects every rule alike
            for _, p, g, s in data:
                t = time.perf_counter()
                fn(p, g, s)
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["2023-GLI"])
    rows = {n: {"median_s_per_case": round(statistics.median(t), 3), "ratio_to_2023_gli": round(statistics.median(t) / base, 2)}
            for n, t in times.items()}
    out = {"machine": machine(), "cases": [c for c, *_ in data], "repeats": args.repeats, "rules": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    for n, r in rows.items():
        print(f"{n:9s} {r['median_s_per_case']:7.3f} s/case  x{r['ratio_to_2023_gli']}")


if __name__ == "__main__":
    main()
