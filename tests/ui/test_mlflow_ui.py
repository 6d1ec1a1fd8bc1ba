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
from brats_mlops.tracking import MlflowEpochTracker, stage_run
from brats_mlops.training.segmentation import SegmentationTrainer
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


def test_ui_shows_experiments_run_metrics_and_champion(tiny_preprocessed, tmp_path, monkeypatch):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    st = start(free_port(), f"sqlite:///{tmp_path / 'mlflow.db'}", root=tmp_path)
    try:
        url = st["url"]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        # a tiny tracked pipeline: a training stage with per-epoch metrics, a registered model promoted to champion
        out, plans, split = tiny_preprocessed
        params = parse_params({"segmentation": {**TINY_SEG, "epochs": 2}, "preprocess": {"crop_size": [16, 16, 16]}})
        t = SegmentationTrainer(params.segmentation, out, split, plans.num_classes, plans.modalities, plans.crop_size, False,
                                tmp_path / "ck", seed=0)
        with stage_run(STAGE_TRAIN_SEG, params, ["segmentation"]) as run:
            t.fit(MlflowEpochTracker(run.run_id))
            _, version = log_and_register(tmp_path / "ck" / "best.pt", {"dice_wt": 0.5, "dice_tc": 0.4, "dice_et": 0.3, "dice_brats": 0.4}, VALID)
        promote(MODEL_SEGMENTATION, version, root=tmp_path)
        exp_id = MlflowClient().get_experiment_by_name(EXPERIMENTS["segmentation"]).experiment_id

        dom = browse(f"{url}/#/experiments", ARTIFACTS / "experiments.png")
        assert EXPERIMENTS["segmentation"] in dom, dom[-2000:]
        dom = browse(f"{url}/#/experiments/{exp_id}/runs/{run.run_id}", ARTIFACTS / "run.png")
        assert STAGE_TRAIN_SEG in dom and "val_dice_composite" in dom, dom[-2000:]
        dom = browse(f"{url}/#/models/{MODEL_SEGMENTATION}", ARTIFACTS / "model.png")
        assert MODEL_SEGMENTATION in dom and "@&nbsp;champion" in dom, dom[-2000:]  # the alias tag, not history text
        for name in ("experiments", "run", "model"):
            assert (ARTIFACTS / f"{name}.png").stat().st_size > 20_000, name
    finally:
        stop(tmp_path)
