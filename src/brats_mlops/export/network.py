"""TorchScript and ONNX exports of a platform network, with what it needs around it.

An exported network alone is not a segmenter (nnU-Net issues #1730, #2954): the export folder also holds
``preprocessing.json`` — the inputs (modalities, channel order), the normalisation (brain mask = non-zero in any
modality; optional Gaussian smoothing and percentile clip; z-score over the mask), the sliding window (ROI size,
overlap, Gaussian blend) or slice-wise prediction, how logits become internal labels (softmax/argmax or sigmoid per
region with thresholds), and the table from internal labels to each edition's raw labels. Both exports keep the
spatial axes dynamic. Each is checked here against the PyTorch network it came from: the same labels on a case
through the platform's own pre/post-processing, and the largest absolute logit difference on one window.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brats_mlops.data.case import inverse_label_map
from brats_mlops.data.editions import EDITIONS
from brats_mlops.data.labels import get_scheme
from brats_mlops.families import family_of

ONNX_OPSET = 17
ONNX_LOGIT_TOLERANCE = 1e-3  # largest |ONNX Runtime − PyTorch| logit difference accepted on the check window


def preprocessing(mc: dict[str, Any]) -> dict[str, Any]:
    """Everything between a case's NIfTI files and the network's input, and between its output and labels."""
    fam = family_of(mc)
    scheme = get_scheme(mc.get("label_scheme", "glioma"))
    conventions = {}
    for e in EDITIONS.values():
        if e.trainable and e.scheme.name == scheme.name:
            conventions[e.name] = {str(i): int(r) for i, r in sorted(_inverse(e.name).items())}
    return {
        "family": fam.key, "network": mc.get("model"), "spatial_dims": fam.spatial_dims,
        "input": {"modalities": list(mc["modalities"]), "layout": "(N, C, X, Y, Z)" if fam.spatial_dims == 3 else "(N, C, X, Y)",
                  "dtype": "float32"},
        "normalisation": {"brain_mask": "voxels non-zero in any modality",
                          "gaussian_sigma_voxels": mc.get("gaussian_sigma", 0.0),
                          "percentile_clip": mc.get("percentile_clip"), "then": "z-score over the brain mask per channel; 0 outside",
                          **({"per_slice": mc.get("normalisation")} if fam.spatial_dims == 2 else {})},
        "inference": ({"sliding_window": {"roi_size": list(mc["roi_size"]), "overlap": mc.get("sw_overlap", 0.5),
                                          "blend": "gaussian", "over": "the brain's bounding box + 4 voxels"}}
                      if fam.spatial_dims == 3 else
                      {"slices": {"crop_mode": mc.get("crop_mode"), "crop_size": list(mc.get("crop_size", [])),
                                  "resize_to": mc.get("size"), "axis": "z (axial)"}}),
        "output": {"mode": mc.get("mode", "label"), "channels": mc["out_channels"],
                   "to_labels": ("argmax over channels" + ("; the last channel (healthy tissue) becomes 0" if mc.get("healthy_label") else "")
                                 if mc.get("mode", "label") == "label" else
                                 f"sigmoid per region {list(scheme.regions)}, thresholds {list(mc.get('region_thresholds', []))}, "
                                 "painted largest region first"),
                   "internal_labels": {str(k): v for k, v in scheme.labels.items()},
                   "postprocess_min_voxels": mc.get("postprocess_min_voxels")},
        "label_conventions": conventions,  # internal label → raw label of each edition this scheme serves
    }


def _inverse(edition: str) -> dict[int, int]:
    return inverse_label_map(edition)


def example_input(mc: dict[str, Any]) -> torch.Tensor:
    """A deterministic input of the network's trained size (what tracing and the logit check use)."""
    g = torch.Generator().manual_seed(0)
    size = mc["roi_size"] if family_of(mc).spatial_dims == 3 else [mc.get("size") or mc["crop_size"][0]] * 2
    return torch.randn(1, mc["in_channels"], *size, generator=g)


def to_torchscript(net: torch.nn.Module, mc: dict[str, Any], out: Path) -> Path:
    """Trace ``net`` (eval mode, the trained input size; the traced graph holds no size, so any size divisible like
    the training crop works) to ``out``."""
    net = net.eval()
    with torch.no_grad():
        ts = torch.jit.trace(net, example_input(mc), check_trace=False)
    ts.save(str(out))
    return out


def to_onnx(net: torch.nn.Module, mc: dict[str, Any], out: Path) -> Path:
    """ONNX (opset 17, the TorchScript-based exporter) with dynamic batch and spatial axes."""
    axes = {0: "batch", **{i + 2: n for i, n in enumerate("xyz"[: family_of(mc).spatial_dims])}}
    with torch.no_grad():
        torch.onnx.export(net.eval(), (example_input(mc),), str(out), dynamo=False, input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": axes, "logits": axes}, opset_version=ONNX_OPSET)
    return out


class OnnxNetwork:
    """An ONNX Runtime session that behaves like the network for the platform's predictors (tensor in, tensor out)."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def eval(self) -> "OnnxNetwork":
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"image": x.detach().cpu().numpy().astype(np.float32)})[0])


def load_exported(path: Path) -> Any:
    """A TorchScript (``.pt``) or ONNX (``.onnx``) export as a callable network."""
    return OnnxNetwork(path) if path.suffix == ".onnx" else torch.jit.load(str(path)).eval()


def check(net: torch.nn.Module, exported: Any, mc: dict[str, Any], images: np.ndarray) -> dict[str, Any]:
    """The exported network against the PyTorch one: largest absolute logit difference on the example window, and
    the labels of ``images`` (a whole case) through the family's own prediction with each."""
    x = example_input(mc)
    with torch.no_grad():
        diff = float((exported(x).float() - net.eval()(x).float()).abs().max())
    fam = family_of(mc)
    ref = fam.predict_labels([net], images, mc, tta="none")
    got = fam.predict_labels([exported], images, mc, tta="none")
    return {"max_abs_logit_diff": diff, "labels_identical": bool(np.array_equal(ref, got)),
            "voxels_differing": int(np.count_nonzero(ref != got)), "voxels": int(ref.size)}


def write_preprocessing(mc: dict[str, Any], out: Path) -> Path:
    out.write_text(json.dumps(preprocessing(mc), indent=1) + "\n")
    return out
