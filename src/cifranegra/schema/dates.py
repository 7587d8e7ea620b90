"""Dates as Mexican agencies write them: dd/mm/yyyy, d-m-yy, ISO, Spanish or English month names,
Excel serial numbers; day first unless told otherwise."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from cifranegra.schema.text import fold_text

__all__ = ["MONTHS", "excel_serial_to_date", "parse_date", "parse_dates"]

#: month names and abbreviations (Spanish and English, folded) → month number
MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    [
        ("ENERO", "ENE", "JANUARY", "JAN"),
        ("FEBRERO", "FEB", "FEBRUARY"),
        ("MARZO", "MAR", "MARCH"),
        ("ABRIL", "ABR", "APRIL", "APR"),
        ("MAYO", "MAY"),
        ("JUNIO", "JUN", "JUNE"),
        ("JULIO", "JUL", "JULY"),
        ("AGOSTO", "AGO", "AUGUST", "AUG"),
        ("SEPTIEMBRE", "SETIEMBRE", "SEP", "SEPT", "SET", "SEPTEMBER"),
        ("OCTUBRE", "OCT", "OCTOBER"),
        ("NOVIEMBRE", "NOV", "NOVEMBER"),
        ("DICIEMBRE", "DIC", "DECEMBER", "DEC"),
    ],
    start=1,
):
    for _n in _names:
        MONTHS[_n] = _i

_EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's 1900 system, with its phantom 29 Feb 1900
_NUMERIC = re.compile(
    r"^(\d{1,4})[/\-. ](\d{1,2})[/\-. ](\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_WORDS = re.compile(r"[A-ZÑ]+|\d+")


def excel_serial_to_date(serial: float) -> dt.date | None:
    """Date of an Excel serial day number (1900 date system); ``None`` outside 1..2958465."""
    if not (1 <= serial <= 2_958_465):
        return None
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def _year(y: int, ndigits: int) -> int:
    if ndigits > 2:
        return y
    this_year = dt.date.today().year
    return 2000 + y if 2000 + y <= this_year else 1900 + y


def _make(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


@lru_cache(maxsize=200_000)
def _parse_text(text: str, dayfirst: bool) -> dt.date | None:
    s = text.strip()
    if not s:
        return None
    if s.isdigit():
        if len(s) == 8:
            return _make(int(s[:4]), int(s[4:6]), int(s[6:])) or _make(
                int(s[4:]), int(s[2:4]), int(s[:2])
            )
        if len(s) in (5, 6):  # an Excel serial; 4 digits or fewer is more likely a year
            return excel_serial_to_date(int(s))
        return None
    if re.fullmatch(r"\d{5,6}\.\d+", s):  # Excel serial written as a float
        return excel_serial_to_date(float(s))
    m = _NUMERIC.match(s)
    if m:
        a, b, c = m.groups()
        if len(a) == 4:
            return _make(int(a), int(b), int(c))
        if len(c) in (1, 3):
            return None
        year = _year(int(c), len(c))
        first, second = int(a), int(b)
        if dayfirst:
            return _make(year, second, first)
        return _make(year, first, second)
    words = _WORDS.findall(fold_text(s))
    words = [w for w in words if w not in ("DE", "DEL", "OF", "THE")]
    months = [MONTHS[w] for w in words if w in MONTHS]
    numbers = [w for w in words if w.isdigit()]
    if len(months) != 1 or len(numbers) != 2 or len(words) != 3:
        return None
    month = months[0]
    if len(numbers[0]) == 4:
        year_text, day_text = numbers
    else:
        day_text, year_text = numbers
    return _make(_year(int(year_text), len(year_text)), month, int(day_text))


def parse_date(value: object, *, dayfirst: bool = True) -> dt.date | None:
    """A :class:`datetime.date` from what agencies write, or ``None`` if missing or not a date.

    Accepts dates and timestamps; ``dd/mm/yyyy``, ``d-m-yy``, ``dd.mm.yyyy`` (day first unless
    ``dayfirst=False``); ISO ``yyyy-mm-dd`` (with or without a time); ``yyyymmdd``; Spanish or
    English month names (``"12 de marzo de 1990"``, ``"12-mar-90"``, ``"March 12, 1990"``); Excel serial
    numbers from 10000 (``32944`` → 1990-03-12; a bare 4-digit number is not a date).
    Two-digit years are read as the latest year not in the future.
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).date()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return _parse_text(str(int(value)), dayfirst)
    if isinstance(value, (float, np.floating)):
        if value != value or value < 10_000:
            return None
        return excel_serial_to_date(float(value))
    if isinstance(value, str):
        return _parse_text(value, dayfirst)
    return None


def parse_dates(values: pd.Series, *, dayfirst: bool = True) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`parse_date` over a column: (``datetime64[s]`` series with NaT, boolean
    series marking values that were present but could not be read). Each distinct value is parsed
    once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [parse_date(u, dayfirst=dayfirst) for u in uniques]
    present = [not (u is None or (isinstance(u, str) and not u.strip())) for u in uniques]
    as_dt = np.array(parsed, dtype="datetime64[s]") if parsed else np.array([], "datetime64[s]")
    bad_u = np.array([p and d is None for p, d in zip(present, parsed, strict=True)], dtype=bool)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    bad = np.zeros(len(values), dtype=bool)
    ok = codes >= 0
    if len(uniques):
        out[ok] = as_dt[codes[ok]]
        bad[ok] = bad_u[codes[ok]]
    return (
        pd.Series(out, index=values.index, name=values.name),
        pd.Series(bad, index=values.index, name=values.name),
    )
