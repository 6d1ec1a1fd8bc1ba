"""The platform's split cases in nnU-Net's raw format, and nnU-Net's own planning and preprocessing of them.

Only the training and validation cases of the platform's split are exported (``imagesTr``/``labelsTr``): nnU-Net's
fingerprint and normalisation never see the held-out test cases, which the ``nnunet_evaluate`` stage reads from the
dataset itself, exactly as ``evaluate_segmentation`` does. ``splits_final.json`` is written from the platform's folds,
so nnU-Net validates on the same cases as the platform's models.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
import shutil
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from brats_mlops.config.nnunet import NnunetParams
from brats_mlops.config.paths import PathsParams
from brats_mlops.data.case import Case, scheme_of
from brats_mlops.data.io import load_image
from brats_mlops.data.labels import get_scheme
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.errors import UserError
from brats_mlops.nnunet.env import CHANNEL_NAMES, PLANS, preprocessed_dataset, raw_dataset
from brats_mlops.utils.progress import progress

def dataset_json(modalities: list[str] | tuple[str, ...], n_training: int, scheme: str = "glioma") -> dict[str, Any]:
    """nnU-Net's ``dataset.json`` for region-based training on the label scheme's regions (``data/labels.py``; glioma:
    its Dataset137_BraTS21 setting, WT/TC/ET; 2024 GLI: + the resection cavity; MEN-RT: the GTV), read with nibabel."""
    labels, order, _ = get_scheme(scheme).nnunet_labels()
    return {
        "channel_names": {str(i): CHANNEL_NAMES[m] for i, m in enumerate(modalities)},
        "labels": labels,
        "regions_class_order": order,
        "label_scheme": scheme,  # the platform's; nnU-Net ignores it, predict.py maps back with it
        "numTraining": n_training,
        "file_ending": ".nii.gz",
        "overwrite_image_reader_writer": "NibabelIO",
        "name": "BraTSPlatform",
        "description": "brats_mlops: the validated cases of the platform's train/val split (test cases held out)",
        "converted_by": "brats_mlops nnunet_prepare",
    }


def _image(ref: Any, out: Path) -> None:
    """A modality as ``<case>_<XXXX>.nii.gz``: a link to a plain ``.nii.gz`` file, else the volume written out."""
    if ref.channel is None and str(ref.path).endswith(".nii.gz"):
        os.symlink(Path(ref.path).resolve(), out)
        return
    arr, affine, _ = load_image(ref, dtype=None)
    nib.save(nib.Nifti1Image(np.asarray(arr), affine), str(out))


def export_case(case: Case, modalities: list[str] | tuple[str, ...], images_dir: Path, labels_dir: Path) -> None:
    for i, mod in enumerate(modalities):
        _image(case.images[mod], images_dir / f"{case.case_id}_{i:04d}.nii.gz")
    seg, affine, _ = load_image(case.seg, dtype=None)
    to_nn = scheme_of(case.source).nnunet_labels()[2]
    nn = np.asarray(to_nn, np.uint8)[remap_labels(np.asarray(seg), case.label_map)]
    nib.save(nib.Nifti1Image(nn, affine), str(labels_dir / f"{case.case_id}.nii.gz"))


def export_dataset(cases: dict[str, Case], folds: list[dict[str, list[str]]], modalities: list[str] | tuple[str, ...],
                   paths: PathsParams, cfg: NnunetParams) -> Path:
    """Write ``Dataset<id>_BraTSPlatform`` (imagesTr, labelsTr, dataset.json) from the folds' cases; returns its folder."""
    ids = sorted({c for f in folds for part in ("train", "val") for c in f[part]})
    missing = [c for c in ids if c not in cases or cases[c].seg is None]
    if missing:
        raise UserError(f"nnunet_prepare: the split names cases the dataset has no labelled files for: {missing[:5]}"
                        f"{' …' if len(missing) > 5 else ''} (data.root changed since the split stage? run `dvc repro split`)")
    out = raw_dataset(paths, cfg)
    if out.exists():
        shutil.rmtree(out)
    images, labels = out / "imagesTr", out / "labelsTr"
    images.mkdir(parents=True)
    labels.mkdir()
    for cid in progress(ids, desc="export to nnU-Net"):
        export_case(cases[cid], modalities, images, labels)
    scheme = scheme_of(cases[ids[0]].source).name if ids else "glioma"
    (out / "dataset.json").write_text(json.dumps(dataset_json(modalities, len(ids), scheme), indent=1) + "\n")
    return out


@contextmanager
def _quiet_root_logger():
    """nnU-Net's preprocessing logs every file it copies on the root logger at INFO; keep the platform's own INFO lines."""
    root, platform = logging.getLogger(), logging.getLogger("brats_mlops")
    levels = root.level, platform.level
    platform.setLevel(logging.getLevelName(platform.getEffectiveLevel()))
    root.setLevel(max(root.level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(levels[0])
        platform.setLevel(levels[1])


def plan_and_preprocess(paths: PathsParams, cfg: NnunetParams, verify: bool = True) -> Path:
    """nnU-Net's fingerprint (with its dataset integrity check), experiment planning and preprocessing of
    ``cfg.configuration``, as ``nnUNetv2_plan_and_preprocess -d <id> -c <configuration> --verify_dataset_integrity``
    does; returns the preprocessed dataset folder (fingerprint, plans, preprocessed arrays)."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, plan_experiments, preprocess

    out = preprocessed_dataset(paths, cfg)
    if out.exists():
        shutil.rmtree(out)
    with _quiet_root_logger():
        extract_fingerprints([cfg.dataset_id], num_processes=cfg.preprocess_workers, check_dataset_integrity=verify,
                             clean=True, verbose=False)
        plans = plan_experiments([cfg.dataset_id])
        if plans != PLANS:
            raise RuntimeError(f"nnU-Net planned {plans!r}, expected {PLANS!r}")
        preprocess([cfg.dataset_id], PLANS, configurations=[cfg.configuration], num_processes=[cfg.preprocess_workers])
    return out


def write_splits(folds: list[dict[str, list[str]]], preprocessed: Path) -> Path:
    """nnU-Net's ``splits_final.json`` from the platform's folds (nnU-Net's trainer reads it instead of its own 5-fold split)."""
    path = preprocessed / "splits_final.json"
    path.write_text(json.dumps([{"train": f["train"], "val": f["val"]} for f in folds], indent=1) + "\n")
    return path
