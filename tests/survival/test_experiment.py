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


def test_latent_feature_sets_have_the_paper_shapes():
    from brats_mlops.survival.experiment import LATENT_FEATURES, pca_setting

    rng = np.random.default_rng(0)
    lat = {f"c{i}": rng.normal(size=(3, 6, 5, 4)) for i in range(4)}
    cohort = pd.DataFrame({"case_id": list(lat), "age": [50.0, 60.0, 70.0, 80.0]})
    dims = {"f0": 1, "f1": 1, "f2": 1, "channel_means": 3, "channel_stats": 9, "sagittal_profile": 18, "coronal_profile": 15,
            "axial_profile": 12, "flattened_latent": 360}
    assert set(dims) == set(LATENT_FEATURES)
    for name, d in dims.items():
        X = feature_matrix(name, False, cohort, None, None, lat)
        assert X.shape == (4, d), name
        Xa = feature_matrix(name, True, cohort, None, None, lat)
        assert Xa.shape == (4, d + 1) and np.array_equal(Xa[:, -1], cohort.age.to_numpy())
    assert feature_matrix("f1", False, cohort, None, None, lat)[0, 0] == pytest.approx(lat["c0"][1].mean())
    assert pca_setting("coronal_profile", 10, 10, 0.9) == 0.9 and pca_setting("flattened_latent", 7, 10, 0.9) == 10
    assert pca_setting("channel_stats", 10, 10, 0.9) is None
    with pytest.raises(KeyError, match="latents"):
        feature_matrix("f0", False, cohort, None, None, None)


def test_pca_reduces_imaging_columns_only_and_keeps_age():
    from brats_mlops.survival.grids import make_pipeline

    rng = np.random.default_rng(1)
    X = np.hstack([rng.normal(size=(30, 20)), rng.uniform(20, 80, size=(30, 1))])
    y = np.array([0, 1] * 15)
    pipe, _ = make_pipeline("logistic_regression", pca=3, pca_columns=20)
    pipe.fit(X, y)
    ct = pipe.named_steps["features"]
    assert ct.transform(X).shape == (30, 4)  # 3 components + age
    assert ct.named_transformers_["pca"].named_steps["pca"].n_features_in_ == 20
    # age goes through scaled, not mixed into the components
    age_out = ct.transform(X)[:, -1]
    assert np.allclose(age_out, (X[:, -1] - X[:, -1].mean()) / X[:, -1].std())
