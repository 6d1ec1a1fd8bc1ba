import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("BRATS_NO_PROGRESS", "1")
os.environ.setdefault("BRATS_THREADS", "1")  # stages run as subprocesses use one thread each (2 xdist workers, 2 cores)

from tests import builders  # noqa: E402


# The long groups first, longest first, then the other slow tests: `make test` runs `pytest -n 2 --dist loadgroup
# --no-loadscope-reorder`, which hands work out in this order (xdist's default orders it by the number of tests in a
# group, which started the 14-minute `e2e` chain two thirds into the run and left one worker idle at the end).
LONG_GROUPS = ("e2e", "nnunet", "kill", "server", "e2e_real", "postgres", "e2e_tiny")


def _group(item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return None if mark is None else (mark.args[0] if mark.args else mark.kwargs.get("name"))


def pytest_collection_modifyitems(config, items):
    def rank(item):
        group = _group(item)
        if group in LONG_GROUPS:
            return LONG_GROUPS.index(group)
        return len(LONG_GROUPS) + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)  # stable: a module's tests keep their order


@pytest.fixture(scope="session")
def bad_brats2020(tmp_path_factory):
    return builders.brats2020_with_problems(tmp_path_factory.mktemp("brats2020_bad"))


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory):
    return builders.tiny_synthetic(tmp_path_factory.mktemp("synth"))


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Every test logs to its own throw-away store unless it sets one itself.

    Both the environment and MLflow's process-wide URI are set: a URI an earlier test set with
    ``mlflow.set_tracking_uri`` (e.g. a tracking server that test has stopped) must not leak into the next.
    """
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_tracking_uri(uri)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture(scope="session")
def tiny_preprocessed(tiny_synth, tmp_path_factory):
    """Preprocessed 16^3 crops of the tiny synthetic set, and a patient-level split."""
    from brats_mlops.config.schema import AutoencoderPreprocessParams, PreprocessParams
    from brats_mlops.data.preprocess_run import preprocess_dataset
    from brats_mlops.data.readers import discover
    from brats_mlops.data.splits import segmentation_split

    out = tmp_path_factory.mktemp("pre")
    idx = discover("synthetic", tiny_synth, ("t1", "t1ce", "t2", "flair"))
    cfg = PreprocessParams(crop_size=(16, 16, 16), autoencoder=AutoencoderPreprocessParams(spacing=(14.0, 14.0, 14.0), shape=(8, 8, 8)))
    plans = preprocess_dataset(idx.cases, ("t1", "t1ce", "t2", "flair"), cfg, out)
    split = segmentation_split(plans.labelled_ids(), 0.34, 0)
    return out, plans, split


TINY_SEG = {"channels": [4, 8, 8], "epochs": 3, "lr": 0.01, "lr_min": 0.001, "batch_size": 2, "grad_accum": 1,
            "num_workers": 0, "loss": {"dice": 1.0, "ce_beta": 0.5}}
