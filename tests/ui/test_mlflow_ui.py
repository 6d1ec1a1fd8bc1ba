"""The MLflow UI in a real browser: headless Debian Chromium against a server holding a tiny tracked pipeline.

Screenshots go to ``test-artifacts/ui/`` (git-ignored) so a failing run can be inspected.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from brats_mlops.config.schema import parse_params
from brats_mlops.names import EXPERIMENTS, MODEL_SEGMENTATION, STAGE_TRAIN_SEG
from brats_mlops.registry.promotion import promote
from brats_mlops.registry.segmentation import log_and_register
from brats_mlops.tracking import UI_VIEW, stage_run, ui_url
from brats_mlops.tracking.runs import MlflowEpochTracker
from brats_mlops.training.segmentation import SegmentationTrainer
from brats_mlops.utils.hashing import content_hash
from mlflow_server.server import start, stop
from tests.conftest import TINY_SEG
from tests.mlflow_server.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("server")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
VALID = {"brats.data_validation": "passed (8 of 8 cases; 0 quarantined and excluded; source synthetic)"}


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("Chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
    return exe


def browse(url: str, shot: Path) -> str:
    """Render ``url`` in headless Chromium: save a screenshot, return the DOM after the page's scripts ran."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            "--window-size=1400,1000", "--virtual-time-budget=20000"]
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as prof:
        subprocess.run(base + [f"--user-data-dir={prof}", f"--screenshot={shot}", url], capture_output=True, timeout=120)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as prof:
        r = subprocess.run(base + [f"--user-data-dir={prof}", "--dump-dom", url], capture_output=True, text=True, timeout=120)
    shot.with_suffix(".html").write_text(r.stdout)
    return r.stdout


def test_ui_tells_the_story_datasets_descriptions_cards_and_champion(tiny_preprocessed, tmp_path, monkeypatch):
    """Issue 27, as a user sees it in the model-training view: the runs table's Dataset column names the data a stage
    read with its DVC hash, the experiment and the run carry descriptions with their figures, the model version's page
    shows its model card with the promotion gates' outcome, and the champion alias."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    st = start(free_port(), f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    try:
        url = st["url"]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        # a tiny tracked pipeline: a training stage that read the preprocessed data, a registered model promoted
        out, plans, split = tiny_preprocessed
        params = parse_params({"segmentation": {**TINY_SEG, "epochs": 2}, "preprocess": {"crop_size": [16, 16, 16]}})
        t = SegmentationTrainer(params.segmentation, out, split, plans.num_classes, plans.modalities, plans.crop_size, False,
                                tmp_path / "ck", seed=0)
        with stage_run(STAGE_TRAIN_SEG, params, ["segmentation"], deps=[out]) as run:
            t.fit(MlflowEpochTracker(run.run_id))
            _, version = log_and_register(tmp_path / "ck" / "best.pt", {"dice_wt": 0.5, "dice_tc": 0.4, "dice_et": 0.3, "dice_brats": 0.4}, VALID)
        promote(MODEL_SEGMENTATION, version, root=tmp_path)
        exp_id = MlflowClient().get_experiment_by_name(EXPERIMENTS["segmentation"]).experiment_id
        digest = content_hash(out)

        dom = browse(ui_url(url, exp_id), ARTIFACTS / "runs.png")   # what `brats-mlops server start` prints
        assert "Welcome to MLflow" not in dom and "Tumour segmentation" in dom, dom[-2000:]   # model-training view, described
        assert f"{out.name} ({digest[:8]}" in dom.replace("\u200b", ""), dom[-3000:]           # Dataset column: name (digest)
        dom = browse(f"{url}/#/experiments/{exp_id}/runs/{run.run_id}?{UI_VIEW}", ARTIFACTS / "run.png")
        assert STAGE_TRAIN_SEG in dom and "val_dice_composite" in dom, dom[-2000:]
        assert "DVC stage" in dom and "key figure" in dom and "Datasets" in dom, dom[-3000:]   # its description, its data
        dom = browse(f"{url}/#/models/{MODEL_SEGMENTATION}/versions/{version}?{UI_VIEW}", ARTIFACTS / "version.png")
        assert "Promotion gates" in dom and "passed — better: no current champion" in dom, dom[-3000:]   # its card
        assert "DVC hash of the data" in dom and "95% interval" in dom, dom[-3000:]
        assert "synthetic" in dom and "dice_brats" in dom
        assert MODEL_SEGMENTATION in dom and "@&nbsp;champion" in dom, dom[-2000:]  # the alias tag, not history text
        for name in ("runs", "run", "version"):
            assert (ARTIFACTS / f"{name}.png").stat().st_size > 20_000, name
    finally:
        stop(tmp_path)
