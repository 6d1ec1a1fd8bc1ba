"""``reports/slices_2d.html``: the 2-D slice systems of seeds 001/004 beside the 3-D reference — segmentation scored
in 3-D on the same held-out cases, seed 004's per-class figures, and seed 001's survival bins on the honest patient
split next to its leaky slice-level split."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from brats_mlops.reporting.html import CSS, RUNS_JS, _json, _table

LEAK_TEXT = (
    "Seed 001 split its slices 80/10/10 <i>by slice</i>: neighbouring slices of one patient sit in training and test, and "
    "they look almost alike (the same tumour a few millimetres away, the same age). A network can then recognise the "
    "patient instead of learning survival, and the test figures measure memory, not prediction. The <b>slice split</b> row "
    "is that setting on the same data and network; the <b>patient split</b> rows keep every patient's slices in one part "
    "(the test patients are cases the segmentation model never trained on). The gap between them is the leak.")


def _ci(m: dict[str, Any], k: str) -> str:
    if k not in m or m[k] is None:
        return "-"
    return f"{m[k]:.3f} [{m.get(k + '_lo', float('nan')):.3f}, {m.get(k + '_hi', float('nan')):.3f}]"


def segmentation_rows(seg3d: dict[str, Any], seg2d: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, m in (("3-D (evaluate_segmentation)", seg3d), ("2-D slices (evaluate_segmentation_2d)", seg2d)):
        if m:
            rows.append({"model": name, "cases": m.get("n_cases"), **{f"Dice {r.upper()}": m.get(f"dice_{r}") for r in ("wt", "tc", "et")},
                         "composite": m.get("dice_brats"), **{f"HD95 {r.upper()}": m.get(f"hd95_{r}") for r in ("wt", "tc", "et")},
                         **{f"lesion Dice {r.upper()}": m.get(f"lesion_dice_{r}") for r in ("wt", "tc", "et")}})
    return rows


def survival_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, key in (("patient split, predicted masks (combined pipeline)", "predicted_masks"),
                      ("patient split, ground-truth masks", "gt_masks"), ("slice split (seed 001, leaky), ground-truth masks", "slice_split_gt_masks")):
        m = s.get(key)
        if m:
            rows.append({"setting": name, "test patients": m.get("n_patients"), "slices": m.get("n_slices"),
                         "slice accuracy": _ci(m, "slice_accuracy"), "non-empty slices": _ci(m, "slice_accuracy_nonempty"),
                         "patient majority": _ci(m, "patient_majority_accuracy"), "patient macro-F1": _ci(m, "patient_majority_macro_f1"),
                         **{f"AUC bin {b}": m.get(f"auc_bin{b}") for b in range(s.get("n_bins", 3))}})
    return rows


def build_slices_page(reports: Path, metrics: Path) -> str:
    seg3d, seg2d = _json(metrics / "segmentation.json"), _json(metrics / "segmentation_2d.json")
    tr2d, surv = _json(metrics / "segmentation_2d_train.json"), _json(metrics / "survival_2d.json")

    def img(rel: str) -> str:
        return f'<img src="{html.escape(rel)}" alt="{html.escape(rel)}">' if (reports / rel).is_file() else ""

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>2-D slice systems</title><style>{CSS}</style></head><body>",
             "<h1>2-D slice systems (seeds 001 and 004) beside the 3-D reference</h1>",
             "<p>Made by <code>dvc repro slices/dvc.yaml</code>. Back to the <a href='index.html'>main report</a>.</p>",
             "<h2>1. Segmentation, scored in 3-D on the same held-out cases</h2>",
             "<p>The 2-D model's slice predictions are stacked back into each case's original geometry and scored by exactly the "
             "evaluation of the 3-D model (official BraTS 2023 metrics). <code>brats-mlops compare --group default --group "
             "slices2d</code> adds intervals and a paired test.</p>",
             _table(segmentation_rows(seg3d, seg2d)) if seg2d else "<p><i>no 2-D evaluation yet</i></p>"]
    if tr2d:
        parts.append(f"<p>2-D training: best validation composite Dice {tr2d.get('best_val_dice_composite', float('nan')):.3f} at epoch "
                     f"{tr2d.get('best_epoch')} of {tr2d.get('epochs')}; {tr2d.get('train_slices')} training slices, split by "
                     f"{html.escape(str(tr2d.get('split_mode')))}.</p>")
    if seg2d:
        parts += ["<h3>Seed 004's figures (whole volumes, background included)</h3>",
                  _table([{"label": n, "Dice": seg2d.get(f"dice_c{k}"), "IoU": seg2d.get(f"iou_c{k}")}
                          for k, n in enumerate(("0 background", "1 NCR", "2 ED", "3 ET"))]
                         + [{"label": "pixel accuracy", "Dice": seg2d.get("pixel_accuracy"), "IoU": "-"}]),
                  "<p>Background Dice and pixel accuracy are near 1 on any brain volume (most voxels are background): "
                  "they are the seed's figures, not evidence of quality; the region Dice above is.</p>",
                  img("segmentation_2d/training_curves.png"),
                  "<div class='grid'>" + "".join(img(f"segmentation_2d/overlays/{p.name}")
                                                 for p in sorted((reports / "segmentation_2d" / "overlays").glob("*.png"))) + "</div>"]
    parts.append("<h2>2. Survival bins (seed 001: ResNet50 on mask slices + age)</h2>")
    if surv.get("status") == "skipped":
        parts.append("<p class='skipped'><b>Skipped</b>: " + html.escape(str(surv.get("reason"))) + "</p>")
    elif surv:
        edges = ", ".join(f"{e:.0f}" for e in surv.get("edges_days", []))
        pts = surv.get("patients", {})
        parts += [f"<p>{surv.get('n_bins')} equal-frequency bins (edges {edges} days); patients train/val/test "
                  f"{pts.get('train')}/{pts.get('val')}/{pts.get('test')}. Accuracy with 95% bootstrap intervals over patients; "
                  "majority vote over each patient's non-empty slices.</p>",
                  _table(survival_rows(surv)), f"<p class='leak'>{LEAK_TEXT}</p>",
                  f"<p>Test patients of the slice split with slices in its training part: {surv.get('slice_split_patients_shared', '-')}.</p>",
                  "<div class='grid'>" + img("survival_2d/survival_2d_predicted_masks.png") + img("survival_2d/survival_2d_gt_masks.png")
                  + img("survival_2d/survival_2d_slice_split.png") + "</div>"]
    parts += [f'<script src="{RUNS_JS}"></script>', "</body></html>"]
    return "\n".join(parts)
