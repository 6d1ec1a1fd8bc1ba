"""The ``monai-bundle`` export: a MONAI bundle (https://docs.monai.io/en/latest/mb_specification.html) of a platform
network, in the layout MONAI's tools read::

    <out>/configs/metadata.json    version, MONAI/PyTorch/NumPy versions, task, network_data_format (inputs, outputs)
    <out>/configs/inference.json   the network (TorchScript), its sliding-window inferer, the preprocessing settings
    <out>/models/model.pt          the state dict (the spec's required file)
    <out>/models/model.ts          the TorchScript network the inference config loads
    <out>/docs/README.md           the model card

``monai.bundle.verify_net_in_out`` runs the network on the shapes the metadata declares. ``verify_metadata`` checks
the metadata against MONAI's JSON schema, which it downloads from the URL in ``schema``: it cannot run offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from brats_mlops.data.labels import get_scheme
import brats_mlops.export.network as network
from brats_mlops.families import family_of

SCHEMA = "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20240725.json"
MODALITY_NAMES = {"t1": "T1", "t1ce": "T1 post-contrast (T1c)", "t2": "T2", "flair": "T2-FLAIR"}


def _divisor(net: torch.nn.Module, mc: dict[str, Any]) -> int:
    """What every spatial size must be divisible by (the network's downsamplings)."""
    if hasattr(net, "divisor"):
        return int(net.divisor)
    levels = len(mc.get("channels", [])) + (1 if mc.get("model") == "res_se_unet_deeper" else 0)
    return 2 ** max(levels - 1, 0)


def metadata(net: torch.nn.Module, mc: dict[str, Any], ref: str, lineage: dict[str, Any]) -> dict[str, Any]:
    import monai
    import numpy as np

    scheme = get_scheme(mc.get("label_scheme", "glioma"))
    d = _divisor(net, mc)
    shape = [f"{d}*n"] * family_of(mc).spatial_dims
    out_defs = ({str(i): name for i, name in scheme.label_names(mc.get("healthy_label", False)).items()}
                if mc.get("mode", "label") == "label" else {str(i): r.upper() for i, r in enumerate(scheme.regions)})
    return {
        "schema": SCHEMA, "version": "0.1.0",
        "changelog": {"0.1.0": f"exported from {ref} by brats-mlops"},
        "monai_version": monai.__version__, "pytorch_version": torch.__version__.split("+")[0], "numpy_version": np.__version__,
        "required_packages_version": {"nibabel": _version("nibabel")},
        "name": ref, "task": f"Brain tumour segmentation ({', '.join(r.upper() for r in scheme.regions)}) of multimodal MRI",
        "description": f"{family_of(mc).title} {mc.get('model')} trained by brats_mlops; see docs/README.md",
        "authors": "brats_mlops", "copyright": "see the training data's licence",
        "data_source": str(lineage.get("data_validation") or "not recorded"), "data_type": "nibabel",
        "intended_use": "research only; not a medical device",
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "magnitude", "modality": "MR", "num_channels": mc["in_channels"],
                                 "spatial_shape": shape, "dtype": "float32", "value_range": [], "is_patch_data": True,
                                 "channel_def": {str(i): MODALITY_NAMES[m] for i, m in enumerate(mc["modalities"])}}},
            "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": mc["out_channels"],
                                 "spatial_shape": shape, "dtype": "float32", "value_range": [], "is_patch_data": True,
                                 "channel_def": out_defs}},
        },
    }


def _version(dist: str) -> str:
    from importlib import metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "unknown"


def inference_config(mc: dict[str, Any]) -> dict[str, Any]:
    pre = network.preprocessing(mc)
    return {
        "imports": ["$import torch"],
        "bundle_root": ".",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": "$torch.jit.load(@bundle_root + '/models/model.ts', map_location='cpu')",
        "network": "$@network_def.to(@device).eval()",
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": list(mc["roi_size"]), "sw_batch_size": 1,
                    "overlap": mc.get("sw_overlap", 0.5), "mode": "gaussian"},
        "modalities": list(mc["modalities"]),
        "preprocessing": pre["normalisation"],
        "postprocessing": pre["output"],
        "label_conventions": pre["label_conventions"],
        "brats_model_config": mc,  # what brats_mlops's own predictor needs (families.family_of(mc).predict_labels)
    }


def write_bundle(net: torch.nn.Module, mc: dict[str, Any], out: Path, ref: str, lineage: dict[str, Any]) -> dict[str, Any]:
    if family_of(mc).spatial_dims != 3:
        raise ValueError("a MONAI bundle export needs a 3-D network (the 2-D slice models: export brats-container)")
    for d in ("configs", "models", "docs"):
        (out / d).mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out / "models" / "model.pt")
    network.to_torchscript(net, mc, out / "models" / "model.ts")
    (out / "configs" / "metadata.json").write_text(json.dumps(metadata(net, mc, ref, lineage), indent=1) + "\n")
    (out / "configs" / "inference.json").write_text(json.dumps(inference_config(mc), indent=1, default=str) + "\n")
    return {"file": "models/model.ts", "bytes": (out / "models" / "model.ts").stat().st_size}


def verify(bundle: Path) -> None:
    """MONAI's own check that the network takes and gives the shapes and channels ``metadata.json`` declares."""
    from monai.bundle import verify_net_in_out

    verify_net_in_out(net_id="network_def", meta_file=str(bundle / "configs" / "metadata.json"),
                      config_file=str(bundle / "configs" / "inference.json"), device="cpu", n=2,
                      bundle_root=str(bundle))


def load_network(bundle: Path) -> Any:
    """The bundle's network, parsed by ``monai.bundle.ConfigParser`` from its inference config, and its model config."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser["bundle_root"] = str(bundle)
    parser["device"] = "$torch.device('cpu')"
    return parser.get_parsed_content("network"), parser.get("brats_model_config")
