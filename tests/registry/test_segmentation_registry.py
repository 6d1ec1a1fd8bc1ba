import mlflow
import nibabel as nib
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from brats_mlops.config.schema import parse_params
from brats_mlops.data.readers import DatasetLayoutError
from brats_mlops.names import MODEL_SEGMENTATION, TAG_GIT_COMMIT
from brats_mlops.registry.segmentation import log_and_register
from brats_mlops.training.segmentation import SegmentationTrainer
from tests import builders
from tests.conftest import TINY_SEG


@pytest.fixture
def registered(tiny_preprocessed, tmp_path):
    out, plans, split = tiny_preprocessed
    cfg = parse_params({"segmentation": {**TINY_SEG, "epochs": 1}, "preprocess": {"crop_size": [16, 16, 16]}}).segmentation
    t = SegmentationTrainer(cfg, out, split, plans.num_classes, plans.modalities, plans.crop_size, False, tmp_path / "ck", seed=0)
    t.fit()
    with mlflow.start_run():
        uri, version = log_and_register(tmp_path / "ck" / "best.pt", {"dice_brats": 0.5}, {TAG_GIT_COMMIT: "abc"})
    return version


def test_loads_by_alias_and_predicts_another_size(registered):
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_SEGMENTATION}@challenger")
    x = np.random.default_rng(0).random((4, 27, 21, 19)).astype(np.float32)  # not the training crop, not divisible
    x[:, :3] = 0
    y = model.predict(x)
    assert y.shape == (27, 21, 19) and set(np.unique(y)) <= {0, 1, 2, 4}
    mv = MlflowClient().get_model_version(MODEL_SEGMENTATION, registered)
    assert mv.tags[TAG_GIT_COMMIT] == "abc" and mv.tags["metric.dice_brats"] == "0.5"
    assert str(MlflowClient().get_model_version_by_alias(MODEL_SEGMENTATION, "challenger").version) == registered


def test_predicts_case_folders_in_both_namings(registered, tmp_path):
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_SEGMENTATION}@challenger")
    root20 = builders.tiny_synthetic(tmp_path / "b20", n_train=2, n_validation=0)
    case20 = next((root20 / "MICCAI_BraTS2020_TrainingData").glob("BraTS20_*"))
    y20 = model.predict(str(case20))
    assert y20.shape == nib.load(str(next(case20.glob("*_t1.nii.gz")))).shape and set(np.unique(y20)) <= {0, 1, 2, 4}
    root23 = builders.brats2023_tiny(tmp_path / "b23", n=2, with_validation=False)
    case23 = next(root23.rglob("BraTS-GLI-*-000"))
    y23 = model.predict(str(case23))
    assert set(np.unique(y23)) <= {0, 1, 2, 3}
    (case23 / f"{case23.name}-t2f.nii.gz").unlink()
    with pytest.raises(DatasetLayoutError, match="t2f"):
        model.predict(str(case23))
