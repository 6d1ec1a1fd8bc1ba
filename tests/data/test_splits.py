import pandas as pd
import pytest

from brats_mlops.config.schema import SurvivalSplitParams
from brats_mlops.data.splits import assign_class, cohort_problem, read_clinical, segmentation_split, survival_cohort
from brats_mlops.errors import UserError


def test_segmentation_split_deterministic_and_disjoint():
    ids = [f"c{i:03d}" for i in range(50)]
    a = segmentation_split(ids, 0.2, seed=1)
    assert a == segmentation_split(list(reversed(ids)), 0.2, seed=1)
    assert a != segmentation_split(ids, 0.2, seed=2)
    assert not set(a["train"]) & set(a["val"]) and len(a["train"]) + len(a["val"]) == 50 and len(a["val"]) == 10
    assert a["test"] == []


def test_segmentation_split_with_a_held_out_test_set():
    ids = [f"c{i:03d}" for i in range(60)]
    s = segmentation_split(ids, 0.15, seed=1, test_fraction=0.15)
    assert (len(s["train"]), len(s["val"]), len(s["test"])) == (42, 9, 9)
    assert sorted(s["train"] + s["val"] + s["test"]) == ids  # every case exactly once
    tiny = segmentation_split(ids[:3], 0.15, seed=1, test_fraction=0.15)
    assert all(len(v) == 1 for v in tiny.values())


def test_segmentation_split_too_few_cases_says_how_many_are_needed():
    with pytest.raises(UserError, match="at least 2 labelled cases"):
        segmentation_split(["only"], 0.2, 0)
    with pytest.raises(UserError, match="at least 3 labelled cases.*split.test_fraction: 0"):
        segmentation_split(["a", "b"], 0.2, 0, test_fraction=0.2)


@pytest.mark.parametrize(
    "days, event, edges, expected",
    [
        (200, 1, [370], 0),
        (400, 1, [370], 1),
        (400, 0, [370], 1),  # alive at 400 days: surely long
        (361, 0, [370], None),  # alive at 361: class unknown, never counted as a death
        (310, 1, [300, 450], 1),
        (460, 0, [300, 450], 2),
        (310, 0, [300, 450], None),
    ],
)
def test_assign_class(days, event, edges, expected):
    assert assign_class(days, event, edges) == expected


def _clinical(n=40):
    return pd.DataFrame({
        "case_id": [f"c{i:03d}" for i in range(n)],
        "age": [50 + i % 20 for i in range(n)],
        "survival_days": [100 + 20 * i for i in range(n)],
        "event": [0 if i == 3 else 1 for i in range(n)],
        "resection": ["GTR" if i % 4 else "STR" for i in range(n)],
    })


def test_survival_cohort_stratified_and_censoring():
    df = _clinical()
    cohort, excluded, edges, problem = survival_cohort(df, set(df.case_id), SurvivalSplitParams(), seed=0)
    assert problem is None
    assert edges == [370.0]
    assert [e["case_id"] for e in excluded] == ["c003"]  # alive at 160 days
    assert set(cohort.subset) == {"train", "test"}
    assert not set(cohort[cohort.subset == "train"].case_id) & set(cohort[cohort.subset == "test"].case_id)
    frac = cohort.groupby("subset").label.mean()
    assert abs(frac["train"] - frac["test"]) < 0.15
    again, _, _, _ = survival_cohort(df, set(df.case_id), SurvivalSplitParams(), seed=0)
    assert again.equals(cohort)


@pytest.mark.parametrize("target, n_classes", [("challenge3", 3), ("quantile", 3)])
def test_survival_targets(target, n_classes):
    df = _clinical(60)
    cohort, _, edges, _ = survival_cohort(df, set(df.case_id), SurvivalSplitParams(target=target), seed=0)
    assert cohort.label.nunique() == n_classes and len(edges) == n_classes - 1


def test_gtr_only():
    df = _clinical()
    cohort, excluded, _, _ = survival_cohort(df, set(df.case_id), SurvivalSplitParams(gtr_only=True), seed=0)
    assert set(cohort.resection) == {"GTR"}
    assert sum("gtr_only" in e["reason"] for e in excluded) == 10


def test_no_survival_table_gives_an_empty_cohort_with_a_reason(tmp_path):
    (tmp_path / "clinical.csv").write_text("")  # what validation writes for a dataset without a survival table
    clin = read_clinical(tmp_path / "clinical.csv")
    cohort, excluded, edges, problem = survival_cohort(clin, {"a", "b"}, SurvivalSplitParams(), seed=0)
    assert len(cohort) == 0 and problem == "no case has a usable survival class"
    assert read_clinical(tmp_path / "absent.csv").columns.tolist()[:2] == ["case_id", "age"]


def test_tiny_cohort_is_unusable_with_the_reason_not_a_traceback():
    df = _clinical(5)  # 5 patients: 2 short, 3 long
    cohort, _, _, problem = survival_cohort(df, set(df.case_id), SurvivalSplitParams(), seed=0)
    assert problem is not None and "class" in problem and (cohort.subset == "").all()
    assert "5-fold" in cohort_problem([0] * 6 + [1] * 6, 0.2, 5)  # splittable, but too few per class for 5-fold CV
    assert cohort_problem([0] * 7 + [1] * 7, 0.2, 5) is None
    assert "nothing to classify" in cohort_problem([1, 1, 1], 0.2, 5)


def _cases(clin: pd.DataFrame, extra: int = 0) -> pd.DataFrame:
    """validation's cases.csv: every clinical row a passed labelled case in the survival cohort, plus cases without."""
    rows = [{"case_id": c, "role": "labelled", "verdict": "passed", "survival_cohort": True, "clinical_reasons": ""} for c in clin.case_id]
    rows += [{"case_id": f"x{i:03d}", "role": "labelled", "verdict": "passed", "survival_cohort": False,
              "clinical_reasons": "[survival] no row in survival_info.csv"} for i in range(extra)]
    return pd.DataFrame(rows)


def test_make_splits_writes_the_segmentation_split_and_the_survival_cohort(tmp_path):
    from brats_mlops.config.schema import SplitParams
    from brats_mlops.data.splits import make_splits, read_split

    clin = _clinical(40)
    cases = _cases(clin)
    s = make_splits(sorted(cases.case_id), set(cases.case_id), cases, clin, SplitParams(), "auto", 5)
    assert s.reason is None and s.info["status"] == "ok" and len(s.cohort) == 39  # c003 alive at 160 d: no class
    m = s.metrics()
    assert m["seg_train"] + m["seg_val"] + m["seg_test"] == 40 and m["survival_train"] + m["survival_test"] == 39
    s.write(tmp_path)
    assert read_split(tmp_path / "segmentation.json") == s.segmentation
    assert {p.name for p in tmp_path.iterdir()} == {"segmentation.json", "survival.csv", "survival_tte.csv", "survival.json"}


def test_make_splits_skips_an_unusable_cohort_with_the_reason_or_stops_when_required():
    from brats_mlops.config.schema import SplitParams
    from brats_mlops.data.splits import make_splits

    clin = _clinical(5)
    cases = _cases(clin, extra=30)
    s = make_splits(sorted(cases.case_id), set(cases.case_id), cases, clin, SplitParams(), "auto", 5)
    assert s.info["status"] == "skipped" and len(s.cohort) == 0 and len(s.tte) == 0
    assert "30 no row in survival_info.csv" in s.reason and s.metrics()["seg_train"] > 0
    with pytest.raises(UserError, match="survival.enabled is true"):
        make_splits(sorted(cases.case_id), set(cases.case_id), cases, clin, SplitParams(), True, 5)
    off = make_splits(sorted(cases.case_id), set(cases.case_id), cases, clin, SplitParams(), False, 5)
    assert off.reason == "survival.enabled: false"
