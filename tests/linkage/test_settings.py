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
        LinkageSettings(
            engine="oracle", threshold=1.5, comparisons=("shoe_size",), blocking=(("nope",),), m_floor=0.5
        )
    text = str(exc.value)
    for word in ("engine", "threshold", "shoe_size", "nope", "m_floor"):
        assert word in text


def test_unknown_key_in_project_table():
    with pytest.raises(InputError, match="treshold"):
        LinkageSettings.from_dict({"treshold": 0.9})


def test_comparisons_and_rules_without_data_are_dropped():
    prepared = pd.DataFrame(
        {
            "given": ["ANA"],
            "given1": ["ANA"],
            "surname1": ["LOPEZ"],
            "curp": [None],
            "birth_year": [None],
            "sex": [None],
            "state": [None],
        }
    )
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
    pins = {"birth_year", "birth_year_lo", "birth_year_hi", "birth_date", "state", "curp", "curp10"}
    for rule in LARGE_BLOCKING:
        cols = {c for part in rule for c in part.split("~")}
        assert pins & cols or {"given_sound", "surname_sound_set"} <= cols


def test_blocking_columns_are_prepared_plain_columns():
    from cifranegra.linkage import DEFAULT_BLOCKING, LARGE_BLOCKING
    from cifranegra.linkage.prepare import PREPARED_COLUMNS
    from cifranegra.linkage.settings import BLOCKING_COLUMNS

    assert set(BLOCKING_COLUMNS) <= set(PREPARED_COLUMNS)
    assert "given_tokens" not in BLOCKING_COLUMNS  # a list: not an equality key
    for rule in (*DEFAULT_BLOCKING, *LARGE_BLOCKING):
        assert {c for part in rule for c in part.split("~")} <= BLOCKING_COLUMNS
    # a year range rule comes in pairs (lo and hi), so that either agreeing year blocks the pair
    for preset in (DEFAULT_BLOCKING, LARGE_BLOCKING):
        lo = {tuple(c for c in r if c != "birth_year_lo") for r in preset if "birth_year_lo" in r}
        hi = {tuple(c for c in r if c != "birth_year_hi") for r in preset if "birth_year_hi" in r}
        assert lo == hi and lo


def test_new_blocking_columns_become_splink_rules():
    prepared = pd.DataFrame(
        {
            "given_sound": ["ANA"],
            "initials": ["AL"],
            "state": ["09"],
            "birth_year_lo": pd.array([1990], dtype="Int64"),
            "surname1_sound": ["LOPES"],
            "surname2_sound": ["DIAS"],
        }
    )
    settings = LinkageSettings(
        blocking=(
            ("given_sound", "initials", "state", "birth_year_lo"),
            ("given_sound", "surname1_sound~surname2_sound"),
        )
    )
    rules = build_blocking_rules(settings, prepared)
    sqls = [r.get_blocking_rule("duckdb").blocking_rule_sql for r in rules]
    assert len(sqls) == 3
    assert "birth_year_lo" in sqls[0] and "initials" in sqls[0]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("threshold", "high", "threshold must be a number"),
        ("max_pairs_u", "many", "max_pairs_u must be a number"),
        ("em_max_pairs", [1, 2], "em_max_pairs must be a number"),
        ("em_max_iterations", 2.5, "em_max_iterations must be a whole number"),
        ("prior_recall", True, "prior_recall must be a number"),
        ("m_floor", "0.001", "m_floor must be a number"),
        ("max_blocked_pairs", 10, "max_blocked_pairs must be of at least 1000"),
        ("work_dir", 3, "work_dir must be the path of a folder"),
        ("work_dir", "", "work_dir must be the path of a folder"),
        ("term_frequency", "yes", "term_frequency must be true or false"),
        ("spark_master", 7, "spark_master must be"),
        ("extra", [1], "extra must be a table"),
        ("comparisons", "curp", "comparisons must be a list"),
        ("blocking", 5, "blocking must be 'default', 'large' or a list"),
        ("blocking", [["curp"], 3], "blocking must be 'default', 'large' or a list"),
    ],
)
def test_wrong_types_in_a_project_table_are_clear_errors(key, value, words):
    """A project file's [linkage] values of the wrong type raised ValueError or TypeError (a
    traceback in the CLI)."""
    with pytest.raises(InputError, match=words):
        LinkageSettings.from_dict({key: value})


@pytest.mark.parametrize("bad", [{"threshold": "high", "blocking": 5}, {"comparisons": "curp", "m_floor": 0.3},
                                 {"blocking": [["curp"], 3], "comparisons": 7, "seed": -1}])
def test_every_invalid_value_is_reported_at_once_blocking_and_comparisons_included(bad):
    """docs/linkage.md: "reports every invalid value at once, values of the wrong type included
    (threshold = "high", blocking = 5)". A blocking or comparisons value of the wrong type was raised
    alone, and the other problems were lost."""
    with pytest.raises(InputError) as info:
        LinkageSettings.from_dict(bad)
    message = str(info.value)
    assert message.startswith("invalid linkage settings:")
    for key in bad:
        assert f"- {key} must" in message, (key, message)


def test_work_dir_round_trips_as_text(tmp_path):
    s = LinkageSettings.from_dict({"work_dir": tmp_path})
    assert s.work_dir == str(tmp_path)
    assert LinkageSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
