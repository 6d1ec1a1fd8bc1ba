import pytest

from brats_mlops.data.clinical import parse_age, parse_survival, read_clinical_table
from tests.builders import write_csv


@pytest.mark.parametrize(
    "raw, days, event, problem",
    [
        ("289", 289.0, 1, None),
        ("289.0", 289.0, 1, None),
        ("ALIVE (361 days later)", 361.0, 0, None),  # censored, not a death
        ("  alive (12 days later) ", 12.0, 0, None),
        ("", None, None, "empty"),
        (None, None, None, "empty"),
        ("unknown", None, None, "neither a number"),
        ("-5", None, None, "negative"),
    ],
)
def test_parse_survival(raw, days, event, problem):
    d, e, p = parse_survival(raw)
    assert (d, e) == (days, event)
    assert (p is None) if problem is None else (problem in p)


@pytest.mark.parametrize("raw, age, problem", [("60.5", 60.5, None), ("", None, "empty"), ("sixty", None, "not a number")])
def test_parse_age(raw, age, problem):
    a, p = parse_age(raw)
    assert a == age
    assert (p is None) if problem is None else (problem in p)


def test_table_duplicates_and_censoring(tmp_path):
    path = tmp_path / "survival_info.csv"
    write_csv(path, ["Brats20ID", "Age", "Survival_days", "Extent_of_Resection"],
              [["A", "50", "100", "GTR"], ["B", "61", "ALIVE (400 days later)", ""], ["A", "50", "120", "GTR"]])
    records, dups = read_clinical_table(path)
    assert dups == {"A": 2}
    assert all("duplicate id" in " ".join(r.problems) for r in records if r.case_id == "A")
    b = next(r for r in records if r.case_id == "B")
    assert (b.survival_days, b.event, b.problems, b.resection) == (400.0, 0, [], None)
