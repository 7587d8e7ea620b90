"""The plain capture-table reader (``ingest.capture_table.read_plain_csv``, issue #17 item 7) changes how
fast a table is read, never what is read nor what is said about it: every file it takes gives the same
table as the general (pandas) reader, every file it declines goes to that reader, and the bundled
tables, which `estimate` reads most, take the plain road."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifranegra.datasets.reference import load_reference, reference_path, reference_tables
from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureDataWarning, CaptureHistories
from cifranegra.ingest import capture_table
from cifranegra.ingest.capture_table import read_capture_histories, read_plain_csv

STRATIFIED = {"conting_spina_strata"}  # a stratum column: the plain reader does not apply


def _general(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Any:
    """What the general reader makes of ``path`` (the plain road switched off)."""
    with monkeypatch.context() as m:
        m.setattr(capture_table, "read_plain_csv", lambda *a, **k: None)
        return read_capture_histories(path, **kw)


def _same(a: CaptureHistories, b: CaptureHistories) -> None:
    assert a.lists == b.lists
    np.testing.assert_array_equal(a.counts, b.counts)
    assert (a.source, a.notes) == (b.source, b.notes)
    assert a.fingerprint() == b.fingerprint()


@pytest.mark.parametrize("name", [n for n in reference_tables() if n not in STRATIFIED])
def test_every_bundled_table_is_read_plainly_and_as_the_general_reader_reads_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = reference_path(name)
    plain = read_plain_csv(path)
    assert plain is not None, f"{name} should take the plain road"
    _same(plain, _general(path, monkeypatch))
    _same(load_reference(name), plain)


def test_the_plain_road_does_not_touch_the_general_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,count\n1,0,7\n0,1,5\n1,1,3\n", encoding="utf-8")

    def refuse(_path: object) -> None:
        raise AssertionError("the general reader was used")

    monkeypatch.setattr(capture_table, "read_table", refuse)
    h = read_capture_histories(path)
    assert isinstance(h, CaptureHistories) and h.counts.tolist() == [0, 7, 5, 3]


PLAIN = "a,b,c,count\n1,0,0,10\n0,1,0,8\n0,0,1,6\n1,1,0,4\n0,1,1,3\n1,1,1,1\n"


@pytest.mark.parametrize(
    ("why", "text", "plain"),
    [
        ("plain", PLAIN, True),
        ("byte-order mark", "\ufeff" + PLAIN, True),
        ("Windows line ends", PLAIN.replace("\n", "\r\n"), True),
        ("header with spaces", PLAIN.replace("a,b,c,count", " a, b ,c,count "), True),
        ("count first", "count,a,b\n3,1,0\n2,0,1\n1,1,1\n", True),
        ("pattern listed twice", PLAIN + "1,0,0,2\n", False),
        ("quoted cells", PLAIN.replace("1,1,1,1", '"1",1,1,1'), False),
        ("semicolons", PLAIN.replace(",", ";"), False),
        ("decimal cells", PLAIN.replace("1,1,1,1", "1.0,1,1,1"), False),
        ("spaces in cells", PLAIN.replace("1,1,1,1", "1 ,1,1,1"), False),
        ("blank line", PLAIN + "\n", False),
        ("short row", PLAIN + "1,0\n", False),
        ("negative count", PLAIN.replace("1,1,1,1", "1,1,1,-1"), False),
        ("decimal count", PLAIN.replace("1,1,1,1", "1,1,1,1.5"), False),
        ("empty count", PLAIN.replace("1,1,1,1", "1,1,1,"), False),
        ("all-zero row", PLAIN + "0,0,0,5\n", False),
        ("a list with no one", "a,b,c,count\n1,0,0,3\n1,1,0,2\n", False),
        ("count above the limit", PLAIN.replace("1,1,1,1", "1,1,1,99999999999"), False),
        ("repeated header", "a,a,count\n1,0,3\n0,1,2\n", False),
        ("blank header", "a,,count\n1,0,3\n0,1,2\n", False),
        ("text cell", PLAIN.replace("1,1,1,1", "si,1,1,1"), False),
        ("one list", "a,count\n1,3\n", False),
        ("no rows", "a,b,count\n", False),
    ],
)
def test_plain_or_not_the_outcome_is_the_general_readers(
    why: str, text: str, plain: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    assert (read_plain_csv(path) is not None) is plain, why
    _agree(path, monkeypatch)


def test_other_files_go_to_the_general_reader(tmp_path: Path) -> None:
    latin = "añ,b,count\n1,0,3\n0,1,2\n1,1,1\n".encode("latin-1")
    for name, data in [("t.txt", PLAIN.encode()), ("t.CSV", PLAIN.encode()), ("latin.csv", latin)]:
        path = tmp_path / name
        path.write_bytes(data)
        assert (read_plain_csv(path) is not None) is (name == "t.CSV"), name
    assert read_plain_csv(tmp_path / "missing.csv") is None
    assert read_plain_csv(tmp_path) is None


def test_named_lists_and_per_person_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,c,count,region\n1,0,0,10,x\n0,1,0,8,y\n1,1,0,4,x\n0,0,1,2,y\n1,0,1,1,x\n", encoding="utf-8")
    plain = read_plain_csv(path, lists=["a", "b", "c"])
    assert plain is not None
    _same(plain, _general(path, monkeypatch, lists=["a", "b", "c"]))
    assert read_plain_csv(path) is None  # 'region' would be a list: its text goes to the general reader
    _agree(path, monkeypatch, lists=["a", "c"])  # merged patterns: the general reader sums them
    assert read_plain_csv(path, lists=["a", "count"]) is None
    per_person = tmp_path / "p.csv"
    per_person.write_text("a,b\n1,0\n1,1\n0,1\n", encoding="utf-8")
    assert read_plain_csv(per_person) is None
    _agree(per_person, monkeypatch, count=None)


def _outcome(call: Any) -> tuple[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = call()
        except InputError as exc:  # ValidationError included
            return "error", (type(exc).__name__, str(exc))
    said = sorted(str(w.message) for w in caught if issubclass(w.category, CaptureDataWarning))
    return "table", (out.lists, out.counts.tolist(), out.source, out.notes, said)


def _agree(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> None:
    ours = _outcome(lambda: read_capture_histories(path, **kw))
    theirs = _outcome(lambda: _general(path, monkeypatch, **kw))
    assert ours == theirs


_cell = st.sampled_from(["0", "1", "1", "0", "2", "", "1.0", " 1", '"1"', "x"])
_count = st.sampled_from(["0", "1", "5", "12", "007", "-3", "2.5", "", "1e3", "99999999999999999"])


@settings(max_examples=150, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    k=st.integers(1, 4),
    rows=st.lists(st.tuples(st.lists(_cell, min_size=4, max_size=4), _count), min_size=0, max_size=8),
    plain_bias=st.booleans(),
)
def test_any_table_reads_as_the_general_reader_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, k: int, rows: list[tuple[list[str], str]], plain_bias: bool
) -> None:
    names = ["a", "b", "c", "d"][:k]
    lines = [",".join([*names, "count"])]
    for cells, count in rows:
        if plain_bias:  # mostly clean rows, so that the plain road is taken often
            cells = ["1" if c in ("1", "1.0", " 1", '"1"', "2") else "0" for c in cells]
            count = count if count.isdigit() else "3"
        lines.append(",".join([*cells[:k], count]))
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _agree(path, monkeypatch)
