import numpy as np
import pandas as pd
import pytest

from brats_mlops.data.splits import time_to_event_cohort
from brats_mlops.survival.time_to_event import c_index, evaluate_tte, survival_target


def test_censored_entries_are_not_counted_as_deaths():
    y = survival_target(np.array([100.0, 200.0, 300.0]), np.array([1, 0, 1]))
    assert y["event"].tolist() == [True, False, True] and y["time"].tolist() == [100, 200, 300]
    with pytest.raises(ValueError, match="missing"):
        survival_target(np.array([1.0]), np.array([np.nan]))


def test_c_index_respects_censoring():
    # patient 1 is censored at 50 d: it is comparable with nobody who died later, so ordering it wrongly costs nothing
    y = survival_target(np.array([50.0, 100.0, 200.0, 300.0]), np.array([0, 1, 1, 1]))
    perfect = np.array([0.0, 3.0, 2.0, 1.0])  # higher risk = earlier death among the deaths
    assert c_index(y, perfect) == 1.0
    # if the censored patient counted as a death at 50 d, this risk order would lose pairs
    y_wrong = survival_target(np.array([50.0, 100.0, 200.0, 300.0]), np.array([1, 1, 1, 1]))
    assert c_index(y_wrong, perfect) < 1.0


def test_cox_and_rsf_find_a_prognostic_feature():
    rng = np.random.default_rng(0)
    n = 80
    x = rng.normal(size=(n, 3))
    t = rng.exponential(300 * np.exp(-1.0 * x[:, 0]))
    c = rng.exponential(900, size=n)
    days, event = np.minimum(t, c), (t <= c).astype(int)
    test = np.zeros(n, bool)
    test[:16] = True
    for model in ("cox", "rsf"):
        r = evaluate_tte(model, x, days, event, test, seed=0, folds=4, repeats=2)
        assert r.cv_c_index > 0.65, (model, r)
        noise = evaluate_tte(model, rng.normal(size=(n, 3)), days, event, test, seed=0, folds=4, repeats=2)
        assert noise.cv_c_index < r.cv_c_index
        assert r.n_events == int(event.sum())


def test_time_to_event_cohort_keeps_censored_patients():
    clinical = pd.DataFrame({"case_id": ["a", "b", "c", "d"], "age": [50, 60, 70, 40], "survival_days": [100, 200, np.nan, 500],
                             "event": [1, 0, np.nan, 1], "resection": ["GTR", "", "GTR", "STR"]})
    cohort = pd.DataFrame({"case_id": ["a", "d"], "subset": ["test", "train"]})
    df = time_to_event_cohort(clinical, {"a", "b", "c", "d"}, cohort)
    assert df.case_id.tolist() == ["a", "b", "d"]  # c has no survival time
    assert df.set_index("case_id").loc["b", "event"] == 0 and df.set_index("case_id").loc["a", "subset"] == "test"
    assert time_to_event_cohort(clinical, {"a", "b", "d"}, cohort, gtr_only=True).case_id.tolist() == ["a"]
