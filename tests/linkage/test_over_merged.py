"""The warning for a linkage that merged records of one list wholesale (``merged_lists_warnings``):
counts only, silent on sound linkages, given when a collapsed model joined many records."""

from __future__ import annotations

import pandas as pd

from cifranegra.linkage.link import OVER_MERGED_SHARE, merged_lists_warnings


def _entities(groups: list[list[str]]) -> pd.DataFrame:
    """One person per group, its records given by their lists."""
    rows = []
    for person, lists in enumerate(groups):
        for i, source in enumerate(lists):
            rows.append({"source": source, "record_id": f"r{person}-{i}", "entity_id": person})
    return pd.DataFrame(rows)


def test_sound_linkages_are_silent() -> None:
    # singletons, people on several lists, duplicates (two records of one list): no warning
    groups = [["A"]] * 50 + [["A", "B"]] * 30 + [["A", "B", "C"]] * 10 + [["A", "A", "B"]] * 10
    assert merged_lists_warnings(_entities(groups)) == []
    # a few triples within one list, below the share: still silent
    ent = _entities([*groups, ["A", "A", "A"]])
    assert 3 / len(ent) <= OVER_MERGED_SHARE and merged_lists_warnings(ent) == []
    assert merged_lists_warnings(pd.DataFrame(columns=["source", "record_id", "entity_id"])) == []


def test_a_collapsed_linkage_is_named_by_counts_only() -> None:
    groups = [["A"]] * 40 + [["A", "B"]] * 20 + [["A"] * 30 + ["B"] * 25 + ["C"] * 5]
    ent = _entities(groups)
    (note,) = merged_lists_warnings(ent)
    assert "60 of 140 records (43%)" in note and "largest person: 60 records, 30 of one list" in note
    assert "threshold" in note and "r40-0" not in note and "record_id" not in note


def test_the_share_is_the_boundary() -> None:
    # persons with three records of one list holding exactly the share: silent; one record more: warned
    base = [["B"]] * 57
    at = _entities([*base, ["A", "A", "A"]])  # 3 of 60 records = 5%
    assert merged_lists_warnings(at) == []
    over = _entities([*base, ["A", "A", "A", "B"]])  # 4 of 61 records
    assert len(merged_lists_warnings(over)) == 1
