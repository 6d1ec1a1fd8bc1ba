"""What a busy machine costs, and what it changes: the `train_segmentation` stage (CPU default) on 2 idle cores, then
beside an ordinary busy process (one core kept busy by a Python loop), with `runtime.threads: 2` (the default) and
with `auto`; and how libgomp's threads wait at a barrier: 10,000 spins then sleep (the project's default), 300,000
(libgomp's default) or not at all (``OMP_WAIT_POLICY=PASSIVE``). Two epochs each. Run after `make run` (it trains on
the pipeline's preprocessed data and split, in a temporary project).

    python -m bench.bench_load [--hog-processes 1]

For each run: wall time (× the first, idle run with the defaults) and whether the trained weights are bit-identical to
that run's — the reproducibility a fixed count buys. Writes ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.machine import machine

ROOT = Path(__file__).resolve().parents[1]
HOG = "while True:\n    pass\n"


EPOCHS = 2  # of the CPU default (6): the comparison needs the same work in every run, not the whole training


def _project(tmp: Path, threads: int | str) -> Path:
    proj = tmp / f"proj_{threads}_{time.monotonic_ns()}"
    (proj / "data").mkdir(parents=True)
    for d in ("preprocessed", "splits"):
        (proj / "data" / d).symlink_to(ROOT / "data" / d)
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["runtime"]["threads"] = threads
    p["segmentation"]["epochs"] = EPOCHS
    p.setdefault("tracking", {})["hash_inputs"] = False
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    return proj


def _weights_sha(ck: Path) -> str:
    import torch

    state = torch.load(ck, map_location="cpu", weights_only=True)["model"]
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def train(tmp: Path, threads: int | str, hogs: int, wait: str) -> dict:
    """``wait``: "spin 300000" (libgomp's default), "spin 10000" (the project's default, brats_mlops/__init__.py) or
    "PASSIVE" (OMP_WAIT_POLICY: sleep at once)."""
    proj = _project(tmp, threads)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "BRATS_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(PYTHONPATH=str(ROOT), BRATS_NO_PROGRESS="1", MLFLOW_DISABLE_TELEMETRY="true")
    if wait == "PASSIVE":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    else:
        env["GOMP_SPINCOUNT"] = wait.split()[1]
    busy = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
    try:
        time.sleep(1.0 if hogs else 0.0)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pipelines.train_segmentation"], cwd=proj, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    finally:
        for b in busy:
            b.kill()
            b.wait()
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    m = json.loads((proj / "metrics" / "segmentation_train.json").read_text())
    changes = [ln.split("epoch ")[-1] for ln in r.stderr.splitlines() if "idle cores changed" in ln]
    return {"threads": threads, "busy_processes": hogs, "wait": wait, "wall_s": wall, "weights_sha256": _weights_sha(proj / "models" / "segmentation" / "best.pt"),
            "best_val_dice_composite": m["best_val_dice_composite"], "thread_changes": changes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hog-processes", type=int, default=1)
    args = ap.parse_args()
    if not (ROOT / "data" / "preprocessed" / "plans.json").is_file():
        raise SystemExit("run `make run` first: this benchmark trains on data/preprocessed and data/splits")
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        hogs, t = args.hog_processes, Path(tmp)
        runs = [train(t, 2, 0, "spin 10000"), train(t, 2, 0, "spin 300000"), train(t, 2, 0, "PASSIVE"),
                train(t, 2, hogs, "spin 10000"), train(t, 2, hogs, "spin 300000"), train(t, 2, hogs, "PASSIVE"),
                train(t, "auto", hogs, "spin 10000")]
    base = runs[0]
    for r in runs:
        r["x_idle"] = r["wall_s"] / base["wall_s"]
        r["same_weights_as_idle_2"] = r["weights_sha256"] == base["weights_sha256"]
        print(f"threads {r['threads']!s:>4}, wait {r['wait']:<12}, {r['busy_processes']} busy process(es): {r['wall_s']:.1f} s ({r['x_idle']:.2f}x idle), "
              f"weights identical to the idle run: {r['same_weights_as_idle_2']}, best val composite Dice "
              f"{r['best_val_dice_composite']:.4f}", flush=True)
    out = ROOT / "bench" / "results" / "load.json"
    out.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
