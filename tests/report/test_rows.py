"""report.rows: the one row format of a result and the text that shows it."""

from __future__ import annotations

import math

import pandas as pd

from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.report.rows import (
    ROW_COLUMNS,
    error_row,
    estimates_table_text,
    format_number,
    interval_text,
    result_row,
    result_text,
)

TABLE = pd.DataFrame({"a": [1, 0, 1, 1, 0, 1, 0], "b": [0, 1, 1, 0, 1, 1, 0], "c": [0, 0, 0, 1, 1, 1, 1],
                      "count": [120, 90, 30, 25, 20, 8, 100]})


def _result(**opts):
    h = CaptureHistories.from_frame(TABLE, lists=["a", "b", "c"], count="count")
    return estimate(h, "loglinear", seed=1, **opts)


def test_result_row_and_error_row_have_the_same_columns_in_order() -> None:
    row = result_row(_result(model="[12,3]", interval="profile"), stratum="all", method="loglinear", level=0.95)
    assert tuple(row) == ROW_COLUMNS
    assert row["lower"] < row["estimate"] < row["upper"] and row["interval_method"] == "profile"
    assert tuple(error_row(stratum="s", method="m", observed=3, level=0.95, error="why")) == ROW_COLUMNS


def test_a_row_without_interval_says_why_or_nothing() -> None:
    res = _result(model="[12,3]", interval="none")
    row = result_row(res, stratum="all", method="loglinear", level=0.95)
    assert row["lower"] is None and interval_text(row) == "" and "interval" not in result_text(res)
    why = {**row, "interval_note": "no interval to report (at the observed count)"}
    assert interval_text(why) == "no interval: no interval to report (at the observed count)"


def test_summary_table_and_csv_row_show_the_same_numbers() -> None:
    """The terminal line of a row carries exactly format_number of the row's estimate and bounds."""
    row = result_row(_result(model="[12,3]", interval="profile", level=0.9), stratum="all", method="loglinear",
                     level=0.9)
    line = estimates_table_text([row])[1]
    expected = f"[{format_number(row['lower'])}, {format_number(row['upper'])}] (90%)"
    assert line.endswith(expected) and format_number(row["estimate"]) in line
    failed = error_row(stratum="sex=female", method="loglinear", observed=None, level=0.9, error="not estimated: x")
    assert estimates_table_text([failed])[1].split() == ["sex=female", "loglinear", "—", "—", "not", "estimated:", "x"]


def test_format_number() -> None:
    assert format_number(12345.6) == "12,346"
    assert format_number(1.234, small_decimals=True) == "1.23" and format_number(1.234) == "1"
    assert format_number(math.inf) == "∞" and format_number(-math.inf) == "-∞"
    assert format_number(None) == "-" and format_number(float("nan")) == "-"
