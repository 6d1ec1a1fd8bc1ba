"""Helpers of the end-to-end tests: a temporary clone of the working tree with small params, and a runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(cmd, cwd, env, check: bool = True) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    if os.environ.get("BRATS_E2E_TIMES"):   # where the end-to-end tests spend their time: one line per command
        with open(os.environ["BRATS_E2E_TIMES"], "a") as f:
            f.write(f"{time.monotonic() - t0:7.1f}s  {Path(cwd).name}  {' '.join(Path(str(c)).name if i == 0 else str(c) for i, c in enumerate(cmd))}\n")
    if check:
        assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


def small_params(p: dict) -> dict:
    """CPU-minute settings for every stage (the data's own size is set by the caller)."""
    p["preprocess"]["crop_size"] = [16, 16, 16]
    p["preprocess"]["autoencoder"].update(spacing=[12.0, 12.0, 12.0], shape=[8, 8, 8])
    p["segmentation"].update(channels=[4, 8, 8], epochs=2, num_workers=0)
    p["autoencoder"].update(channels=[8, 8], disc_layers=1, disc_channels=8, epochs=2, batch_size=2, val_every=1)
    p["survival"].update(models=["logistic_regression", "random_forest"], cv_folds=2, cv_repeats=2, n_boot=200, n_perm=200,
                         feature_sets=["age_only", "segmentation_volumes", "bottleneck", "channel_stats", "coronal_profile",
                                       "flattened_latent"], time_to_event=["cox"])
    p["slices2d"].update(model="seed004_model1", epochs=1, batch_size=32, infer_batch_size=16)
    p["survival2d"].update(size=32, epochs=1, n_bins=2, n_boot=100, val_fraction=0.25, batch_size=16)
    return p


def make_clone(dst: Path, edit) -> tuple[Path, dict]:
    """Copy the tracked and untracked (not ignored) files to ``dst``, apply ``edit(params) -> params``, commit."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    p = edit(small_params(yaml.safe_load((dst / "params.yaml").read_text())))
    (dst / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    for lock in ("dvc.lock", "nnunet/dvc.lock"):  # the clone builds its own outputs (nnU-Net's only where a test runs it)
        (dst / lock).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PATH=f"{BIN}:{env['PATH']}", BRATS_NO_PROGRESS="1", DVC_NO_ANALYTICS="1", MLFLOW_DISABLE_TELEMETRY="true",
               BRATS_PARAMS_AUDIT=str(dst.parent / "params_audit"))   # which params each stage reads (config/audit.py)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone"]):
        run(cmd, dst, env)
    return dst, env


def commit_all(dst: Path, env: dict, msg: str) -> None:
    run(["git", "add", "-A"], dst, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", msg], dst, env)


UNDECLARED_OK = ("paths.", "tracking.")  # where outputs go and where runs are logged: not inputs of a result


def undeclared_params(project: Path, audit_dir: Path) -> dict[str, list[str]]:
    """``{stage: [params key read but not among the stage's params in its dvc.yaml]}`` from the records that stages
    run with ``BRATS_PARAMS_AUDIT`` wrote (``config/audit.py``); empty when every stage declares what it reads."""
    from brats_mlops.utils.stage_deps import PIPELINE_FILES, stage_module

    declared: dict[str, tuple[str, list[str]]] = {}   # "pipelines.<stage>" or "tune <study>" -> (stage, params)
    for name in PIPELINE_FILES:
        if (project / name).is_file():
            for stage, spec in yaml.safe_load((project / name).read_text())["stages"].items():
                cmd = str(spec.get("cmd", ""))
                module = stage_module(cmd)
                if module:
                    key = module if module.startswith("pipelines.") else " ".join(cmd.split()[3:5])
                    declared[key] = (stage, [str(p) for p in spec.get("params", [])])
    out: dict[str, list[str]] = {}
    for f in sorted(audit_dir.glob("*.json")):
        rec = json.loads(f.read_text())
        argv0 = Path(rec["argv"][0])
        module = (f"pipelines.{argv0.stem}" if argv0.parent.name == "pipelines" else
                  " ".join(rec["argv"][1:3]) if argv0.parent.name == "cli" and rec["argv"][1:2] == ["tune"] else None)
        if module not in declared:
            continue
        stage, params = declared[module]
        missing = [k for k in rec["keys"] if not k.startswith(UNDECLARED_OK)
                   and not any(k == p or k.startswith(p + ".") for p in params)]
        if missing:
            out[stage] = sorted(set(out.get(stage, [])) | set(missing))
    return out


# Held-out Dice WT a trained model must reach in the end-to-end tests (3-D, 2-D and nnU-Net). A model that predicts
# background scores 0 (every test case has a tumour); one that calls the whole brain tumour scores 2|T|/(|T|+|brain|),
# about 0.1 on these cases; both are computed by `trivial_dice_wt` through the platform's own scoring, and the tests
# check that the floor clears them by 0.3. The models reach 0.8-0.9 (3-D 0.84, 2-D 0.92, nnU-Net 0.84 when written).
FLOOR_DICE_WT = 0.6


def trivial_dice_wt(project, ids):
    """Mean held-out Dice WT of the two trivial predictors (background; the whole brain as oedema), scored like the model."""
    import numpy as np

    from brats_mlops.data.readers import discover
    from brats_mlops.inference.evaluate import score_cases

    mods = ("t1", "t1ce", "t2", "flair")
    cases = {c.case_id: c for c in discover("synthetic", project / "data" / "raw" / "synthetic", mods).cases}

    def mean(predict):
        return float(np.mean([r.row["dice_wt"] for r in score_cases(predict, mods, cases, ids, 0)]))

    return (mean(lambda im, _sp: np.zeros(im.shape[1:], np.uint8)),
            mean(lambda im, _sp: (np.any(im != 0, 0) * 2).astype(np.uint8)))
