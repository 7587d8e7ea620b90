"""CaptureHistories: construction, every input problem reported at once, summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cifranegra.errors import InputError, ValidationError
from cifranegra.estimation import CaptureDataWarning, CaptureHistories


def frame(rows: list[tuple[int, ...]], names: str = "ABC") -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*names, "count"])


def test_aggregated_table_counts_and_summaries() -> None:
    h = CaptureHistories.from_frame(frame([(1, 0, 0, 5), (0, 1, 0, 7), (1, 1, 0, 2), (0, 0, 1, 4), (1, 0, 1, 1)]))
    assert h.lists == ("A", "B", "C")
    assert h.observed == 19
    assert h.counts[0b011] == 2  # on A and B
    assert h.list_sizes().to_dict() == {"A": 8, "B": 9, "C": 5}
    assert h.overlaps().loc["A", "B"] == 2
    assert h.non_overlapping_pairs() == [("B", "C")]
    assert h.counts_by_number_of_lists().to_dict() == {1: 16, 2: 3, 3: 0}


def test_duplicate_patterns_are_summed_and_reported() -> None:
    with pytest.warns(CaptureDataWarning, match="summed"):
        h = CaptureHistories.from_frame(frame([(1, 0, 0, 5), (1, 0, 0, 3), (0, 1, 1, 2)]))
    assert h.counts[0b001] == 8
    assert any("summed" in n for n in h.notes)


def test_per_person_rows() -> None:
    df = pd.DataFrame({"A": [1, 1, 0, 1], "B": [0, 1, 1, 1]})
    h = CaptureHistories.from_frame(df, count=None)
    assert h.counts.tolist() == [0, 1, 1, 2]


def test_every_problem_is_reported_at_once() -> None:
    df = pd.DataFrame({"A": [1, 2, 0, 0], "B": [0, 1, "x", 0], "count": [3, -1, 2.5, 4]})
    with pytest.raises(ValidationError) as info:
        CaptureHistories.from_frame(df, source="lists.csv")
    codes = sorted(p.code for p in info.value.problems)
    assert codes == ["all_zero_pattern", "bad_count", "bad_count", "not_binary", "not_binary"]  # row 3's
    # all-zero pattern comes from its bad value, so it is not reported twice
    rows = {(p.code, p.row, p.column) for p in info.value.problems}
    assert ("not_binary", 2, "A") in rows
    assert ("not_binary", 3, "B") in rows
    assert ("bad_count", 2, "count") in rows
    assert ("all_zero_pattern", 4, None) in rows
    assert all(p.file == "lists.csv" for p in info.value.problems)
    assert "row 2" in str(info.value)


def test_fewer_than_two_lists() -> None:
    with pytest.raises(ValidationError, match="at least two lists"):
        CaptureHistories.from_frame(pd.DataFrame({"A": [1], "count": [4]}))


def test_missing_count_column_in_aggregated_mode() -> None:
    with pytest.raises(ValidationError, match="no 'count' column"):
        CaptureHistories.from_frame(pd.DataFrame({"A": [1, 0], "B": [0, 1], "n": [3, 4]}), lists=["A", "B"])


def test_list_with_no_records() -> None:
    with pytest.raises(ValidationError, match="list 'C' has no records"):
        CaptureHistories.from_frame(frame([(1, 0, 0, 5), (0, 1, 0, 7), (1, 1, 0, 2)]))


def test_all_zero_pattern_with_positive_count_is_an_error() -> None:
    with pytest.raises(ValidationError, match="unobservable"):
        CaptureHistories.from_frame(frame([(1, 0, 0, 5), (0, 1, 1, 7), (0, 0, 0, 2)]))
    with pytest.raises(InputError, match="unobservable"):
        CaptureHistories.from_counts({"000": 2, "100": 3, "011": 1}, ["A", "B", "C"])


def test_all_zero_pattern_with_zero_count_is_harmless() -> None:
    h = CaptureHistories.from_frame(frame([(1, 0, 0, 5), (0, 1, 1, 7), (0, 0, 0, 0)]))
    assert h.observed == 12


def test_strata_give_one_table_each_and_report_unusable_strata() -> None:
    df = pd.DataFrame({
        "A": [1, 0, 1, 1, 0, 1], "B": [0, 1, 1, 0, 1, 1], "sex": ["f", "f", "f", "m", "m", "m"],
        "count": [3, 4, 2, 5, 6, 0],
    })
    out = CaptureHistories.stratified_from_frame(df, strata=["sex"])
    assert set(out) == {("f",), ("m",)}
    assert out[("f",)].counts.tolist() == [0, 3, 4, 2]
    only_a = pd.DataFrame({"A": [1, 1], "B": [0, 1], "sex": ["f", "m"], "count": [3, 2]})
    out = CaptureHistories.stratified_from_frame(only_a, strata=["sex"])
    assert ("f",) in out.skipped and "no records" in out.skipped[("f",)]
    assert ("m",) in out


def test_entities_to_histories_with_strata() -> None:
    ent = pd.DataFrame({
        "source": ["fge", "dif", "fge", "ngo", "dif"],
        "record_id": ["1", "2", "3", "4", "5"],
        "entity_id": [10, 10, 11, 12, 12],
        "sex": ["female", "female", "male", "female", "unknown"],
    })
    h = CaptureHistories.from_entities(ent)
    assert h.lists == ("dif", "fge", "ngo")
    assert h.counts[0b011] == 1 and h.counts[0b010] == 1 and h.counts[0b101] == 1
    by = CaptureHistories.stratified_from_entities(ent, strata=["sex"])
    assert by[("female",)].observed == 2  # entity 12: 'unknown' gives way to the recorded 'female'
    assert ("male",) in by.skipped  # one person on one list: no capture–recapture possible


def test_select_and_merge_lists() -> None:
    h = CaptureHistories.from_frame(frame([(1, 0, 0, 5), (0, 1, 0, 7), (1, 1, 0, 2), (0, 0, 1, 4), (1, 0, 1, 1)]))
    ab = h.select_lists(["A", "B"])
    assert ab.counts.tolist() == [0, 6, 7, 2]
    m = h.merge_lists([["B", "C"]], names=["BC"])
    assert m.lists == ("BC", "A")
    assert m.observed == h.observed


def test_fingerprint_depends_on_counts_and_names() -> None:
    a = CaptureHistories.from_counts({"10": 3, "01": 4, "11": 1}, ["A", "B"])
    b = CaptureHistories.from_counts({"10": 3, "01": 4, "11": 2}, ["A", "B"])
    c = CaptureHistories.from_counts({"10": 3, "01": 4, "11": 1}, ["A", "C"])
    assert len({a.fingerprint(), b.fingerprint(), c.fingerprint()}) == 3
    assert a.fingerprint() == CaptureHistories(("A", "B"), np.array([0, 3, 4, 1])).fingerprint()


@pytest.mark.parametrize("counts", [{"10": 2.7, "01": 2, "11": 1}, {"10": "x", "01": 2, "11": 1},
                                    {"10": None, "01": 2, "11": 1}, {"1a": 3, "01": 2}, {(1, 2): 3, "01": 2}])
def test_from_counts_mapping_is_checked_as_the_array_is(counts):
    """The API review: the mapping form floored 2.7 to 2 without a word (the array form refuses it), and a
    text count or a pattern such as '1a' escaped as ValueError/TypeError."""
    from cifranegra.errors import CifranegraError

    with pytest.raises(CifranegraError):
        CaptureHistories.from_counts(counts, ["A", "B"])


def test_from_counts_mapping_takes_whole_numbers_written_as_floats():
    assert CaptureHistories.from_counts({(1, 0): 2.0, "01": 2, "11": 1}, ["A", "B"]).counts.tolist() == [0, 2, 2, 1]
