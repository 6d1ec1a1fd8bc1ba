"""The data stages at BraTS cohort size (issue 26): wall time, cases/s, peak memory and disk per stage, DVC at thousands
of files, and the physical bounds beside them.

    python -m bench.bench_cohort --unique DIR --sizes 100,200,1251 [--work /tmp/brats_cohort]

``--unique`` is a folder of generated 240×240×155 cases in the BraTS 2020 layout (the ``scale`` preset's geometry;
``python -m bench.gen_cohort`` writes one). For each size N a cohort folder in the BraTS 2021 layout (``BraTS2021_<5 digits>``,
1,251 cases in the real edition, no survival table) is made of symbolic links: case k links the files of unique case
``k mod U`` — so sizes beyond the U unique cases cost no disk for the raw data, and every stage does the same per-case
work it would on distinct cases. What the repeats cannot measure is said where it matters (DVC's cache and the remote
store each distinct file once: push/pull are reported for sizes up to U only).

For each size: a fresh clone of this repository with ``data.source: brats2021``, ``data.root`` at the cohort, the
``scale`` preset's crop (128³) and autoencoder inputs, a local DVC remote; then, each timed with the peak resident
memory of its whole process tree (sampled every 0.1 s, summed over the processes):
``dvc repro -s synthesize|validate|preprocess|split`` (each stage alone, DVC's own checks included), a no-op
``dvc repro split``, ``dvc status split``, ``dvc push --with-deps split`` and — after deleting the workspace outputs and
the cache — ``dvc pull --with-deps split`` (then ``dvc status``: its last line is recorded). Disk: the raw cohort (apparent size), ``data/preprocessed``, the cache. With ``--bound``: one worker's
seconds per case against the decompression bound (the time to only decompress a case's five files with the ISA-L gzip
the readers use), and the stage's cases/s with 1 and 2 workers, on 16 unique cases outside DVC.
Writes ``bench/results/cohort.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from bench.machine import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "cohort.json"
MODS = ("t1", "t1ce", "t2", "flair", "seg")
STAGES = ("code", "synthesize", "validate", "preprocess", "split")   # `code`: the stages' code manifests (utils/stage_deps.py)


def unique_cases(src: Path) -> list[Path]:
    cases = sorted(p for p in src.rglob("BraTS20_Training_*") if p.is_dir())
    if not cases:
        raise SystemExit(f"no BraTS20_Training_* case folders under {src}")
    return cases


def make_cohort(cases: list[Path], n: int, dst: Path) -> Path:
    """A BraTS 2021-layout folder of ``n`` cases linking the unique ones round-robin."""
    parent = dst / "RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021"
    if dst.exists():
        shutil.rmtree(dst)
    for k in range(n):
        src = cases[k % len(cases)]
        cid = f"BraTS2021_{k:05d}"
        (parent / cid).mkdir(parents=True)
        for m in MODS:
            (parent / cid / f"{cid}_{m}.nii.gz").symlink_to(src / f"{src.name}_{m}.nii.gz")
    return dst


class Peak:
    """Peak summed RSS of a process and its descendants, sampled in a thread; also each process's own peak (the
    summed peak can rise with the run's length alone, as more samples catch several workers at their peaks together)."""

    def __init__(self, pid: int):
        self.proc, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self.each: dict[tuple[int, str], int] = {}
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = {}
                for p in procs:
                    try:
                        rss[(p.pid, p.name())] = p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, sum(rss.values()))
                for k, v in rss.items():
                    self.each[k] = max(self.each.get(k, 0), v)
            except psutil.Error:
                pass
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return self.peak

    def largest(self, n: int = 3) -> list[int]:
        """The ``n`` largest single-process peaks (MB)."""
        return [round(v / 2**20) for v in sorted(self.each.values(), reverse=True)[:n]]


def timed(cmd: list[str], cwd: Path, env: dict) -> dict:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = Peak(p.pid)
    out, _ = p.communicate()
    wall, rss = time.perf_counter() - t, peak.stop()
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{out[-3000:]}")
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(rss / 2**20), "largest_process_peaks_mb": peak.largest(),
            "output_tail": out.strip().splitlines()[-1][:200] if out.strip() else ""}


def du(path: Path, apparent: bool = False) -> int:
    args = ["du", "-s", "-B1", "-L"] + (["--apparent-size"] if apparent else []) + [str(path)]
    return int(subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()[0])


def project(work: Path, cohort: Path, remote: Path, workers: int) -> tuple[Path, dict]:
    proj = work / "project"
    if proj.exists():
        shutil.rmtree(proj)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(proj)], check=True)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1", "BRATS_NO_PROGRESS": "1",
           "PYTHONPATH": f"{proj}:{proj / 'src'}", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    py = [sys.executable, "-m", "brats_mlops.cli"]
    subprocess.run([*py, "preset", "apply", "scale"], cwd=proj, env=env, check=True, capture_output=True)
    from ruamel.yaml import YAML

    y = YAML()
    params = y.load((proj / "params.yaml").read_text())
    params["data"]["source"], params["data"]["root"], params["data"]["num_workers"] = "brats2021", str(cohort), workers
    with (proj / "params.yaml").open("w") as fh:
        y.dump(params, fh)
    subprocess.run(["dvc", "remote", "add", "-f", "-d", "bench", str(remote)], cwd=proj, env=env, check=True)
    return proj, env


def decompress_bound(cases: list[Path], k: int = 20) -> float:
    """Seconds per case to only decompress its five .nii.gz files (ISA-L, as data/io.py reads them)."""
    from isal import igzip

    t = time.perf_counter()
    for c in cases[:k]:
        for m in MODS:
            igzip.decompress((c / f"{c.name}_{m}.nii.gz").read_bytes())
    return (time.perf_counter() - t) / min(k, len(cases))


def preprocess_vs_bound(cases: list[Path], k: int = 16) -> dict:
    """Seconds per case of one worker against the decompression bound; cases/s with 1 and 2 workers."""
    import tempfile

    from brats_mlops.config import load_params
    from brats_mlops.data.preprocess_run import preprocess_dataset
    from brats_mlops.data.preprocessing import preprocess_case
    from brats_mlops.data.readers import discover

    p = load_params()
    mods = tuple(p.data.modalities)
    cfg = p.preprocess.model_copy(update={"crop_size": (128, 128, 128), "autoencoder": p.preprocess.autoencoder.model_copy(
        update={"spacing": (1.6, 1.6, 1.3), "shape": (112, 112, 96)})})
    idx = [c for c in discover("auto", cases[0].parent, mods).cases if c.seg is not None][:k]
    out: dict = {"cases": len(idx), "decompress_only_s_per_case": decompress_bound(cases, k)}
    with tempfile.TemporaryDirectory() as d:
        for name, ae in (("segmentation_inputs", False), ("with_autoencoder_inputs", True)):
            t = time.perf_counter()
            for c in idx:
                preprocess_case(c, mods, cfg, Path(d) / name, autoencoder_inputs=ae)
            out[f"1worker_{name}_s_per_case"] = (time.perf_counter() - t) / len(idx)
        for w in (1, 2):
            t = time.perf_counter()
            preprocess_dataset(idx, mods, cfg, Path(d) / f"stage{w}", num_workers=w)
            out[f"stage_{w}workers_cases_per_s"] = len(idx) / (time.perf_counter() - t)
    out["ratio_1worker_segmentation_vs_bound"] = out["1worker_segmentation_inputs_s_per_case"] / out["decompress_only_s_per_case"]
    out["ratio_1worker_full_vs_bound"] = out["1worker_with_autoencoder_inputs_s_per_case"] / out["decompress_only_s_per_case"]
    out["scaling_2_vs_1_workers"] = out["stage_2workers_cases_per_s"] / out["stage_1workers_cases_per_s"]
    print("preprocess vs bound", out, flush=True)
    return {k2: round(v, 3) if isinstance(v, float) else v for k2, v in out.items()}


def one_size(cases: list[Path], n: int, work: Path, workers: int, dvc_io: bool, keep: bool = False) -> dict:
    cohort = make_cohort(cases, n, work / f"cohort_{n}")
    remote = work / f"remote_{n}"
    shutil.rmtree(remote, ignore_errors=True)
    proj, env = project(work, cohort, remote, workers)
    res: dict = {"cases": n, "unique_cases": min(n, len(cases)), "raw_bytes": du(cohort, apparent=True)}
    for stage in STAGES:
        r = timed(["dvc", "repro", "-s", stage], proj, env)
        r["cases_per_s"] = round(n / r["wall_s"], 3)
        res[stage] = r
        print(n, stage, r, flush=True)
    res["noop_repro"] = timed(["dvc", "repro", "split"], proj, env)
    res["noop_repro_2"] = timed(["dvc", "repro", "split"], proj, env)
    res["status"] = timed(["dvc", "status", "split"], proj, env)
    res["preprocessed_bytes"] = du(proj / "data" / "preprocessed")
    res["preprocessed_files"] = sum(1 for p in (proj / "data" / "preprocessed").rglob("*") if p.is_file())
    res["cache_bytes"] = du(proj / ".dvc" / "cache")
    if dvc_io:
        # --with-deps: the outputs of split *and of the stages before it* (a stage name alone is only its own outputs)
        res["push"] = timed(["dvc", "push", "--with-deps", "split"], proj, env)
        for d in ("data/preprocessed", "data/validation", ".dvc/cache"):
            shutil.rmtree(proj / d, ignore_errors=True)
        res["pull"] = timed(["dvc", "pull", "--with-deps", "split"], proj, env)
        res["status_after_pull"] = timed(["dvc", "status", "split"], proj, env)
        res["remote_bytes"] = du(remote)
    print(n, {k: v for k, v in res.items() if k not in STAGES}, flush=True)
    if keep:   # e.g. to profile DVC's no-op in it: the next size (or run) replaces it
        print(f"kept the {n}-case project at {proj}", flush=True)
    else:
        shutil.rmtree(proj)
    shutil.rmtree(remote, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unique", type=Path, required=True)
    ap.add_argument("--sizes", default="100,200,1251")
    ap.add_argument("--work", type=Path, default=Path("/tmp/brats_cohort"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bound", action="store_true", help="also preprocessing per worker against the decompression bound")
    ap.add_argument("--keep", action="store_true", help="keep the last size's project (WORK/project) instead of deleting it")
    args = ap.parse_args()
    cases = unique_cases(args.unique)
    args.work.mkdir(parents=True, exist_ok=True)
    res = json.loads(OUT.read_text()) if OUT.is_file() else {}
    res.update({"machine": machine(), "unique_cases": len(cases)})
    if args.bound:
        res["preprocess_vs_bound"] = preprocess_vs_bound(cases)
        OUT.write_text(json.dumps(res, indent=2) + "\n")
    res.setdefault("sizes", {})
    for n in (int(s) for s in args.sizes.split(",") if s):
        started = machine()  # per size: the load average when this size began
        res["sizes"][str(n)] = {**one_size(cases, n, args.work, args.workers, dvc_io=n <= len(cases), keep=args.keep),
                                "machine": started}
        OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
