import numpy as np
import pandas as pd
import pytest

from brats_mlops.survival.experiment import feature_matrix, render_table, results_table, run_feature_set


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    informative = y[:, None] * 2.0 + rng.normal(size=(n, 2))
    noise = rng.normal(size=(n, 3))
    return np.hstack([informative, noise]), y, rng.normal(size=(n, 1))


def test_informative_features_beat_noise_known_answer():
    X, y, noise = _data()
    tr, te = np.arange(0, 44), np.arange(44, 60)
    kw = dict(models=["logistic_regression", "random_forest"], grid="fast", folds=5, repeats=2, pca=None, n_boot=200, seed=0, n_jobs=1)
    good = run_feature_set("signal", False, X[tr], y[tr], X[te], y[te], X, y, **kw)
    bad = run_feature_set("noise", False, noise[tr], y[tr], noise[te], y[te], noise, y, **kw)
    assert good.repeated_cv_macro_f1[0] > 0.8 > 0.65 > bad.repeated_cv_macro_f1[0]
    assert good.test["macro_f1_lo"] <= good.test["macro_f1"] <= good.test["macro_f1_hi"]
    assert set(good.per_model_cv) == {"logistic_regression", "random_forest"}
    df = results_table([good, bad], [0, 1])
    md = render_table(df, [0, 1], ("signal", "no"), 16, 44)
    assert "**" in md and "noise" in md and "[" in md


def test_too_few_patients_per_class_is_a_clear_error():
    X, y, _ = _data(8)
    with pytest.raises(ValueError, match="per class"):
        run_feature_set("s", False, X[:6], y[:6], X[6:], y[6:], X, y, ["linear_svm"], "fast", 5, 1, None, 100, 0, 1)


def test_feature_matrix_adds_age_and_names_missing_cases():
    cohort = pd.DataFrame({"case_id": ["a", "b"], "age": [50.0, 60.0]})
    seg = pd.DataFrame({"case_id": ["a", "b"], "wt_cm3": [1, 2], "tc_cm3": [1, 1], "et_cm3": [0, 1], "tc_wt": [1, .5], "et_wt": [0, .5], "et_tc": [0, 1]})
    X = feature_matrix("segmentation_volumes", True, cohort, seg, None)
    assert X.shape == (2, 7) and X[1, -1] == 60.0
    assert feature_matrix("age_only", False, cohort, None, None).tolist() == [[50.0], [60.0]]
    with pytest.raises(KeyError, match="'b'"):
        feature_matrix("bottleneck", False, cohort, None, {"a": np.zeros(3)})
