"""Capture-history files that are wrong in every way a fuzzer found: always a ValidationError that
names row and column, never a traceback, never a cell's text (issue 12, items 1, 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError, ValidationError
from cifranegra.estimation import CaptureHistories
from cifranegra.estimation.histories import MAX_COUNT
from cifranegra.ingest import capture_table
from cifranegra.ingest.capture_table import read_capture_histories

CURP = "QUIZ850101HDFRRL09"


def _read(tmp_path: Path, text: str, **kw: object) -> object:
    f = tmp_path / "t.csv"
    f.write_text(text, encoding="utf-8")
    return read_capture_histories(f, **kw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b,count\n1,0,-3\n0,1,4\n1,1,2\n", "row 1, column 'count': count -3 is negative"),
        ("a,b,count\n1,0,3\n0,1,4.5\n1,1,2\n", "row 2, column 'count': count 4.5 is not a whole number"),
        ("a,b,count\n1,0,\n0,1,4\n1,1,2\n", "row 1, column 'count': count is empty"),
        ("a,b,count\n1,0,nan\n0,1,4\n1,1,2\n", "row 1, column 'count': count 'nan' is not a number"),
        ("a,b,count\n1,0,3\n0,1,inf\n1,1,2\n", "row 2, column 'count': count is infinite"),
        ("a,b,count\n1,0,3\n0,1,-inf\n1,1,2\n", "row 2, column 'count': count is infinite"),
        ("a,b,count\n1,0,1e300\n0,1,4\n1,1,2\n", "row 1, column 'count': count is above the limit of 1,000,000,000"),
        ("a,b,count\n1,0,-1e300\n0,1,4\n1,1,2\n", "row 1, column 'count': count is negative"),
        ("a,b,count\n1,0,3\n0,,4\n1,1,2\n", "row 2, column 'b': value is empty"),
        ("a,b,count\n1,0,3\n0,x,4\n1,1,2\n", "row 2, column 'b': value 'x' is not 0 or 1"),
        ("a,b,count\n1,0,3\n0,2,4\n1,1,2\n", "row 2, column 'b': value 2 is not 0 or 1"),
        ("a,b,count\n1,0,3\n0,0,4\n1,1,2\n", "row 2: pattern of all zeros with count 4"),
        ("a,b,count\n1,0,600000000\n0,1,600000000\n1,1,2\n", "add up to more than 1,000,000,000 people"),
    ],
)
def test_bad_cells_are_named(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ValidationError) as e:
        _read(tmp_path, text)
    assert expected in str(e.value)
    assert "counts must be zero or positive" not in str(e.value)  # the old, false message for 1e300


def test_lists_naming_some_columns_explain_the_zero_rows(tmp_path: Path) -> None:
    # `estimate FILE --lists a b` on a 3-list table: the people only on c have an all-zero pattern over
    # a and b. The message said "remove this row" (a row the user's file rightly holds); it must say
    # that the other columns are not read and how to estimate from the chosen lists (docs/hardening.md:
    # every message names the fix)
    text = "a,b,c,count\n1,0,0,3\n0,1,0,4\n1,1,0,2\n0,0,1,5\n1,0,1,1\n"
    with pytest.raises(ValidationError) as e:
        _read(tmp_path, text, lists=["a", "b"])
    message = str(e.value)
    assert "row 4: pattern of all zeros with count 5: its people are on none of the lists read" in message
    assert "remove this row" not in message
    assert "the column(s) ['c'] are not" in message and "leave those rows out" in message
    # a table whose every column is read keeps the old message
    with pytest.raises(ValidationError, match="remove this row"):
        _read(tmp_path, "a,b,count\n1,0,3\n0,0,4\n1,1,2\n")


def test_stratum_values_are_read_as_written(tmp_path: Path) -> None:
    # a run writes states as INEGI codes ("01".."32") in capture_histories_by_stratum.csv and labels its
    # strata so (docs/pipeline.md); reading that file back with --strata state turned "01" into 1, so the
    # strata no longer matched the run's. Lists and counts are still numbers.
    rows = [f"{st},{a},{b},{c},{n}" for st in ("01", "09") for (a, b, c), n in
            (((1, 0, 0), 5), ((0, 1, 0), 6), ((0, 0, 1), 7), ((1, 1, 0), 3), ((1, 0, 1), 2), ((0, 1, 1), 4))]
    tables = _read(tmp_path, "state,a,b,c,count\n" + "\n".join(rows) + "\n", strata=["state"])
    assert sorted(tables) == [("01",), ("09",)]
    assert tables[("01",)].observed == 27


def test_huge_count_gives_no_numpy_warning(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning would fail here
        with pytest.raises(ValidationError, match="above the limit"):
            _read(tmp_path, "a,b,count\n1,0,1e300\n0,1,4\n1,1,2\n")


def test_count_at_the_limit_is_accepted(tmp_path: Path) -> None:
    h = _read(tmp_path, f"a,b,count\n1,0,{MAX_COUNT - 10}\n0,1,4\n1,1,2\n")
    assert isinstance(h, CaptureHistories) and h.observed == MAX_COUNT - 4


def test_cell_text_is_never_quoted(tmp_path: Path) -> None:
    for text in (f"a,b,count\n1,0,{CURP}\n0,1,1\n1,1,2\n", f"a,b,count\n1,{CURP},3\n0,1,1\n1,1,2\n",
                 "a,b,count\n1,19850101,3\n0,1,1\n1,1,2\n"):
        with pytest.raises(ValidationError) as e:
            _read(tmp_path, text)
        assert CURP not in str(e.value) and "QUIZ" not in str(e.value) and "19850101" not in str(e.value)
        assert "not shown" in str(e.value) or "above the limit" in str(e.value)


def test_misaligned_rows_are_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as e:
        _read(tmp_path, f"a,b,count\n1,0,3\n0,1\n1,1,2,{CURP}\n0,1,-1\n")
    msg = str(e.value)
    assert "row 2: misaligned row" in msg and "row 3: misaligned row" in msg
    assert "row 4, column 'count': count -1 is negative" in msg  # other rows still checked, original numbering
    assert "has no records" not in msg  # no artefacts of leaving the misaligned rows out
    assert CURP not in msg


def test_duplicate_header_with_a_short_row_on_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The fuzzer's TypeError: whatever read_table lets through, a repeated header is a clear error."""
    df = pd.DataFrame([["1", "0", "3"], ["0", "1", None]], columns=["a", "a ", "count"])
    monkeypatch.setattr(capture_table, "read_table", lambda path: (df, None))
    with pytest.raises(ValidationError, match="columns 1 and 2 have the same header"):
        read_capture_histories(tmp_path / "x.csv")


def test_a_header_named_twice_in_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="same header"):
        _read(tmp_path, "a,a,count\n1,0,3\n0,1\n1,1,2\n")


def test_per_person_table_with_gaps(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as e:
        _read(tmp_path, "a,b\n1,0\n0,\n1,1\n0,0\n", count=None)
    assert "row 2, column 'b': value is empty" in str(e.value)
    assert "person row(s) are on no list" in str(e.value)


def test_missing_count_column_message_speaks_cli(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as e:
        _read(tmp_path, "a,b,c\n1,0,5\n0,1,2\n1,1,2\n")
    assert "--per-person" in str(e.value) and "--count COL" in str(e.value)


_cells = st.one_of(
    st.sampled_from(["0", "1", "", " ", "-1", "2.5", "1e300", "-1e300", "inf", "nan", "NaN", "x", CURP,
                     "Zorbalinda", "1985-01-01", "1,0", '"', "\t"]),
    st.integers(-10, 10).map(str),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(["a", "b", "c", "count", "a", " a", ""]), min_size=1, max_size=5),
    rows=st.lists(st.lists(_cells, min_size=0, max_size=6), min_size=1, max_size=6),
)
def test_fuzzed_tables_end_in_a_table_or_a_clear_error(
    tmp_path: Path, header: list[str], rows: list[list[str]]
) -> None:
    text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    try:
        out = _read(tmp_path, text)
    except InputError as e:  # ValidationError included
        msg = str(e)
        assert CURP not in msg and "Zorbalinda" not in msg and "1985-01-01" not in msg
    else:
        tables = out.values() if isinstance(out, dict) else [out]
        for h in tables:
            assert np.all(h.counts >= 0) and h.counts[0] == 0


@pytest.mark.parametrize("header", ["A,B,,count", "A,B,  ,count", "\ufeffA;B;;count"])
def test_a_blank_header_is_refused_not_read_as_an_unnamed_list(tmp_path, header):
    """docs/estimation.md ('a header that is blank or repeated ... is an error'): the reader names a
    blank header 'Unnamed: 2', as pandas does, and that name was estimated as a third list."""
    sep = ";" if ";" in header else ","
    rows = [header, sep.join(["1", "0", "0", "10"]), sep.join(["0", "1", "1", "3"])]
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, "\n".join(rows) + "\n")
    assert [p.code for p in info.value.problems] == ["blank_header"]
    assert "column 3 has no header" in str(info.value.problems[0].message)


def test_a_blank_excel_header_is_refused(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    for row in (["A", "B", None, "count"], [1, 0, 0, 10], [0, 1, 1, 3]):
        wb.active.append(row)
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(ValidationError, match="column 3 has no header"):
        read_capture_histories(tmp_path / "t.xlsx")


def test_a_file_without_count_whose_patterns_all_differ_is_not_guessed_per_person(tmp_path):
    """docs/estimation.md: a missing `count` column is an error naming --count and --per-person. A file
    of 0/1 columns where no pattern repeats reads as well as an aggregated table that lost its count
    column; it was silently estimated one row per person."""
    with pytest.raises(ValidationError) as info:
        _read(tmp_path, "A,B,C\n1,0,0\n0,1,0\n1,1,0\n0,0,1\n")
    assert "--per-person" in str(info.value) and "--count COL" in str(info.value)
    h = _read(tmp_path, "A,B,C\n1,0,0\n0,1,0\n1,1,0\n0,0,1\n", count=None)
    assert h.observed == 4 and h.notes == ()


def test_a_file_without_count_with_repeated_patterns_is_read_per_person_and_says_so(tmp_path):
    h = _read(tmp_path, "A,B,C\n1,0,0\n0,1,0\n1,1,0\n0,0,1\n1,0,0\n")
    assert h.observed == 5
    assert any("read as one row per person (5 rows)" in n for n in h.notes)
    strata = _read(tmp_path, "A,B,sex\n1,0,F\n0,1,F\n1,1,M\n1,0,F\n0,1,M\n", strata=["sex"])
    assert all(any("one row per person" in n for n in v.notes) for v in strata.values())
    described = capture_table.describe_capture_table(tmp_path / "t.csv", strata=["sex"])
    assert all(any("one row per person" in n for n in d["notes"]) for _, d in described)
