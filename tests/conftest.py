import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("BRATS_NO_PROGRESS", "1")

from tests import builders  # noqa: E402


@pytest.fixture(scope="session")
def bad_brats2020(tmp_path_factory):
    return builders.brats2020_with_problems(tmp_path_factory.mktemp("brats2020_bad"))


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory):
    return builders.tiny_synthetic(tmp_path_factory.mktemp("synth"))


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Every test logs to its own throw-away store unless it sets one itself."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
