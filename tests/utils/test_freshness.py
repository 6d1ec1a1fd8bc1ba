"""`brats-mlops status`: dvc status of every pipeline, in words (utils/freshness.py)."""

from brats_mlops.utils.freshness import PipelineStatus, _stage_status, report


def test_a_stage_status_in_words():
    st = _stage_status("train_segmentation", [{"changed deps": {"src/brats_mlops/training/layout.py": "modified",
                                                                "params.yaml": {"segmentation.epochs": "modified"},
                                                                "data/preprocessed": "modified"}},
                                              {"changed outs": {"models/segmentation": "not in cache", "metrics/x.json": "modified"}}])
    assert st.words() == ("train_segmentation: code changed (src/brats_mlops/training/layout.py); params changed "
                          "(segmentation.epochs); inputs changed (data/preprocessed modified); outputs edited or replaced "
                          "by hand (metrics/x.json); outputs missing (models/segmentation)")


def test_stale_not_built_and_up_to_date_pipelines():
    stale = PipelineStatus("dvc.yaml", "default", [_stage_status("report", [{"changed deps": {"pipelines/report.py": "modified"}}])], 12)
    unbuilt = PipelineStatus("slices/dvc.yaml", "2-D slices",   # a fresh clone: outputs missing; the report (its page is
                             [_stage_status(f"s{i}", [{"changed outs": {f"o{i}": "deleted"}}]) for i in range(3)]   # committed)
                             + [_stage_status("report_2d", [{"changed deps": {"reports/x": "deleted"}}])], 4)
    fresh = PipelineStatus("nnunet/dvc.yaml", "nnU-Net", [], 4)
    ok, lines = report([fresh, unbuilt])
    assert ok and lines == ["  nnU-Net (nnunet/dvc.yaml): up to date with its lock file",
                            "  2-D slices (slices/dvc.yaml): not built in this checkout (`dvc repro slices/dvc.yaml`, or `dvc pull`)"]
    ok, lines = report([stale])
    assert not ok and "STALE" in lines[0] and lines[1] == "    - report: code changed (pipelines/report.py)"
