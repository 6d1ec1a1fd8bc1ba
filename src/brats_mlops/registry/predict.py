"""Segment (and optionally classify survival of) a new case folder with registered models.

Outputs in ``out_dir``:
  ``<case>_seg.nii.gz``  labels in the input edition's convention (BraTS 2020/2021: 0/1/2/4, 2023: 0/1/2/3, 2024 GLI:
                        + 4 resection cavity, PED 2024: 1 ET, 2 NETC, 4 ED, MEN-RT: 1 GTV, MSD: 1 edema,
                        2 non-enhancing, 3 enhancing; ``brats-mlops editions``), with the affine and header of the
                        input's images;
  ``<case>_overlay.png`` three views through the tumour;
  ``<case>.json``        tumour volumes per region (cm³), the models used, and the survival class with its
                        probability when an age is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from brats_mlops.data.case import scheme_of
from brats_mlops.data.io import load_case_images, save_like
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.data.editions import EDITIONS
from brats_mlops.data.readers import read_case_folder
from brats_mlops.registry.common import load_registered
from brats_mlops.names import MODALITIES, MODEL_SEGMENTATION, MODEL_SURVIVAL


def model_uri(name: str, alias: str | None = "champion", version: str | None = None) -> str:
    return f"models:/{name}/{version}" if version else f"models:/{name}@{alias}"


def require_registered(uris: list[str]) -> None:
    """Check that every ``models:/name@alias`` or ``models:/name/version`` resolves, before any work is done;
    a missing one is a :class:`LookupError` naming all of them and what to do."""
    from mlflow.tracking import MlflowClient

    client, missing = MlflowClient(), []
    for uri in uris:
        ref = uri.removeprefix("models:/")
        try:
            if "@" in ref:
                client.get_model_version_by_alias(*ref.split("@", 1))
            else:
                client.get_model_version(*ref.split("/", 1))
        except Exception:  # MlflowException (not found) or a store error: either way the model is not usable
            missing.append(uri)
    if missing:
        raise LookupError(f"not registered: {', '.join(missing)}. `brats-mlops models` lists the versions and aliases; "
                          "`brats-mlops promote <name>` sets @champion, or pass --alias/--version/--survival-version")


def ensemble_labels(uris: list[str], case_dir: Path, tta: str | None) -> np.ndarray:
    """Labels (input convention) of the registered 3-D segmentation versions ``uris`` averaged (nnU-Net's ensembling:
    every network's probabilities, folds of an ensemble version included); they must share their input and output
    configuration."""
    from brats_mlops.inference.segment import predict_labels
    from brats_mlops.registry.segmentation import to_convention

    pys = [load_registered(u).unwrap_python_model() for u in uris]
    if any(not hasattr(py, "models") for py in pys):
        raise LookupError("--ensemble combines versions of the platform's 3-D model (brats-segmentation) only")
    keys = ("modalities", "mode", "in_channels", "num_classes", "region_thresholds", "healthy_label")
    differ = [k for k in keys if len({str(py.mc.get(k)) for py in pys}) > 1]
    if differ:
        raise LookupError(f"the versions {uris} cannot be ensembled: their {', '.join(differ)} differ")
    case = read_case_folder(case_dir, tuple(pys[0].mc["modalities"]))
    images, _, _ = load_case_images(case, pys[0].mc["modalities"])
    return to_convention(predict_labels([m for py in pys for m in py.models], images, pys[0].mc, tta=tta), case.source)


def predict_case(case_dir: str | Path, out_dir: str | Path, seg_uri: str, survival_uri: str | None = None,
                 age: float | None = None, tta: str | None = None, ensemble_uris: list[str] | None = None) -> dict[str, Any]:
    """Segment ``case_dir`` with ``seg_uri`` (``tta`` "mirror": mirroring TTA; ``ensemble_uris``: more registered
    versions whose probabilities are averaged with it) and, with an ``age``, classify survival with ``survival_uri``."""
    from brats_mlops.reporting.figures import overlay_figure
    from brats_mlops.survival.features import segmentation_volumes

    case_dir, out_dir = Path(case_dir), Path(out_dir)
    ensemble_uris = list(ensemble_uris or [])
    require_registered([seg_uri, *ensemble_uris] + ([survival_uri] if age is not None and survival_uri else []))  # fail before any work
    seg = load_registered(seg_uri).unwrap_python_model()
    mods = tuple(getattr(seg, "mc", {}).get("modalities", MODALITIES))  # the model's inputs (MEN-RT: T1c only)
    case = read_case_folder(case_dir, mods)  # names the folder and the missing modality
    images, _, spacing = load_case_images(case, list(mods))  # names the file that cannot be read
    if ensemble_uris:
        labels = ensemble_labels([seg_uri, *ensemble_uris], case_dir, tta).astype(np.uint8)
    else:
        labels = np.asarray(seg.predict_case(case_dir, tta=tta)).astype(np.uint8)  # input convention
    internal = remap_labels(labels, case.label_map)
    out_dir.mkdir(parents=True, exist_ok=True)
    cid = case.case_id
    ref = case.images["t1ce"].path
    save_like(labels, ref, out_dir / f"{cid}_seg.nii.gz")
    vols = segmentation_volumes(internal, spacing)
    regions = scheme_of(case.source).regions  # the edition's regions (glioma WT/TC/ET, + RC; MEN-RT: GTV)
    volumes = {r: float(np.isin(internal, labs).sum()) * float(np.prod(spacing)) / 1000.0 for r, labs in regions.items()}
    overlay_figure(images[mods.index("flair") if "flair" in mods else 0], internal, None, out_dir / f"{cid}_overlay.png",
                   title=f"{cid}: " + ", ".join(f"{r.upper()} {v:.1f} cm³" for r, v in volumes.items()) + f" ({seg_uri})")
    result: dict[str, Any] = {
        "case_id": cid, "case_dir": str(case_dir), "edition": case.source, "naming": case.source, "label_convention": EDITIONS[case.source].convention,
        "segmentation_model": seg_uri, "ensemble_with": ensemble_uris, "tta": tta or "model default",
        "segmentation": str(out_dir / f"{cid}_seg.nii.gz"),
        "overlay": str(out_dir / f"{cid}_overlay.png"),
        "volumes_cm3": volumes, "ratios": {k: vols[k] for k in ("tc_wt", "et_wt", "et_tc")},
    }
    if age is not None and survival_uri:
        surv = load_registered(survival_uri)
        p = surv.predict({"case_dir": str(case_dir), "age": float(age)}).iloc[0].to_dict()
        if "bin" in p:  # the 2-D survival bins (seed 001): majority vote over the predicted mask's slices
            probs = [float(v) for v in p["probabilities"]]
            p = {"class": p["bin"], "class_name": p["bin_name"], "probability": probs[int(p["bin"])],
                 **{f"p_{i}": v for i, v in enumerate(probs)}}
        result["survival"] = {"model": survival_uri, "age": age, "class": int(p["class"]), "class_name": p["class_name"],
                              "probability": float(p["probability"]),
                              "probabilities": {k.removeprefix("p_"): float(v) for k, v in p.items() if k.startswith("p_")}}
    (out_dir / f"{cid}.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


__all__ = ["MODEL_SEGMENTATION", "MODEL_SURVIVAL", "model_uri", "predict_case"]
