import json

import numpy as np
import pandas as pd

from brats_mlops.analysis.compare import render_markdown
from brats_mlops.reporting.html import build_index


def _ablation_frame() -> pd.DataFrame:
    rows = []
    for i, (run, best) in enumerate([("a", True), ("b", False)]):
        r = {"run": run, "run_id": f"{i}" * 32, "cases": 9, "best": best, "p_vs_best_dice_brats": np.nan if best else 0.0391,
             "segmentation.loss.ce_beta": 0.5 * i}
        for m in ("dice_wt", "dice_tc", "dice_et", "dice_brats", "hd95_wt", "hd95_tc", "hd95_et"):
            r |= {m: 0.8 - 0.1 * i, f"{m}_lo": 0.7 - 0.1 * i, f"{m}_hi": 0.9 - 0.1 * i}
        rows.append(r)
    return pd.DataFrame(rows)


def test_report_renders_every_result_as_html_tables(tmp_path):
    metrics, reports = tmp_path / "metrics", tmp_path / "reports"
    metrics.mkdir(), reports.mkdir()
    (metrics / "survival.json").write_text(json.dumps({
        "known_answer": {"segmentation_volumes_beat_age_only_repeated_cv": True, "segmentation_volumes_repeated_cv_macro_f1": 0.77,
                         "age_only_repeated_cv_macro_f1": 0.44, "best_imaging_feature_set": "segmentation_volumes + age",
                         "best_imaging_repeated_cv_macro_f1": 0.78, "chance_macro_f1": 0.5, "best_imaging_beats_chance_by_0_1": True},
        "registered": {"feature_set": "segmentation_volumes", "model": "svm"}}))
    page = build_index(tmp_path, reports, metrics, {})
    assert "<pre>" not in page and "{'" not in page and '{"' not in page and "|---" not in page
    assert "0.770 vs 0.440" in page and "segmentation volumes beat age alone" in page
    assert "brats-survival@challenger" in page and "svm" in page
    assert "brats-mlops compare --group" in page  # history across runs lives there, not on this committed page


def test_the_report_is_a_function_of_its_declared_inputs_only(tmp_path, monkeypatch):
    """The report stage reads no tracking store: the same metrics/ and reports/ give the same page, whatever runs the
    local store holds (the committed reports/index.html must reproduce on a fresh clone)."""
    metrics, reports = tmp_path / "metrics", tmp_path / "reports"
    metrics.mkdir(), reports.mkdir()
    (metrics / "segmentation.json").write_text(json.dumps({"dice_wt": 0.8, "n_cases": 6, "dice_brats": 0.7}))
    first = build_index(tmp_path, reports, metrics, {"validate": "a" * 32})
    again = build_index(tmp_path, reports, metrics, {"validate": "b" * 32, "survival": "c" * 32})  # other runs, other store
    assert first == again and "a" * 32 not in first


def test_markdown_and_report_share_the_ablation_rows():
    df = _ablation_frame()
    md = render_markdown(df, "table5")
    assert "| **a** |" in md and "**0.800 [0.700, 0.900]**" in md and "| b |" in md and "0.0391" in md
    assert md.count("\n| ") == 3  # header + two runs
