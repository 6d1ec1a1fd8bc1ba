"""``brats-mlops export MODEL[@alias|/version] --format F --out DIR``: a registered segmentation model leaves the platform.

Formats:

* ``brats-container`` — a folder that builds the BraTS submission image: the registered model, the platform's code it
  needs (vendored), an entrypoint implementing the challenge contract (``export/submission.py``), the pinned
  requirements and a ``Dockerfile``; ``README.md`` says how to build and run it;
* ``mlcube`` — the same, with the ``mlcube.yaml`` MedPerf runs (``infer --data_path --output_path``);
* ``monai-bundle`` — a MONAI bundle (``configs/metadata.json``, ``configs/inference.json``, ``models/model.pt`` and
  ``model.ts``) that ``monai.bundle`` loads; MONAI's network in/out check runs on export (``export/bundle.py``);
* ``torchscript`` / ``onnx`` — the network with dynamic spatial axes (``model.pt`` / ``model.onnx``) and
  ``preprocessing.json`` (what a case goes through before and after it), checked against PyTorch on a case.

Every export holds ``MODEL_CARD.md`` and ``lineage.json`` and is recorded in MLflow against the version it came from
(``registry/exports.py``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from brats_mlops.errors import UserError
from brats_mlops.export.card import model_card
from brats_mlops.export.files import checkpoints
from brats_mlops.families import family_by_model

FORMATS = ("brats-container", "mlcube", "monai-bundle", "torchscript", "onnx")
NETWORK_FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}


def export(ref: str, fmt: str, out: Path, sample_case: Path | None = None, convention: str | None = None) -> dict[str, Any]:
    """Export the registered version ``ref`` as ``fmt`` into ``out`` (new or empty); returns what was written and checked."""
    from brats_mlops.registry import exports

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty: export into a new folder")
    rv = exports.resolve(ref)
    family = family_by_model(rv.name)
    if family is None:
        raise UserError(f"{rv.name} is not a segmentation model: export takes brats-segmentation, -2d, -nnunet or another family's")
    out.mkdir(parents=True, exist_ok=True)
    lineage = exports.lineage(rv)
    facts: dict[str, Any] = {"format": fmt, "family": family.key}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = exports.download(rv, Path(tmp) / "model")
        if fmt in NETWORK_FORMATS or fmt == "monai-bundle":
            facts |= _export_network(fmt, model_dir, out, sample_case, family, rv.ref, lineage)
        else:
            from brats_mlops.export.container import write_container

            facts |= write_container(fmt, model_dir, out, rv, convention or _training_edition(lineage))
    (out / "lineage.json").write_text(json.dumps(lineage, indent=1, default=str) + "\n")
    card = out / "MODEL_CARD.md"
    card.write_text(model_card(rv.ref, family, lineage, facts))
    if fmt == "monai-bundle":  # the bundle's own docs folder holds the card too
        (out / "docs" / "README.md").write_text(card.read_text())
    small = [p for p in (card, out / "lineage.json", out / "preprocessing.json", out / "submission.json", out / "mlcube.yaml")
             if p.is_file()]
    facts["mlflow_run"] = exports.record_export(rv, fmt, out, small, facts)
    facts["model"] = rv.ref
    return facts


def _training_edition(lineage: dict[str, Any]) -> str:
    """The label convention a submission writes by default: the edition whose data trained the model."""
    import re

    m = re.search(r"source ([\w.-]+)\)", str(lineage.get("data_validation") or ""))
    return m.group(1) if m and m.group(1) != "synthetic" else "brats2023"


def _export_network(fmt: str, model_dir: Path, out: Path, sample_case: Path | None, family, ref: str,
                    lineage: dict[str, Any]) -> dict[str, Any]:
    from brats_mlops.export import network
    from brats_mlops.models.checkpoint import load_segmentation

    if family.key == "nnunet":
        raise UserError("torchscript/onnx export of nnU-Net is not implemented (export brats-container instead)")
    cks = checkpoints(model_dir)
    if len(cks) > 1:
        raise UserError(f"the version is an ensemble of {len(cks)} checkpoints: export each fold's version, or brats-container")
    net, ck = load_segmentation(cks[0])
    mc = ck["model_config"]
    if fmt == "monai-bundle":
        from brats_mlops.export import bundle

        facts: dict[str, Any] = bundle.write_bundle(net, mc, out, ref, lineage)
        bundle.verify(out)  # MONAI's own network in/out check against the metadata
        facts["monai_verify_net_in_out"] = "passed"
        target = out / "models" / "model.ts"
    else:
        target = out / NETWORK_FORMATS[fmt]
        (network.to_onnx if fmt == "onnx" else network.to_torchscript)(net, mc, target)
        facts = {"file": target.name, "bytes": target.stat().st_size}
    network.write_preprocessing(mc, out / "preprocessing.json")
    if sample_case is not None:
        from brats_mlops.data.io import load_case_images
        from brats_mlops.data.readers import read_case_folder

        case = read_case_folder(sample_case, tuple(mc["modalities"]))
        images, _, _ = load_case_images(case, mc["modalities"])
        facts |= network.check(net, network.load_exported(target), mc, images)
        facts["checked_on"] = case.case_id
        if fmt == "onnx" and facts["max_abs_logit_diff"] > network.ONNX_LOGIT_TOLERANCE:
            raise UserError(f"the ONNX export differs from PyTorch by {facts['max_abs_logit_diff']:.2g} in a logit "
                            f"(tolerance {network.ONNX_LOGIT_TOLERANCE}); not exported")
    return facts
