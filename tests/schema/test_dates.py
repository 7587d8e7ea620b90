"""Dates as Mexican agencies write them."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cifranegra.schema import excel_serial_to_date, parse_date, parse_dates

D = dt.date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12/03/1990", D(1990, 3, 12)),
        ("1/2/1990", D(1990, 2, 1)),
        ("12-03-1990", D(1990, 3, 12)),
        ("12.03.1990", D(1990, 3, 12)),
        ("1-2-05", D(2005, 2, 1)),
        ("1-2-95", D(1995, 2, 1)),
        ("1990-03-12", D(1990, 3, 12)),
        ("1990-03-12 00:00:00", D(1990, 3, 12)),
        ("1990-03-12T10:30:00", D(1990, 3, 12)),
        ("19900312", D(1990, 3, 12)),
        ("12 de marzo de 1990", D(1990, 3, 12)),
        ("12 de Marzo del 1990", D(1990, 3, 12)),
        ("12-mar-1990", D(1990, 3, 12)),
        ("12-MAR-90", D(1990, 3, 12)),
        ("1 de septiembre de 2001", D(2001, 9, 1)),
        ("1 setiembre 2001", D(2001, 9, 1)),
        ("March 12, 1990", D(1990, 3, 12)),
        ("marzo 12, 1990", D(1990, 3, 12)),
        ("12 dic 2020", D(2020, 12, 12)),
        (32944, D(1990, 3, 12)),
        (32944.0, D(1990, 3, 12)),
        ("32944", D(1990, 3, 12)),
        (D(1990, 3, 12), D(1990, 3, 12)),
        (dt.datetime(1990, 3, 12, 8), D(1990, 3, 12)),
        (pd.Timestamp("1990-03-12"), D(1990, 3, 12)),
        (np.datetime64("1990-03-12"), D(1990, 3, 12)),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    ["31/02/1990", "13/13/1990", "xx", "", None, float("nan"), "12 de marzo", "1990", True, pd.NaT],
)
def test_not_dates(value):
    assert parse_date(value) is None


def test_month_first_when_asked():
    assert parse_date("03/12/1990", dayfirst=False) == D(1990, 3, 12)


def test_excel_serials():
    assert excel_serial_to_date(1) == D(1899, 12, 31)
    assert parse_date(1990) is None and parse_date(1990.0) is None
    assert excel_serial_to_date(45000) == D(2023, 3, 15)
    assert excel_serial_to_date(0) is None


def test_parse_dates_vectorised():
    s = pd.Series(["12/03/1990", None, "bad", "12/03/1990", 32944, ""], dtype=object)
    parsed, bad = parse_dates(s)
    assert parsed.iloc[0] == pd.Timestamp("1990-03-12")
    assert parsed.iloc[4] == pd.Timestamp("1990-03-12")
    assert pd.isna(parsed.iloc[1]) and pd.isna(parsed.iloc[2]) and pd.isna(parsed.iloc[5])
    assert bad.tolist() == [False, False, True, False, False, False]


@given(st.dates(min_value=D(1901, 1, 1), max_value=D(2025, 12, 31)))
def test_round_trips_of_written_forms(d):
    for text in (
        d.strftime("%d/%m/%Y"),
        d.isoformat(),
        f"{d.day}-{d.month}-{d.year}",
        d.strftime("%Y%m%d"),
    ):
        assert parse_date(text) == d
    serial = (d - D(1899, 12, 30)).days
    assert parse_date(serial) == (d if serial >= 10_000 else None)
