"""Preprocessing a cohort without losing anything (issue 26): every case is staged, a failing case is quarantined with
its reason while the others go on, a killed run resumes without redoing finished cases, and a full disk is one clear
line that leaves no half-written output.

How: each case is preprocessed into ``<out>/../.<out name>.partial/<case id>.tmp/`` and renamed to ``<case id>/`` with
its plan (and the fingerprint of its input files and of the settings) once complete — a rename is atomic, so a case
folder there is always whole. Only when every case is done are the arrays linked into ``<out>`` and ``plans.json``
written (last: a folder without it is never read as a result); then the staging folder goes. DVC deletes a stage's
declared outputs before it runs, never this staging folder, so ``dvc repro`` after a kill or a full disk resumes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from brats_mlops.config.schema import PreprocessParams
from brats_mlops.data.case import Case, scheme_of
from brats_mlops.data.arrays import SUFFIX
from brats_mlops.data.preprocessing import PLANS_VERSION, CasePlan, Plans, preprocess_case
from brats_mlops.errors import StageError
from brats_mlops.utils.progress import progress

log = logging.getLogger(__name__)
SUBDIRS = ("images", "labels", "autoencoder")


class DiskFull(StageError):
    pass


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def fingerprint(case: Case, modalities: tuple[str, ...], cfg: PreprocessParams) -> str:
    """What a finished case depends on: its files (path, size, modification time), the settings, the plans version."""
    refs = [case.images[m] for m in modalities if m in case.images] + ([case.seg] if case.seg is not None else [])
    stats = [(str(r), os.stat(r.path).st_size, os.stat(r.path).st_mtime_ns) for r in refs]
    blob = json.dumps([stats, list(modalities), cfg.model_dump(mode="json"), PLANS_VERSION, case.label_map], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _finished(work: Path, case_id: str, fp: str) -> dict[str, Any] | None:
    p = work / case_id / "plan.json"
    if p.is_file():
        rec = json.loads(p.read_text())
        if rec.get("fingerprint") == fp:
            return rec["plan"]
    return None


def _job(args: tuple) -> tuple[str, Any]:
    """One case into its staging folder: ``("ok", plan)``, ``("failed", reason)`` or ``("disk_full", message)``."""
    case, modalities, cfg, work, fp = args
    tmp, final = work / f"{case.case_id}.tmp", work / case.case_id
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        plan = CasePlan(**preprocess_case(case, modalities, cfg, tmp)).model_dump(mode="json")
        (tmp / "plan.json").write_text(json.dumps({"fingerprint": fp, "plan": plan}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        return "ok", plan
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno == errno.ENOSPC:
            return "disk_full", f"case {case.case_id}: no space left on the device writing {err.filename or tmp}"
        return "failed", f"{type(err).__name__}: {err}"
    except Exception as err:  # noqa: BLE001 (any failure of one case quarantines that case, with its reason)
        shutil.rmtree(tmp, ignore_errors=True)
        return "failed", f"{type(err).__name__}: {err}"


def _one_blas_thread() -> None:
    """Worker initializer: the workers already share out the cores, so each uses one BLAS thread (the autoencoder
    input's resampling is matrix products; a BLAS thread per core in every worker oversubscribes them)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _run_jobs(jobs: list[tuple], num_workers: int) -> dict[str, tuple[str, Any]]:
    results: dict[str, tuple[str, Any]] = {}
    if num_workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(num_workers, initializer=_one_blas_thread) as pool:
            futures = {pool.submit(_job, j): j[0].case_id for j in jobs}
            for fut in progress(as_completed(futures), total=len(futures), desc="preprocess"):
                results[futures[fut]] = fut.result()
                if results[futures[fut]][0] == "disk_full":
                    for f in futures:
                        f.cancel()
                    break
    else:
        for j in progress(jobs, desc="preprocess"):
            results[j[0].case_id] = _job(j)
            if results[j[0].case_id][0] == "disk_full":
                break
    return results


def _publish(work: Path, out: Path, ids: list[str]) -> None:
    """Link (or copy, across file systems) the finished cases' arrays into ``out``."""
    for sub in SUBDIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)
    for cid in ids:
        for sub in SUBDIRS:
            src = work / cid / sub / f"{cid}{SUFFIX}"
            if src.is_file():
                dst = out / sub / src.name
                dst.unlink(missing_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)


def preprocess_dataset(cases: list[Case], modalities: tuple[str, ...], cfg: PreprocessParams, out: str | Path,
                       num_workers: int = 1) -> Plans:
    """Preprocess ``cases`` (already validated), resuming finished ones; write the arrays and ``plans.json`` (its
    ``quarantined`` lists the cases that failed here, with their reason). Cases whose labels have no internal
    counterpart, or a mix of label schemes (``data/labels.py``), stop here with one line."""
    bad = sorted({c.source for c in cases if c.seg is not None and not c.label_map})
    schemes = {scheme_of(c.source).name: c.source for c in cases}
    if bad or len(schemes) > 1:
        raise StageError(f"data.source {bad[0]}: its labels have no internal counterpart; score it with `brats-mlops "
                         "evaluate --profile ...` (see `brats-mlops editions`)" if bad else f"the cases mix label schemes "
                         f"{', '.join(f'{k} ({v})' for k, v in schemes.items())}: preprocess one scheme at a time")
    out = Path(out)
    work = staging_dir(out)
    work.mkdir(parents=True, exist_ok=True)
    plans: dict[str, dict[str, Any]] = {}
    jobs = []
    for c in cases:
        fp = fingerprint(c, modalities, cfg)
        done = _finished(work, c.case_id, fp)
        if done is not None:
            plans[c.case_id] = done
        else:
            jobs.append((c, modalities, cfg, work, fp))
    if plans:
        log.info("resuming: %d of %d cases were finished by an earlier run (%s); %d to do", len(plans), len(cases), work,
                 len(jobs))
    results = _run_jobs(jobs, num_workers)
    full = [msg for status, msg in results.values() if status == "disk_full"]
    if full:
        finished = len(plans) + sum(s == "ok" for s, _ in results.values())
        raise DiskFull(f"disk full: {full[0]}. {finished} of {len(cases)} cases are finished and kept in {work} (nothing "
                       f"was written to {out}); free space and rerun — finished cases are not redone")
    quarantined = {cid: msg for cid, (status, msg) in results.items() if status == "failed"}
    for cid, msg in sorted(quarantined.items()):
        log.warning("case %s quarantined: preprocessing failed: %s", cid, msg)
    plans.update({cid: plan for cid, (status, plan) in results.items() if status == "ok"})
    order = [c.case_id for c in cases if c.case_id in plans]
    if cases and not order:
        raise StageError(f"every one of the {len(cases)} cases failed to preprocess; the first: "
                         f"{next(iter(sorted(quarantined.items())))}")
    if (out / "plans.json").exists():
        (out / "plans.json").unlink()
    _publish(work, out, order)
    p = _plans(cases, {cid: plans[cid] for cid in order}, cfg, modalities, quarantined)
    p.save(out)   # last: a folder without plans.json is never read as complete
    shutil.rmtree(work, ignore_errors=True)
    return p


def _plans(cases: list[Case], plans: dict[str, dict[str, Any]], cfg: PreprocessParams, modalities: tuple[str, ...],
           quarantined: dict[str, str]) -> Plans:
    source = cases[0].source if cases else "unknown"
    scheme = scheme_of(source)
    return Plans(
        source=source,
        modalities=modalities,
        crop_mode=cfg.crop,
        crop_size=cfg.crop_size,
        normalisation="zscore over brain (non-zero) voxels, per modality",
        percentile_clip=cfg.percentiles if cfg.percentile_rescale else None,
        gaussian_sigma=cfg.gaussian_sigma,
        healthy_label=cfg.healthy_label,
        label_scheme=scheme.name,
        label_names=scheme.label_names(healthy=cfg.healthy_label),
        raw_label_map=cases[0].label_map if cases else {},
        autoencoder=cfg.autoencoder.model_dump(mode="json"),
        cases={cid: CasePlan(**d) for cid, d in plans.items()},
        quarantined=quarantined,
    )
