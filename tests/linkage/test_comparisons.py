"""The birth-date comparison ladder, evaluated level by level in DuckDB on prepared records."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from cifranegra.linkage.comparisons import _birth_date
from cifranegra.linkage.prepare import prepare_records

RECORDS = pd.DataFrame(
    {
        "source": ["A", "B", "B", "B", "B", "B", "B"],
        "record_id": ["born", "same", "age_ok", "age_near", "age_far", "year_only", "nothing"],
        "given_names": ["ANA"] * 7,
        "first_surname": ["LOPEZ"] * 7,
        "birth_date": [date(1995, 10, 20), date(1995, 10, 20), None, None, None, None, None],
        "birth_year": pd.array([None, None, None, None, None, 1994, None], dtype="Int64"),
        # registered in March 2023: age 27 allows 1995 or 1996; 30 allows 1992-1993; 40 allows 1982-1983
        "age": pd.array([None, None, 27, 30, 40, None, None], dtype="Int64"),
        "registration_date": [date(2023, 3, 1)] * 7,
    }
)


def first_level(left: str, right: str) -> str:
    """Label of the first level of the ladder whose condition holds for the pair (left, right)."""
    prepared = prepare_records(RECORDS).set_axis(RECORDS["record_id"])
    cols = ["birth_date", "birth_date_swapped", "birth_year", "birth_year_lo", "birth_year_hi"]
    row = {f"{c}_l": prepared.loc[left, c] for c in cols} | {f"{c}_r": prepared.loc[right, c] for c in cols}
    pair = pd.DataFrame([row]).astype({f"{c}_{s}": "Int64" for c in cols[2:] for s in "lr"})
    con = duckdb.connect()
    con.register("pair", pair)
    for level in _birth_date().get_comparison("duckdb").comparison_levels:
        if level.sql_condition == "ELSE":
            return str(level.label_for_charts)
        if con.execute(f"SELECT coalesce(({level.sql_condition}), false) FROM pair").fetchone()[0]:
            return str(level.label_for_charts)
    raise AssertionError("no ELSE level")


@pytest.mark.parametrize(
    ("right", "label"),
    [
        ("same", "Exact match on birth_date"),
        ("year_only", "Absolute difference of 'birth_year' <= 1"),
        ("age_ok", "birth years consistent with the ages"),  # 1995 is one of the ages' two years
        ("age_near", "birth years from ages within 2 years"),  # 1993 vs 1995
        ("age_far", "All other comparisons"),  # 1983 vs 1995
        ("nothing", "birth_year_lo is NULL"),
    ],
)
def test_birth_ladder(right, label):
    assert first_level("born", right) == label


def test_two_age_only_records():
    assert first_level("age_ok", "age_near") == "birth years from ages within 2 years"
    assert first_level("age_ok", "age_ok") == "birth years consistent with the ages"
    assert first_level("age_ok", "age_far") == "All other comparisons"
