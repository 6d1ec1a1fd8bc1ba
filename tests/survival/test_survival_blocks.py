import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from brats_mlops.survival.features import channel_means, channel_stats, flattened, segmentation_volumes, slice_profile
from brats_mlops.survival.grids import APPENDIX_A, make_pipeline
from brats_mlops.survival.stats import bootstrap_ci, macro_f1, paired_permutation_test


def latent():
    e = np.zeros((3, 2, 3, 4))
    e[0] = 1.0
    e[1, :, :, 0] = 4.0  # mean 1, max 4
    e[2] = np.arange(24).reshape(2, 3, 4)
    return e


def test_channel_features_known_answer():
    e = latent()
    assert channel_means(e).tolist() == [1.0, 1.0, 11.5]
    st = channel_stats(e)
    assert st.shape == (9,)
    assert st[0:3].tolist() == [1.0, 0.0, 1.0] and st[3] == 1.0 and st[5] == 4.0 and st[8] == 23.0
    assert st[4] == pytest.approx(np.sqrt(3.0))  # 4 with prob 1/4, 0 else: std sqrt(16/4 - 1)
    assert flattened(e).shape == (72,)


@pytest.mark.parametrize("view, n", [("sagittal", 2), ("coronal", 3), ("axial", 4)])
def test_slice_profiles(view, n):
    e = latent()
    prof = slice_profile(e, view)
    assert prof.shape == (3 * n,)
    ax = {"sagittal": 1, "coronal": 2, "axial": 3}[view]
    assert prof[2 * n:].tolist() == pytest.approx(e[2].mean(axis=tuple(a - 1 for a in (1, 2, 3) if a != ax)).tolist())


def test_segmentation_volumes():
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[:5] = 2
    lab[:2] = 1
    lab[:1] = 3
    v = segmentation_volumes(lab, (2.0, 1.0, 1.0))
    assert v["wt_cm3"] == pytest.approx(500 * 2 / 1000) and v["tc_cm3"] == pytest.approx(0.4) and v["et_cm3"] == pytest.approx(0.2)
    assert v["et_tc"] == pytest.approx(0.5) and v["tc_wt"] == pytest.approx(0.4)
    assert segmentation_volumes(np.zeros((3, 3, 3), np.uint8), (1, 1, 1))["et_wt"] == 0.0


def test_grids_equal_appendix_a():
    grids = {k: g for k, (_, g) in APPENDIX_A.items()}
    assert grids == {
        "logistic_regression": {"C": [0.01, 0.1, 1, 10]},
        "linear_svm": {"C": [0.01, 0.1, 1, 10]},
        "rbf_svm": {"C": [0.01, 0.1, 1, 10], "gamma": ["scale", 0.001, 0.01]},
        "random_forest": {"n_estimators": [100, 200, 500], "max_depth": [None, 5, 10], "min_samples_leaf": [1, 3, 5]},
        "gradient_boosting": {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [1, 2]},
    }
    pipe, grid = make_pipeline("logistic_regression")
    assert [n for n, _ in pipe.steps] == ["scale", "clf"] and pipe.named_steps["clf"].l1_ratio == 0.0
    with pytest.raises(ValueError, match="valid models"):
        make_pipeline("xgboost")


def test_scaler_and_pca_see_training_folds_only():
    """No leakage: inside cross-validation the fitted scaler's mean is that of the training indices."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    X[:20] += 100.0  # the first 20 rows are far away: a leaked mean would show it
    y = np.array([0, 1] * 20)
    pipe, grid = make_pipeline("logistic_regression", pca=0.9)
    seen = []
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in cv.split(X, y):
        pipe.fit(X[train], y[train])
        seen.append((pipe.named_steps["scale"].mean_, X[train].mean(0), X.mean(0)))
    for fitted, train_mean, all_mean in seen:
        assert np.allclose(fitted, train_mean) and not np.allclose(fitted, all_mean)
    gs = GridSearchCV(pipe, grid, cv=cv, scoring="f1_macro").fit(X, y)
    assert gs.best_params_["clf__C"] in (0.01, 0.1, 1, 10)


def test_bootstrap_interval_known_case():
    y = np.array([0, 1] * 50)
    point, lo, hi = bootstrap_ci(y, y, n_boot=200)
    assert (point, lo, hi) == (1.0, 1.0, 1.0)  # perfect predictions: no spread
    pred = y.copy()
    pred[:20] = 1 - pred[:20]  # 80 % right
    point, lo, hi = bootstrap_ci(y, pred, metric=lambda a, b: float((a == b).mean()), n_boot=2000)
    assert point == 0.8 and lo < 0.8 < hi and hi - lo == pytest.approx(2 * 1.96 * np.sqrt(0.8 * 0.2 / 100), rel=0.2)


def test_permutation_test():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    good = y.copy()
    good[:8] = 1 - good[:8]
    bad = rng.integers(0, 2, 80)
    diff, p = paired_permutation_test(y, good, bad, n_perm=999)
    assert diff > 0.3 and p < 0.01
    diff, p = paired_permutation_test(y, good, good, n_perm=199)
    assert diff == 0 and p == 1.0
    assert macro_f1(y, y) == 1.0


def test_vectorised_metrics_equal_scikit_learn_per_resample():
    """The batch macro-F1/accuracy equal sklearn's value on every row, including rows where a class is absent
    from y_true or y_pred (sklearn averages over the labels present in either)."""
    from brats_mlops.survival.stats import MACRO_F1_SCORER, accuracy, accuracy_rows, macro_f1_rows
    from sklearn.metrics import get_scorer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    for _ in range(100):
        n, k = int(rng.integers(2, 25)), int(rng.integers(2, 5))
        yt, yp = rng.integers(0, k, (30, n)), rng.integers(0, k, (30, n))
        assert np.allclose(macro_f1_rows(yt, yp), [macro_f1(a, b) for a, b in zip(yt, yp)])
        assert np.allclose(accuracy_rows(yt, yp), [accuracy(a, b) for a, b in zip(yt, yp)])
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 3, 60)
    clf = LogisticRegression().fit(X, y)
    assert MACRO_F1_SCORER(clf, X, y) == pytest.approx(get_scorer("f1_macro")(clf, X, y))
    # the batched bootstrap draws the same resamples as one metric call per resample
    pred = rng.integers(0, 3, 60)
    assert bootstrap_ci(y, pred, n_boot=300, seed=5) == pytest.approx(
        bootstrap_ci(y, pred, metric=lambda a, b: macro_f1(a, b), n_boot=300, seed=5))
    assert paired_permutation_test(y, pred, clf.predict(X), n_perm=300) == pytest.approx(
        paired_permutation_test(y, pred, clf.predict(X), metric=lambda a, b: macro_f1(a, b), n_perm=300))
