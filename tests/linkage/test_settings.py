"""Linkage settings: validated at once, round-tripped through dicts (the project file)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cifranegra.errors import InputError
from cifranegra.linkage import LinkageSettings
from cifranegra.linkage.comparisons import build_blocking_rules, build_comparisons


def test_round_trip_through_json():
    s = LinkageSettings(threshold=0.95, seed=3, blocking=(("curp",), ("given1", "surname1~surname2")))
    again = LinkageSettings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s


def test_all_problems_reported_together():
    with pytest.raises(InputError) as exc:
        LinkageSettings(engine="oracle", threshold=1.5, comparisons=("shoe_size",), blocking=(("nope",),))
    text = str(exc.value)
    for word in ("engine", "threshold", "shoe_size", "nope"):
        assert word in text


def test_unknown_key_in_project_table():
    with pytest.raises(InputError, match="treshold"):
        LinkageSettings.from_dict({"treshold": 0.9})


def test_comparisons_and_rules_without_data_are_dropped():
    prepared = pd.DataFrame({"given": ["ANA"], "given1": ["ANA"], "surname1": ["LOPEZ"], "curp": [None],
                             "birth_year": [None], "sex": [None], "state": [None]})
    comps = build_comparisons(LinkageSettings(), prepared)
    assert len(comps) == 2  # given names and surnames only
    rules = build_blocking_rules(LinkageSettings(blocking=(("curp",), ("given1", "surname1"))), prepared)
    assert len(rules) == 1


def test_cross_rule_becomes_two_oriented_rules():
    prepared = pd.DataFrame({"given_key": ["ANA"], "surname1": ["LOPEZ"], "surname2": ["DIAZ"]})
    rules = build_blocking_rules(LinkageSettings(blocking=(("given_key", "surname1~surname2"),)), prepared)
    sqls = sorted(r.get_blocking_rule("duckdb").blocking_rule_sql for r in rules)
    assert len(sqls) == 2
    assert "l.surname1 = r.surname2" in sqls[0] + sqls[1]
    assert "l.surname2 = r.surname1" in sqls[0] + sqls[1]


def test_blocking_presets_in_project_tables():
    from cifranegra.linkage import DEFAULT_BLOCKING, LARGE_BLOCKING

    assert LinkageSettings.from_dict({"blocking": "large"}).blocking == LARGE_BLOCKING
    assert LinkageSettings.from_dict({"blocking": "default"}).blocking == DEFAULT_BLOCKING
    with pytest.raises(InputError, match="preset"):
        LinkageSettings.from_dict({"blocking": "huge"})
    # every large rule pins a year, a date, a state or a CURP, or joins a given name to both
    # surnames: pairs grow slowly with the lists
    pins = {"birth_year", "birth_date", "state", "curp", "curp10"}
    for rule in LARGE_BLOCKING:
        cols = {c for part in rule for c in part.split("~")}
        assert pins & cols or {"given_key", "surname_set"} <= cols
