"""Scale-out and speed on one machine (issue 13's benchmark). Run after `make run` (it reads the pipeline's outputs).

    python -m bench.bench_scale [--sections ddp,tune,threads,logging,survival]

1. ddp: one training epoch of the CPU-default segmentation trainer, one process (2 threads) against torchrun with
   2 processes (1 thread each, gloo): wall time per epoch, optimiser steps/s, cases/s.
2. tune: the survival Optuna study (N trials) on a fresh PostgreSQL database with `tune --workers 1` and `--workers 2`
   (a temporary PostgreSQL server, as in the tests): trials per minute.
3. threads: the autoencoder's training step (CPU default) idle, and while a second process runs the same training:
   with 2 fixed threads beside a job on torch's default 2 threads (the old behaviour), and with
   `runtime.threads: auto` beside that job and beside another `auto` training (which adapts between its epochs).
4. logging: the time the MLflow epoch tracker takes to log one epoch's record against the epoch time.
5. survival: the survival classification + time-to-event work of the `survival` stage with the code before issue 13
   (git commit accddec, checked out in a temporary worktree) and now, same data, same process tree.
6. layout: a training step of the CPU-default segmentation network and autoencoder in the default memory layout and
   in channels-last-3d (training/layout.py).
Writes ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import machine

ROOT = Path(__file__).resolve().parents[1]
OLD = "accddec"


def _env(**kw) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1", "BRATS_NO_PROGRESS": "1", "PYTHONPATH": str(ROOT), **kw})
    return env


def bench_ddp() -> dict:
    out = {}
    for n, threads in ((1, 2), (2, 1)):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n), "-m", "bench.ddp_worker", f.name]
            subprocess.run(cmd, cwd=ROOT, env=_env(OMP_NUM_THREADS=str(threads)), check=True, capture_output=True)
            out[f"{n}_process"] = json.loads(Path(f.name).read_text())
        print(f"DDP {n} process(es) x {threads} thread(s): {out[f'{n}_process']}", flush=True)
    a, b = out["1_process"], out["2_process"]
    out["epoch_time_ratio_2_over_1"] = b["epoch_s"] / a["epoch_s"]
    out["cases_per_s_ratio_2_over_1"] = b["cases_per_s"] / a["cases_per_s"]
    return out


def bench_tune(n_trials: int) -> dict:
    import contextlib

    import sqlalchemy

    from tests.tuning.test_study import _project

    from tests.mlflow_server.conftest import postgres_server

    gen = postgres_server()
    url = next(gen)
    out = {"trials": n_trials}
    try:
        for workers in (1, 2):
            db = f"bench_{workers}_{os.getpid()}"
            with sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT").connect() as c:
                c.execute(sqlalchemy.text(f"CREATE DATABASE {db}"))
            storage = url.rsplit("/", 1)[0] + "/" + db
            with tempfile.TemporaryDirectory() as d:
                proj = _project(Path(d), n_trials)
                # the pipeline's real features instead of the test's random ones
                for f in ("data/splits/survival.csv", "data/features/segmentation_volumes.csv"):
                    shutil.copy(ROOT / f, proj / f)
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "brats_mlops.cli.main", "tune", "survival", "--workers", str(workers),
                                "--storage", storage], cwd=proj, env=_env(), check=True, capture_output=True)
                wall = time.perf_counter() - t
            out[f"workers_{workers}_s"] = wall
            out[f"workers_{workers}_trials_per_min"] = n_trials / wall * 60
            print(f"tune survival, {workers} worker(s): {wall:.1f} s for {n_trials} trials", flush=True)
    finally:
        with contextlib.suppress(StopIteration):
            next(gen)
    out["speedup_2_workers"] = out["workers_1_s"] / out["workers_2_s"]
    return out


STEP = '''
import json, os, sys, torch
from bench.bench_survival import ae_step_time
from brats_mlops.utils.threads import adapt, configure_threads
mode = sys.argv[1]
if mode == "auto":
    configure_threads("auto")
elif mode != "default":
    torch.set_num_threads(int(mode))
steps = int(sys.argv[2])
if steps < 0:
    while True:                      # a training whose "epochs" are 3 steps; with auto it adapts between them
        adapt()
        ae_step_time([8, 16, 32], 16, (48, 48, 48), 4, 3)
print(json.dumps({"threads": torch.get_num_threads(), "s_per_volume": ae_step_time([8, 16, 32], 16, (48, 48, 48), 4, steps)}))
'''


def bench_threads(steps: int = 5) -> dict:
    def step(mode: str) -> dict:
        r = subprocess.run([sys.executable, "-c", STEP, mode, str(steps)], cwd=ROOT, env=_env(), check=True, capture_output=True, text=True)
        return json.loads(r.stdout.strip().splitlines()[-1])

    out = {"idle_2_threads": step("2")}
    for competitor in ("default", "auto"):   # someone else's torch job (2 threads) | another stage of ours (auto, adapting)
        busy = subprocess.Popen([sys.executable, "-c", STEP, competitor, "-1"], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(8)  # the competitor is in its loop
            if competitor == "default":
                out["loaded_2_threads_fixed"] = step("2")
            out[f"loaded_auto_vs_{competitor}"] = step("auto")
        finally:
            busy.kill()
            busy.wait()
    base = out["idle_2_threads"]["s_per_volume"]
    out["slowdown_fixed"] = out["loaded_2_threads_fixed"]["s_per_volume"] / base
    for competitor in ("default", "auto"):
        out[f"slowdown_auto_vs_{competitor}"] = out[f"loaded_auto_vs_{competitor}"]["s_per_volume"] / base
    print(f"under load: fixed 2 threads {out['slowdown_fixed']:.2f}x; auto beside a 2-thread job {out['slowdown_auto_vs_default']:.2f}x, "
          f"beside another auto stage {out['slowdown_auto_vs_auto']:.2f}x the idle step", flush=True)
    return out


def bench_logging(n: int = 50) -> dict:
    import mlflow

    from brats_mlops.tracking.runs import MlflowEpochTracker

    with tempfile.TemporaryDirectory() as d:
        mlflow.set_tracking_uri(f"sqlite:///{d}/m.db")
        with mlflow.start_run() as run:
            tr = MlflowEpochTracker(run.info.run_id, "train_loss")
            rec = {"epoch": 0, "train_loss": 1.0, "lr": 0.003, "optimizer_steps": 21, "val_dice_wt": 0.5, "val_dice_tc": 0.5,
                   "val_dice_et": 0.5, "val_dice_composite": 0.5, "epoch_time_s": 16.0}
            ts = []
            for i in range(n):
                t = time.perf_counter()
                tr.log_epoch({**rec, "epoch": i}, i)
                ts.append(time.perf_counter() - t)
    import sqlite3

    with sqlite3.connect(ROOT / "mlflow.db") as db:
        row = db.execute("select m.value from metrics m join runs r on r.run_uuid = m.run_uuid where r.name = 'train_segmentation' "
                         "and m.key = 'mean_epoch_time_s' order by r.start_time desc limit 1").fetchone()
    epoch_s = float(row[0]) if row else float("nan")
    log_s = statistics.median(ts)
    print(f"MLflow: {log_s * 1000:.1f} ms to log an epoch; {100 * log_s / epoch_s:.3f} % of a {epoch_s:.1f} s epoch", flush=True)
    return {"log_epoch_s": log_s, "epoch_s": epoch_s, "share": log_s / epoch_s}


SURV = '''
import sys, time, json
from brats_mlops.config import load_params
from brats_mlops.survival import branch
from pathlib import Path
params = load_params(Path(sys.argv[1])); cfg, p = params.survival, params.paths   # that code's own params.yaml
data = branch.SurvivalInputs.load(p)
t = time.perf_counter()
results = branch.classify(cfg, data, params.seed)
m = branch.summarise(cfg, data, results, params.seed)
tte = branch.time_to_event(cfg, data, results, params.seed)
print(json.dumps({"s": time.perf_counter() - t, "selected": m["selected"], "tte": tte}))
'''


def bench_survival() -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as d:
        wt = Path(d) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), OLD], cwd=ROOT, check=True, capture_output=True)
        try:
            for name, src in (("before", wt), ("after", ROOT)):
                r = subprocess.run([sys.executable, "-c", SURV, str(src / "params.yaml")], cwd=ROOT,
                                   env=_env(PYTHONPATH=f"{src / 'src'}:{src}"), capture_output=True, text=True)
                if r.returncode:
                    raise RuntimeError(f"survival work ({name}) failed:\n{r.stderr[-3000:]}")
                out[name] = json.loads(r.stdout.strip().splitlines()[-1])
                print(f"survival work, {name}: {out[name]['s']:.1f} s", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT, check=True, capture_output=True)
    out["same_results"] = out["before"]["selected"] == out["after"]["selected"] and out["before"]["tte"] == out["after"]["tte"]
    out["speedup"] = out["before"]["s"] / out["after"]["s"]
    for k in ("before", "after"):
        out[k] = {"s": out[k]["s"]}
    return out


def bench_layout(steps: int = 4) -> dict:
    """Training step of the CPU-default segmentation network and autoencoder, default layout vs channels-last-3d."""
    import torch

    from brats_mlops.losses import SegmentationLoss
    from brats_mlops.models.checkpoint import build_segmentation

    out: dict = {"threads": torch.get_num_threads()}
    mc = {"model": "res_se_unet", "channels": [8, 16, 32, 64, 128], "in_channels": 4, "out_channels": 4, "mode": "label"}
    for layout in ("default", "channels_last_3d"):
        torch.manual_seed(0)
        net = build_segmentation(mc)
        x, y = torch.rand(2, 4, 64, 64, 64), torch.randint(0, 4, (2, 1, 64, 64, 64))
        if layout != "default":
            net, x = net.to(memory_format=torch.channels_last_3d), x.contiguous(memory_format=torch.channels_last_3d)
        loss, opt = SegmentationLoss("label", 1.0, 0.5, 0, 0, None), torch.optim.AdamW(net.parameters(), 1e-3)
        ts = []
        for i in range(steps + 1):
            t = time.perf_counter()
            opt.zero_grad()
            loss(net(x), y).backward()
            opt.step()
            if i:
                ts.append(time.perf_counter() - t)
        out[f"segmentation_step_s_{layout}"] = statistics.median(ts)
    out["segmentation_speedup"] = out["segmentation_step_s_default"] / out["segmentation_step_s_channels_last_3d"]
    for layout in ("default", "channels_last_3d"):   # the autoencoder step of bench_survival, in each layout
        r = subprocess.run([sys.executable, "-c", "import json; from bench.bench_survival import ae_step_time as f; "
                            f"print(json.dumps(f([8, 16, 32], 16, (48, 48, 48), 4, {steps}, {layout == 'channels_last_3d'})))"], cwd=ROOT, env=_env(),
                           capture_output=True, text=True, check=True)
        out[f"autoencoder_s_per_volume_{layout}"] = json.loads(r.stdout.strip().splitlines()[-1])
    out["autoencoder_speedup"] = out["autoencoder_s_per_volume_default"] / out["autoencoder_s_per_volume_channels_last_3d"]
    print(f"channels-last-3d: segmentation step x{out['segmentation_speedup']:.2f}, autoencoder step x{out['autoencoder_speedup']:.2f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default="ddp,tune,threads,logging,survival")
    ap.add_argument("--trials", type=int, default=30, help="trials of the survival study in the tune section")
    args = ap.parse_args()
    path = ROOT / "bench" / "results" / "scale.json"
    res = json.loads(path.read_text()) if path.is_file() else {}
    res["machine"] = machine()
    for s in args.sections.split(","):
        res[s] = {"ddp": bench_ddp, "tune": lambda: bench_tune(args.trials), "threads": bench_threads, "logging": bench_logging,
                  "survival": bench_survival, "layout": bench_layout}[s]()
        path.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
