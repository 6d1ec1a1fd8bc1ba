"""The embedded data's documented known answer: the generator's hazard model makes tumour volumes (and enhancing
fraction) carry more survival information than age, so segmentation volumes must beat age alone."""

import numpy as np
import pandas as pd

from brats_mlops.config.schema import SurvivalSplitParams
from brats_mlops.data.clinical import read_clinical_table
from brats_mlops.data.io import load_image
from brats_mlops.data.preprocessing import remap_labels
from brats_mlops.data.readers import discover
from brats_mlops.data.splits import survival_cohort
from brats_mlops.survival.experiment import feature_matrix, run_feature_set
from brats_mlops.survival.features import segmentation_volumes
from tests import builders


def test_volumes_of_the_true_masks_beat_age_on_the_synthetic_cohort(tmp_path):
    root = builders.tiny_synthetic(tmp_path / "syn", n_train=80, n_validation=0, seed=2020)
    idx = discover("synthetic", root, ("t1ce",))
    records, _ = read_clinical_table(root / "MICCAI_BraTS2020_TrainingData" / "survival_info.csv")
    clinical = pd.DataFrame([{"case_id": r.case_id, "age": r.age, "survival_days": r.survival_days, "event": r.event,
                              "resection": r.resection} for r in records])
    cohort, _, _, problem = survival_cohort(clinical, set(clinical.case_id), SurvivalSplitParams(), seed=0, cv_folds=5)
    assert problem is None
    rows = []
    for case in idx.cases:
        seg, _, spacing = load_image(case.seg, dtype=None)
        rows.append({"case_id": case.case_id, **segmentation_volumes(remap_labels(seg, case.label_map), spacing)})
    seg_df = pd.DataFrame(rows)
    train, test = cohort[cohort.subset == "train"], cohort[cohort.subset == "test"]
    kw = dict(models=["logistic_regression", "random_forest"], grid="fast", folds=5, repeats=3, pca=None, n_boot=200, seed=0, n_jobs=1)
    res = {}
    for name, with_age in (("age_only", False), ("segmentation_volumes", False)):
        X = {k: feature_matrix(name, with_age, d, seg_df, None) for k, d in (("all", cohort), ("tr", train), ("te", test))}
        res[name] = run_feature_set(name, with_age, X["tr"], train.label.to_numpy(), X["te"], test.label.to_numpy(),
                                    X["all"], cohort.label.to_numpy(), **kw)
    vol, age = res["segmentation_volumes"].repeated_cv_macro_f1[0], res["age_only"].repeated_cv_macro_f1[0]
    assert vol > age and vol > 0.6, (vol, age)
    assert np.isfinite(vol) and np.isfinite(age)
