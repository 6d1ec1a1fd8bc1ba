"""The BraTS submission contract and the entrypoint that implements it.

BraTS 2025 runs a submitted Docker image with no network (``--network none``), ``/input`` read-only and ``/output``
writable; it reads ``/input/<ID>/<ID>-{t1n,t1c,t2w,t2f}.nii.gz`` and must write ``/output/<ID>.nii.gz`` in the task's
labels, on the input's grid. (The 2023/2024 test phases ran the same inference as MLCubes through MedPerf: ``infer
--data_path ... --output_path ...``.) :func:`run` is that inference with the platform's own predictor (the registered
model's pyfunc: the preprocessing it was trained with, its post-processing), nothing else:

* every case folder is checked against the contract first; a case that breaks it (a missing modality, files named for
  another ID, a file that is not NIfTI) is reported on one line and skipped — the other cases are still done;
* nothing is written outside the output folder and a temporary folder (``HOME``, ``TMPDIR`` and the caches point
  there); no network is used.

``python entrypoint.py --input /input --output /output`` (the container) and ``python entrypoint.py infer
--data_path=... --output_path=...`` (MLCube) both call :func:`main`.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

CONTRACT_SUFFIX = {"t1": "t1n", "t1ce": "t1c", "t2": "t2w", "flair": "t2f"}  # BraTS 2023+ file names of the modalities
SETTINGS = "submission.json"  # beside the entrypoint: the model folder, its modalities, the label convention written


def contract_problem(case_dir: Path, modalities: list[str]) -> str | None:
    """Why ``case_dir`` breaks the contract (``<ID>/<ID>-<t1n|t1c|t2w|t2f>.nii.gz`` for the model's modalities), or None."""
    cid = case_dir.name
    missing = [f"{cid}-{CONTRACT_SUFFIX[m]}.nii.gz" for m in modalities if not (case_dir / f"{cid}-{CONTRACT_SUFFIX[m]}.nii.gz").is_file()]
    if not missing:
        return None
    found = sorted(p.name for p in case_dir.iterdir() if p.is_file())
    other = sorted({f.split("-t")[0] for f in found if f.endswith(".nii.gz") and not f.startswith(f"{cid}-")})
    if other:
        return f"its files are named for another ID ({', '.join(other)}), expected {missing[0]}"
    return f"missing {', '.join(missing)} (found: {', '.join(found) or 'nothing'})"


def _private_temp() -> Path:
    """A temporary folder for everything a library might write (matplotlib, torch and MLflow caches, HOME)."""
    tmp = Path(tempfile.mkdtemp(prefix="brats-submission-"))
    atexit.register(shutil.rmtree, tmp, True)   # gone when the process ends (a container's or a user's own run)
    for var in ("HOME", "TMPDIR", "XDG_CACHE_HOME", "MPLCONFIGDIR", "TORCH_HOME"):
        os.environ[var] = str(tmp)
    tempfile.tempdir = str(tmp)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("BRATS_NO_PROGRESS", "1")
    return tmp


def run(input_dir: Path, output_dir: Path, settings: dict, log=print) -> dict[str, list[str]]:
    """Segment every case folder of ``input_dir`` into ``output_dir/<ID>.nii.gz``; returns ``{"done": [...],
    "skipped": [...]}``. One line per skipped case names it and the problem."""
    _private_temp()
    import numpy as np

    from brats_mlops.data.case import internal_to_raw
    from brats_mlops.data.io import load_case_images, save_like
    from brats_mlops.data.readers import read_case_folder
    from brats_mlops.registry.common import load_registered

    model = load_registered(str(Path(settings["model_dir"]))).unwrap_python_model()
    mods = list(settings["modalities"])
    cases = sorted(p for p in Path(input_dir).iterdir() if p.is_dir() and not p.name.startswith("."))
    done, skipped = [], []
    output_dir.mkdir(parents=True, exist_ok=True)
    for case_dir in cases:
        cid, t0 = case_dir.name, time.time()
        problem = contract_problem(case_dir, mods)
        if problem is None:
            try:
                case = read_case_folder(case_dir, tuple(mods))
                images, _, spacing = load_case_images(case, mods)
                labels = internal_to_raw(model.labels(images, spacing), settings["convention"]).astype(np.uint8)
                ref = case.images["t1ce" if "t1ce" in mods else mods[0]].path
                save_like(labels, ref, output_dir / f"{cid}.nii.gz")
            except Exception as err:  # noqa: BLE001 — one unreadable case must not stop the others
                problem = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
        if problem:
            skipped.append(cid)
            log(f"case {cid}: skipped — {problem}")
        else:
            done.append(cid)
            log(f"case {cid}: wrote {cid}.nii.gz ({time.time() - t0:.1f} s)")
    log(f"{len(done)} of {len(cases)} cases segmented" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return {"done": done, "skipped": skipped}


def main(argv: list[str] | None = None, here: Path | None = None) -> int:
    """The entrypoint: ``--input DIR --output DIR`` (container) or ``infer --data_path DIR --output_path DIR`` (MLCube).
    Exit 0 when every case was segmented, 1 when some were skipped, 2 when none could be."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["infer"]:
        argv = [a.replace("--data_path", "--input").replace("--output_path", "--output") for a in argv[1:]]
    ap = argparse.ArgumentParser(description="Segment every /input/<ID>/ into /output/<ID>.nii.gz (BraTS contract).")
    ap.add_argument("--input", type=Path, default=Path("/input"))
    ap.add_argument("--output", type=Path, default=Path("/output"))
    args = ap.parse_args(argv)
    here = here or Path(__file__).resolve().parent
    settings = json.loads((here / SETTINGS).read_text())
    settings["model_dir"] = str(here / settings["model_dir"])
    if not args.input.is_dir():
        print(f"error: input folder {args.input} does not exist", file=sys.stderr)
        return 2
    result = run(args.input, args.output, settings, log=lambda s: print(s, flush=True))
    return 0 if not result["skipped"] else (1 if result["done"] else 2)
