"""Disclosure control on hand-built tables (cifranegra.report.disclosure)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from cifranegra.errors import InputError
from cifranegra.estimation import CaptureHistories
from cifranegra.report.disclosure import (
    DisclosurePolicy,
    capture_pattern_table,
    protect_estimates,
    protect_tables,
    round_estimate,
    shown,
)
from report.disclosure_helpers import attacker, margin_of, with_margins


def _flags(frame: pd.DataFrame) -> dict[tuple[str, ...], str]:
    dims = [c for c in frame.columns if c not in ("count", "flag")]
    return {tuple(str(frame[d].iloc[r]) for d in dims): frame["flag"].iloc[r] for r in range(len(frame))}


def test_one_primary_in_a_two_by_two_forces_three_secondaries() -> None:
    table = with_margins({("a", "x"): 3, ("a", "y"): 40, ("b", "x"): 30, ("b", "y"): 50}, ["r", "c"])
    out = protect_tables({"t": table})
    flags = _flags(out.tables["t"])
    assert flags[("a", "x")] == "primary"
    assert [flags[k] for k in [("a", "y"), ("b", "x"), ("b", "y")]] == ["secondary"] * 3
    assert all(flags[k] == "" for k in flags if "total" in k)  # every margin published
    assert out.tables["t"]["count"].isna().sum() == 4
    assert out.passed and out.audit["secondary"] == 3


def test_differencing_across_tables_sharing_a_margin_is_caught() -> None:
    # Protected alone, the year×sex table withholds the sex margins (F = 14 would pin the primary 2 next to
    # the secondary 12); the by-sex table, protected alone, publishes F = 14: together they recompute a cell.
    joint = {("2020", "F"): 2, ("2020", "M"): 20, ("2021", "F"): 12, ("2021", "M"): 30}
    by_sex = with_margins({("F",): 14, ("M",): 50}, ["sex"])
    by_year_sex = with_margins(joint, ["year", "sex"])
    tables = {"sex": by_sex, "year_sex": by_year_sex}
    alone = {name: protect_tables({name: t}).tables[name] for name, t in tables.items()}
    assert alone["sex"]["flag"].tolist() == ["", "", ""]
    leaked = attacker(tables, alone, 11)
    assert any(hi - lo < 1e-6 for lo, hi in leaked.values()), "premise: separate protection leaks"
    together = protect_tables(tables)
    bounds = attacker(tables, together.tables, 11)
    assert all(hi - lo >= 3 - 1e-6 for (name, r), (lo, hi) in bounds.items()
               if together.tables[name]["flag"].iloc[r] == "primary")
    assert all(hi - lo >= 1 - 1e-6 for lo, hi in bounds.values())
    assert together.passed


def test_non_negativity_attack_is_audited() -> None:
    # 1-D: cells 3 and 11, total 14. Gaussian elimination withholds 11 (3 = 14 − 11 otherwise); but the
    # flags say the secondary is at least 11, so 3 ≤ 14 − 11 = 3: the primary is pinned to [1, 3]. The audit
    # must widen it by withholding the total as well.
    table = with_margins({("a",): 3, ("b",): 11}, ["g"])
    out = protect_tables({"t": table})
    assert out.tables["t"]["flag"].tolist() == ["primary", "secondary", "secondary"]
    cell = next(c for c in out.audit["withheld_cells"] if c["flag"] == "primary")
    assert (cell["lower"], cell["upper"]) == (1, 10)
    assert out.audit["audit_rounds"] == 2


def test_zeros_published_small_counts_never() -> None:
    table = with_margins({("a", "x"): 0, ("a", "y"): 12, ("b", "x"): 1, ("b", "y"): 60,
                          ("c", "x"): 25, ("c", "y"): 10}, ["r", "c"])
    out = protect_tables({"t": table}).tables["t"]
    zero = (out["r"] == "a") & (out["c"] == "x")
    assert out.loc[zero, "count"].iloc[0] == 0 and out.loc[zero, "flag"].iloc[0] == ""
    published = out["count"].dropna()
    assert not published.between(1, 10).any()
    assert set(out["flag"]) <= {"", "primary", "secondary"}
    assert (out["flag"] != "").equals(out["count"].isna())


def test_audit_is_json_and_holds_no_withheld_value() -> None:
    table = with_margins({("a", "x"): 3, ("a", "y"): 40, ("b", "x"): 30, ("b", "y"): 50}, ["r", "c"])
    audit = protect_tables({"t": table}).audit
    text = json.dumps(audit)
    assert json.loads(text)["passed"] is True
    assert all(set(c) == {"table", "cell", "flag", "lower", "upper", "at_flag_limit"}
               for c in audit["withheld_cells"])
    assert audit["tables"]["t"] == {"cells": 9, "published": 5, "primary": 1, "secondary": 3}
    assert audit["required_range"] == {"primary": 3, "secondary": 1}


def test_protection_width_is_enforced() -> None:
    # 1-D: 4 + 6 + 40 = 50; Gaussian elimination withholds 4, 6 (both primary) and nothing else; then 4 + 6 = 10
    # with each in 1..9: width 8. With a width of 9 the audit must open the box further (withhold 40 too)
    table = with_margins({("a",): 4, ("b",): 6, ("c",): 40}, ["g"])
    relaxed = protect_tables({"t": table}, DisclosurePolicy(protection_width=8))
    assert relaxed.audit["secondary"] == 0
    strict = protect_tables({"t": table}, DisclosurePolicy(protection_width=9))
    assert strict.audit["secondary"] >= 1 and strict.passed
    widths = [c["upper"] - c["lower"] for c in strict.audit["withheld_cells"] if c["flag"] == "primary"]
    assert min(widths) >= 9


def test_policy_validation_names_the_key() -> None:
    with pytest.raises(InputError, match="'threshold' must be at least 3"):
        DisclosurePolicy(threshold=2)
    with pytest.raises(InputError, match="'protection_width' must be between 1 and threshold − 2 = 9"):
        DisclosurePolicy(protection_width=10)
    with pytest.raises(InputError, match="'min_lists' must be a whole number, got 'three'"):
        DisclosurePolicy(min_lists="three")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="'round_to' must be a whole number, got True"):
        DisclosurePolicy(round_to=True)
    with pytest.raises(InputError, match=r"unknown key.*'thresold'.*the keys are threshold"):
        DisclosurePolicy.from_dict({"thresold": 11})
    p = DisclosurePolicy.from_dict({"threshold": 6})
    assert p.width == 1 and p.to_dict()["protection_width"] == 1
    assert DisclosurePolicy().to_dict()["protection_width"] == 3


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"g": ["a", "b", "total"], "count": [3, 20, 24]}), r"row 3 \(g=total\): the margin does not equal"),
    (pd.DataFrame({"g": ["a", "total"], "n": [3, 3]}), "has no 'count' column"),
    (pd.DataFrame({"g": ["a", "b"], "count": [3, 2.5]}), "row 2, column 'count': not a count"),
    (pd.DataFrame({"g": ["a", "b"], "count": [3, -1]}), "row 2, column 'count': not a count"),
    (pd.DataFrame({"g": ["a", None], "count": [3, 1]}), "row 2, column 'g': empty"),
    (pd.DataFrame({"g": ["a", "a"], "count": [3, 1]}), "row 2: the same combination"),
    (pd.DataFrame({"g": ["a", "a", "b"], "h": ["x", "y", "x"], "count": [1, 2, 3]}), "no row for g=b, h=y"),
    (pd.DataFrame({"g": ["a"], "count": [3], "flag": [""]}), "already has a 'flag' column"),
    (pd.DataFrame({"count": [3]}), "no dimension columns"),
])
def test_bad_tables_are_clear_errors(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        protect_tables({"t": frame})


def test_tables_that_disagree_or_differ_in_categories_are_errors() -> None:
    a = with_margins({("x",): 20, ("y",): 30}, ["g"])
    b = with_margins({("x", "1"): 20, ("y", "1"): 31}, ["g", "h"])
    with pytest.raises(InputError, match="tables 'a' and 'b' disagree on their common margin \\(g\\)"):
        protect_tables({"a": a, "b": b})
    c = with_margins({("x",): 20, ("z",): 30}, ["g"])
    with pytest.raises(InputError, match="different categories of 'g' \\('y' is in only one\\)"):
        protect_tables({"a": a, "c": c})
    with pytest.raises(InputError, match="no tables"):
        protect_tables({})


def test_capture_pattern_table_is_a_consistent_national_table() -> None:
    h = CaptureHistories.from_counts({"100": 40, "010": 25, "001": 30, "110": 7, "101": 12, "011": 3, "111": 2},
                                     ["A", "B", "C"])
    table = capture_pattern_table(h)
    assert len(table) == 8 + 1 + 3 + 3
    total = table[(table[["A", "B", "C"]] == "total").all(axis=1)]["count"].iloc[0]
    assert total == h.observed
    size_a = table[(table["A"] == 1) & (table["B"] == "total") & (table["C"] == "total")]["count"].iloc[0]
    assert size_a == 40 + 7 + 12 + 2
    # released with a table of the same persons: their grand totals agree, small patterns are withheld
    by_sex = with_margins({("F",): 80, ("M",): 39}, ["sex"])
    out = protect_tables({"patterns": table, "sex": by_sex})
    pat = out.tables["patterns"]
    assert pat.loc[pat["count"].isna(), "flag"].isin(["primary", "secondary"]).all()
    assert not pat["count"].dropna().between(1, 10).any() and out.passed
    bounds = attacker({"patterns": table, "sex": by_sex}, out.tables, 11)
    assert all(hi - lo >= 1 - 1e-6 for lo, hi in bounds.values())


def test_capture_pattern_table_of_two_lists_has_no_separate_pair_row() -> None:
    # with two lists the one overlap is the pattern 11: a second row for it would be a duplicate
    h = CaptureHistories.from_counts({"10": 50, "01": 60, "11": 20}, ["A", "B"])
    table = capture_pattern_table(h)
    assert len(table) == 4 + 1 + 2
    out = protect_tables({"patterns": table})
    assert out.passed and out.tables["patterns"]["count"].notna().all()


def test_capture_pattern_table_limits() -> None:
    h = CaptureHistories.from_counts({"10": 5, "01": 6, "11": 2}, ["count", "B"])
    with pytest.raises(InputError, match="a list is named 'count'"):
        capture_pattern_table(h)


@pytest.mark.parametrize(("value", "rounded"), [
    (0, 0), (4.9, 0), (5, 10), (1234.4, 1230), (1235, 1240), (9994, 9990), (9996, 10000), (10000, 10000),
    (10049, 10000), (10050, 10100), (123456, 123500), (math.inf, math.inf),
])
def test_round_estimate(value: float, rounded: float) -> None:
    assert round_estimate(value) == rounded


def test_rounding_is_monotone() -> None:
    xs = np.linspace(0, 30000, 60001)
    r = [round_estimate(float(x)) for x in xs]
    assert all(a <= b for a, b in itertools.pairwise(r))


def test_estimates_rounded_or_not_estimable_with_the_reason() -> None:
    frame = pd.DataFrame({
        "state": ["01", "02", "03", "04", "total"],
        "observed": [40, 7, 30, 25, 102],
        "lists_with_records": [4, 4, 2, 3, 5],
        "estimate": [123.4, 18.0, 95.0, np.nan, 12345.0],
        "lower": [80.1, 9.0, 50.0, np.nan, 11001.0],
        "upper": [250.0, 60.0, 300.0, np.nan, math.inf],
        "reason": ["", "", "", "", ""],
    })
    out = protect_estimates(frame)
    assert list(out.columns) == ["state", "estimate", "lower", "upper", "flag"]
    assert out["flag"].tolist() == ["", "not estimable: fewer than 11 observed persons",
                                    "not estimable: fewer than 3 lists with records", "not estimable: no estimate", ""]
    assert out["estimate"].tolist()[0] == 120 and out["lower"].iloc[0] == 80 and out["upper"].iloc[0] == 250
    assert out["estimate"].iloc[1:4].isna().all() and out["lower"].iloc[1:4].isna().all()
    assert out["estimate"].iloc[4] == 12300 and out["lower"].iloc[4] == 11000 and out["upper"].iloc[4] == math.inf
    frame.loc[0, "reason"] = "no extended MLE"
    assert protect_estimates(frame)["flag"].iloc[0] == "not estimable: no extended MLE"
    frame.loc[0, "reason"] = "not estimated: the stratum value is unknown"  # the run's wording, not said twice
    assert protect_estimates(frame)["flag"].iloc[0] == "not estimable: the stratum value is unknown"
    frame.loc[0, "reason"] = "no extended MLE"
    strict = protect_estimates(frame.drop(columns="reason"), DisclosurePolicy(min_observed=50))
    assert strict["flag"].iloc[0] == "not estimable: fewer than 50 observed persons"
    with pytest.raises(InputError, match="no column\\(s\\) 'observed'"):
        protect_estimates(frame.drop(columns="observed"))


def test_shown_in_reports() -> None:
    assert shown(None, "primary") == "<11"
    assert shown(None, "primary", DisclosurePolicy(threshold=5)) == "<5"
    assert shown(None, "secondary") == "[c]"
    assert shown(None, "not estimable: fewer than 3 lists with records", not_estimable="n.e.") == "n.e."
    assert shown(1234, "", number=lambda v: f"{v:,}") == "1,234"
    with pytest.raises(InputError, match="unknown disclosure flag"):
        shown(3, "hidden")


def test_margins_shared_by_tables_in_different_cliques() -> None:
    # state × sex and state × age share only the state margins (two cliques tied by equal state totals);
    # without that tie the state × sex table would withhold the state totals the state × age table publishes
    dims = ["state", "sex", "age"]
    joint = {("X", "F", "child"): 30, ("X", "F", "adult"): 1, ("X", "M", "child"): 3, ("X", "M", "adult"): 5,
             ("Y", "F", "child"): 30, ("Y", "F", "adult"): 2, ("Y", "M", "child"): 8, ("Y", "M", "adult"): 2}
    tables = {"state_sex": margin_of(joint, dims, ["state", "sex"]),
              "state_age": margin_of(joint, dims, ["state", "age"])}
    out = protect_tables(tables)
    assert out.audit["unknowns"] == 8  # two 2×2 cliques, state × sex and state × age
    totals = {name: out.tables[name].loc[out.tables[name].iloc[:, 1] == "total", "flag"].tolist()
              for name in tables}
    assert totals["state_sex"] == totals["state_age"]  # the same cells get the same fate in both tables
    bounds = attacker(tables, out.tables, 11)
    assert all(hi - lo >= 1 - 1e-6 for lo, hi in bounds.values()) and out.passed
