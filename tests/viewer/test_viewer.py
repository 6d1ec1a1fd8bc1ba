"""The viewer: its logic without a browser, the Streamlit app with AppTest, and the served app in headless Chromium."""

import gzip
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from brats_mlops.errors import UserError
from brats_mlops.viewer import logic

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "src" / "brats_mlops" / "viewer" / "app.py"
ARTIFACTS = ROOT / "test-artifacts" / "viewer"


def _case_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.endswith((".nii", ".nii.gz"))}


def _first_case(tiny_synth) -> Path:
    return sorted((tiny_synth / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_Training_*"))[0]


def test_uploads_become_a_case_and_bad_uploads_one_clear_message(tiny_synth):
    files = _case_files(_first_case(tiny_synth))
    seen = []
    case, extra = logic.read_uploaded(files, lambda d: seen.append(d) or "ran")
    assert case.images.shape[0] == 4 and case.gt is not None and extra == "ran"
    assert not seen[0].exists()  # the temporary copy is gone
    with pytest.raises(UserError, match="not NIfTI"):
        logic.read_uploaded({**files, "notes.txt": b"x"})
    with pytest.raises(UserError, match="missing modality"):
        logic.read_uploaded({k: v for k, v in files.items() if "_t2." not in k})
    with pytest.raises(UserError, match="cannot tell the modality"):
        logic.read_uploaded({**files, "scan.nii.gz": next(iter(files.values()))})
    broken = {k: (b"not an image" if "_flair" in k else v) for k, v in files.items()}
    with pytest.raises(UserError, match="not a readable NIfTI"):
        logic.read_uploaded(broken)
    flair = next(k for k in files if "_flair" in k)
    small = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4))
    with pytest.raises(UserError, match="different shapes"):
        logic.read_uploaded({**files, flair: gzip.compress(small.to_bytes())})


def test_overlay_error_map_volumes_and_download_in_the_input_convention(tiny_synth):
    case = logic.read_case(_first_case(tiny_synth))
    img = np.full((4, 4), 5.0)
    lab = np.zeros((4, 4), np.uint8)
    lab[0, 0], lab[1, 1] = 1, 3
    rgb = logic.overlay(img, lab, {3})
    assert rgb.shape == (4, 4, 3) and tuple(rgb[0, 0]) == tuple(rgb[2, 2]) and tuple(rgb[1, 1]) != tuple(rgb[2, 2])
    pred, gt = np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)
    pred[0, :2], gt[0, 1:3] = 2, 2
    err = logic.error_map(img, pred, gt)
    assert tuple(err[0, 0]) == (255, 40, 40) and tuple(err[0, 1]) == (255, 255, 255) and tuple(err[0, 2]) == (40, 120, 255)
    vols = logic.volumes_cm3(case.gt, case.spacing)
    assert vols["WT"] >= vols["TC"] >= vols["ET"] > 0
    back = nib.Nifti1Image.from_bytes(gzip.decompress(logic.nifti_bytes(case.gt, case)))
    raw = nib.load(str(next(_first_case(tiny_synth).glob("*_seg.nii*")))).get_fdata()
    assert np.array_equal(np.asarray(back.dataobj), raw) and np.allclose(back.affine, case.affine)  # labels 0/1/2/4 again


@pytest.fixture
def viewer_project(tiny_synth, tiny_preprocessed, tmp_path):
    """A project folder whose data is the tiny synthetic set and whose store holds two registered versions."""
    import mlflow

    from brats_mlops.config.schema import parse_params
    from brats_mlops.registry.segmentation import log_and_register
    from brats_mlops.training.segmentation import SegmentationTrainer
    from tests.conftest import TINY_SEG

    out, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 1}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    for seed in (0, 1):
        t = SegmentationTrainer(cfg, out, split, plans.num_classes, plans.modalities, plans.crop_size, False, tmp_path / f"ck{seed}", seed)
        t.fit()
        with mlflow.start_run():
            log_and_register(t.ckdir / "best.pt", {"dice_brats": 0.5}, {})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": {"source": "synthetic", "root": str(tiny_synth)},
                                                         "tracking": {"uri": os.environ["MLFLOW_TRACKING_URI"]}}))
    return tmp_path


def test_app_shows_overlays_ground_truth_error_map_metrics_and_two_versions(viewer_project, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.chdir(viewer_project)
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    captions = [c for img in at.get("image") for c in (img.proto.imgs[i].caption for i in range(len(img.proto.imgs)))]
    assert "ground truth" in captions and any("error map" in c for c in captions)
    assert any(c.startswith("prediction: models:/brats-segmentation@challenger") for c in captions)
    table = at.table[0].value
    assert {"dice_wt", "hd95_et", "WT cm³"} <= set(table.columns) and len(table) == 1
    at.sidebar.checkbox(key="compare").check().run()
    at.sidebar.selectbox(key="b_ref").set_value("v1").run()
    table = at.table[0].value
    assert list(table.index) == ["models:/brats-segmentation@challenger", "models:/brats-segmentation/1"]
    assert len(at.get("download_button")) == 2


@pytest.mark.slow
@pytest.mark.xdist_group("server")
def test_viewer_in_headless_chromium_shows_the_overlay_and_the_metrics(viewer_project):
    from brats_mlops.viewer.serve import command, environment
    from tests.mlflow_server.conftest import free_port
    from tests.viewer.cdp import render

    port = free_port()
    proc = subprocess.Popen(command(port), cwd=viewer_project, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        text, n_img = render(f"http://127.0.0.1:{port}/?compare=1", ARTIFACTS / "viewer.png",
                             ["metrics", "dice_wt", "ground truth", "models:/brats-segmentation/1"])
        assert "metrics" in text and "dice_wt" in text and "error map" in text, text[-2000:]
        # two versions side by side: the @challenger (version 2) and version 1, each with its overlay and metrics row
        assert text.count("prediction: models:/brats-segmentation") == 2, text[-2000:]
        assert n_img >= 8  # four modalities, two predictions, the ground truth, the error map
        assert (ARTIFACTS / "viewer.png").stat().st_size > 10_000
    finally:
        proc.terminate()
        proc.wait(timeout=20)

