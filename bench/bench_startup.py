"""Stage start-up (issue 26): how long each DVC stage's Python process takes before it can do its work, and why.

    python -m bench.bench_startup [--repeats 3]
    python -m bench.bench_startup --to-work --root DIR [--root OTHER] [--repeats 2]


For every stage of ``dvc.yaml`` (``python -m pipelines.<stage>``): the wall time of importing its module (median of
``--repeats`` fresh interpreters) and, from ``python -X importtime``, the packages that cost the most. Beside them, the
floor: a bare interpreter and each heavy package imported alone (torch, mlflow, monai, scikit-learn, Great
Expectations, matplotlib), in the same session. ``import monai`` runs MONAI's ``load_submodules`` (every submodule,
twice: once imported, once executed again), which ``-X importtime`` does not see; the wall time does. Writes
``bench/results/startup.json`` and prints a Markdown table.

``--to-work`` measures what the issue asks for: the seconds from launching ``python -m pipelines.<stage>`` in the project
at ``--root`` to the stage's log line "work starts" (``utils/entry.py``: its imports and params done; the stage's MLflow
run opens later, when it first logs); the process is then killed, mid-work — so ``--root`` must be a scratch copy of a
project with its data in place (e.g. a ``git worktree`` with copies of ``data/`` and ``models/``), never the one you
work in. A scratch copy of the MLflow store takes
the runs. Several ``--root``: an A/B of checkouts (e.g. ``git worktree add`` of the commit before, with the same
data), the roots interleaved in alternating order. Writes ``bench/results/startup_to_work.json``.

``--zygote`` (with ``--to-work``): each root also with its warm zygote (``utils/zygote.py``: a process with torch
and MONAI imported that forks the stages), interleaved with the fresh starts; the seconds until the zygote serves are
reported beside (``make run`` starts it before ``dvc repro``, while the data stages run).

``--monai`` times what the stages import from MONAI (its networks, losses, inferers, metrics, transforms), in fresh
interpreters that import ``brats_mlops`` first, with the light ``__init__`` (``utils/monai_import.py``) and with MONAI's
own (``BRATS_MONAI_FULL_IMPORT=1``), interleaved. Writes ``bench/results/monai_import.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from bench.machine import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "startup.json"
LIBS = ("torch", "mlflow", "monai", "sklearn", "great_expectations", "matplotlib.pyplot", "scipy.ndimage")


def _env() -> dict:
    return {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(ROOT)}


def wall(code: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


MONAI_USES = ("import brats_mlops, torch; t = __import__('time').perf_counter()\n"
              "from monai.networks.nets import AutoencoderKL, FlexibleUNet, PatchDiscriminator\n"
              "from monai.losses import DiceLoss, FocalLoss, PatchAdversarialLoss, PerceptualLoss\n"
              "from monai.inferers import sliding_window_inference\n"
              "from monai.metrics.utils import get_edge_surface_distance\n"
              "from monai.transforms import Compose, RandFlipd, RandRotated\n"
              "print(__import__('time').perf_counter() - t)")


def main_monai(repeats: int) -> None:
    """Light vs MONAI's own ``__init__``, interleaved: the MONAI part alone (torch already imported) and the process."""
    res: dict = {"light": {"monai_s": [], "process_s": []}, "full": {"monai_s": [], "process_s": []}}
    for _ in range(repeats):
        for name, extra in (("light", {}), ("full", {"BRATS_MONAI_FULL_IMPORT": "1"})):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", MONAI_USES], cwd=ROOT, env={**_env(), **extra}, check=True,
                               capture_output=True, text=True)
            res[name]["process_s"].append(round(time.perf_counter() - t0, 2))
            res[name]["monai_s"].append(round(float(r.stdout.strip().splitlines()[-1]), 2))
    for name in ("light", "full"):
        res[name]["median_monai_s"] = statistics.median(res[name]["monai_s"])
        res[name]["median_process_s"] = statistics.median(res[name]["process_s"])
    res.update(machine=machine(), date=time.strftime("%Y-%m-%d"), repeats=repeats, load_average_at_start=os.getloadavg()[0])
    (OUT.parent / "monai_import.json").write_text(json.dumps(res, indent=1))
    print(json.dumps({k: {m: v for m, v in res[k].items() if m.startswith("median")} for k in ("light", "full")}))


def top_packages(module: str, n: int = 5) -> list[tuple[str, float]]:
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], cwd=ROOT, env=_env(), check=True,
                       capture_output=True, text=True)
    self_us: Counter = Counter()
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            self_us[m.group(2).split(".")[0]] += int(m.group(1))
    return [(k, round(v / 1e6, 2)) for k, v in self_us.most_common(n)]


WORK_LINE = re.compile(r"stage (\S+): work starts")


def _root_env(root: Path, uri: str | None = None) -> dict:
    env = {**_env(), "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}", "PYTHONUNBUFFERED": "1"}
    env.pop("BRATS_ZYGOTE", None)
    return {**env, "MLFLOW_TRACKING_URI": uri} if uri else env


def start_zygote(root: Path) -> float:
    """Start the warm zygote (utils/zygote.py) in ``root``; seconds until it serves (its imports done)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "brats_mlops.utils.zygote"]
    subprocess.run([*cmd, "start"], cwd=root, env=_root_env(root), check=True, capture_output=True)
    while subprocess.run([*cmd, "status"], cwd=root, env=_root_env(root), capture_output=True).returncode != 0:
        time.sleep(0.05)
    return time.perf_counter() - t0


def stop_zygote(root: Path) -> None:
    subprocess.run([sys.executable, "-m", "brats_mlops.utils.zygote", "stop"], cwd=root, env=_root_env(root),
                   capture_output=True)


def to_work(stage: str, root: Path, uri: str, timeout: float = 300.0, zygote: bool = False) -> float | None:
    """Seconds from launch to the stage's "work starts" line (None: the stage ended or failed without it).
    ``zygote``: the warm zygote started in ``root`` runs it (else ``BRATS_ZYGOTE=off``)."""
    import signal

    env = {**_root_env(root, uri), **({} if zygote else {"BRATS_ZYGOTE": "off"})}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", f"pipelines.{stage}"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in proc.stderr:
            if zygote and "zygote not used" in line:
                raise RuntimeError(f"{stage}: {line.strip()}")
            if WORK_LINE.search(line):
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                break
        return None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main_to_work(roots: list[Path], repeats: int, zygote: bool = False) -> None:
    """Each stage's seconds to work in each root: median of ``repeats``, the roots interleaved (alternating order) so
    that an A/B of two checkouts shares the machine's load. ``zygote``: each root also with its warm zygote (a
    column ``<root>+zygote``), interleaved the same way; the zygote's own start-up is reported beside."""
    import shutil
    import tempfile

    stages = [s for s, spec in yaml.safe_load((roots[0] / "dvc.yaml").read_text())["stages"].items()
              if str(spec.get("cmd", "")).startswith("python -m pipelines.")]
    runs = [(r, False) for r in roots] + ([(r, True) for r in roots] if zygote else [])
    label = {(r, z): f"{r}+zygote" if z else str(r) for r, z in runs}
    samples: dict[str, dict[str, list[float]]] = {label[k]: {s: [] for s in stages} for k in runs}
    ready = {str(r): round(start_zygote(r), 2) for r in roots} if zygote else {}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        for i, r in enumerate(roots):   # a scratch copy of each root's MLflow store takes the runs
            stores[r] = Path(tmp) / f"mlflow{i}.db"
            if (r / "mlflow.db").exists():
                shutil.copy2(r / "mlflow.db", stores[r])
        for rep in range(repeats):
            try:
                for s in stages:
                    for r, z in (runs if rep % 2 == 0 else runs[::-1]):
                        t = to_work(s, r, f"sqlite:///{stores[r]}", zygote=z)
                        if t is not None:
                            samples[label[r, z]][s].append(round(t, 2))
                loads.append(os.getloadavg()[0])
            except BaseException:
                for r in ready:
                    stop_zygote(Path(r))
                raise
    for r in ready:
        stop_zygote(Path(r))
    med = {r: {s: round(statistics.median(v), 2) if v else None for s, v in by.items()} for r, by in samples.items()}
    res = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "roots": [str(r) for r in roots], "repeats": repeats,
           "load_average": loads, "median_s": med, "samples_s": samples, "zygote_ready_s": ready,
           "sum_s": {r: round(sum(v or 0 for v in m.values()), 1) for r, m in med.items()}}
    (OUT.parent / "startup_to_work.json").write_text(json.dumps(res, indent=1))
    cols = [label[k] for k in runs]
    print("\n| stage | " + " | ".join(Path(c).name for c in cols) + " |\n|---|" + "---|" * len(cols))
    for s in stages:
        print(f"| `{s}` | " + " | ".join(str(med[c][s]) for c in cols) + " |")
    print("| **sum** | " + " | ".join(f"**{res['sum_s'][c]}**" for c in cols) + " |")
    if ready:
        print("zygote ready after (s): " + ", ".join(f"{Path(r).name} {t}" for r, t in ready.items()))
    print(f"load average: {', '.join(f'{x:.2f}' for x in loads)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--to-work", action="store_true", help="seconds from launch to each stage's work (see above)")
    ap.add_argument("--root", type=Path, action="append",
                    help="--to-work: a scratch copy of a project with its data (stages are killed mid-work); twice or more: "
                         "an A/B of checkouts, interleaved")
    ap.add_argument("--zygote", action="store_true",
                    help="--to-work: each root also with its warm zygote (utils/zygote.py), interleaved")
    ap.add_argument("--monai", action="store_true", help="MONAI imported by the light __init__ vs its own (see above)")
    args = ap.parse_args()
    if args.monai:
        return main_monai(args.repeats)
    if args.to_work:
        if not args.root or any(r.resolve() == ROOT for r in args.root):
            ap.error("--to-work kills each stage mid-work: pass --root, a scratch copy of a project with its data")
        return main_to_work([r.resolve() for r in args.root], args.repeats, args.zygote)
    stages = [s for s, spec in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items()
              if str(spec.get("cmd", "")).startswith("python -m pipelines.")]
    floor = {"python": wall("pass", args.repeats)}
    for lib in LIBS:
        floor[lib] = wall(f"import {lib}", args.repeats)
        print(f"import {lib}: {floor[lib]:.2f} s", flush=True)
    rows = []
    for s in stages:
        w = wall(f"import pipelines.{s}", args.repeats)
        rows.append({"stage": s, "import_s": round(w, 2), "top": top_packages(f"pipelines.{s}")})
        print(f"{s}: {w:.2f} s  {rows[-1]['top']}", flush=True)
    res = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
           "floor_s": {k: round(v, 2) for k, v in floor.items()}, "stages": rows,
           "sum_of_stage_imports_s": round(sum(r["import_s"] for r in rows), 1)}
    OUT.write_text(json.dumps(res, indent=1))
    print("\n| stage | import (s) | heaviest packages (self time, s) |\n|---|---|---|")
    for r in rows:
        print(f"| `{r['stage']}` | {r['import_s']:.2f} | {', '.join(f'{k} {v}' for k, v in r['top'])} |")
    print(f"| **sum** | **{res['sum_of_stage_imports_s']}** | |")
    print("\nfloor: " + ", ".join(f"{k} {v:.2f} s" for k, v in floor.items()))


if __name__ == "__main__":
    main()
