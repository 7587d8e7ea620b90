"""The report's inputs written by every run: fitted pattern counts, drop-one-list, identifier shares."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.pipeline import run_project
from cifranegra.pipeline.report_inputs import drop_one_list, fitted_patterns, identifier_counts

TABLE = pd.DataFrame({"a": [1, 0, 1, 1, 0, 1, 0], "b": [0, 1, 1, 0, 1, 1, 0], "c": [0, 0, 0, 1, 1, 1, 1],
                      "count": [120, 90, 30, 25, 20, 8, 100]})


@pytest.fixture()
def histories() -> CaptureHistories:
    return CaptureHistories.from_frame(TABLE, lists=["a", "b", "c"], count="count")


def test_fitted_patterns_match_the_model(histories) -> None:
    res = estimate(histories, "loglinear", model="[12,3]", interval="none")
    out = fitted_patterns(histories, "loglinear", res.model)
    rows = pd.DataFrame(out["rows"])
    assert len(rows) == 7 and out["note"] is None
    assert rows["observed"].sum() == histories.observed
    # a Poisson log-linear fit with an intercept keeps the observed total; the 12 term fits the a×b margin
    assert rows["fitted"].sum() == pytest.approx(histories.observed)
    ab = rows[(rows["a"] == 1) & (rows["b"] == 1)]
    assert ab["fitted"].sum() == pytest.approx(ab["observed"].sum())
    assert set(rows["pattern"]) == {"100", "010", "110", "001", "101", "011", "111"}
    saturated = fitted_patterns(histories, "loglinear", "[12,13,23]")
    assert np.allclose([r["fitted"] for r in saturated["rows"]], [r["observed"] for r in saturated["rows"]])


def test_fitted_patterns_say_why_not(histories) -> None:
    assert fitted_patterns(histories, "dga", None)["note"].startswith("fitted counts per capture pattern are given")
    assert "fitted no model" in fitted_patterns(histories, "loglinear", None)["note"]


def test_drop_one_list_estimates_each_scenario(histories) -> None:
    rows = drop_one_list(histories, "loglinear", {"select": "bic"}, seed=1)
    assert [r["list"] for r in rows] == ["a", "b", "c"]
    for r in rows:
        keep = [x for x in histories.lists if x != r["list"]]
        expected = estimate(histories.select_lists(keep), "loglinear", select="bic", interval="none", seed=1)
        assert r["estimate"] == pytest.approx(expected.estimate) and r["lists"] == 2 and r["error"] is None


def test_drop_one_list_keeps_a_scenario_that_fails() -> None:
    h = CaptureHistories.from_frame(pd.DataFrame({"a": [1, 0, 1], "b": [0, 1, 1], "count": [5, 6, 2]}),
                                    lists=["a", "b"], count="count")
    rows = drop_one_list(h, "chapman", {}, seed=1)
    assert len(rows) == 2 and all(r["estimate"] is None and r["error"] for r in rows)


def test_identifier_counts_count_present_non_blank_values() -> None:
    records = pd.DataFrame({"curp": ["X", None, ""], "given_names": ["ANA", "LUIS", None],
                            "first_surname": ["LOPEZ", None, "RUIZ"], "birth_date": [None, "2001-01-01", None]})
    assert identifier_counts(records) == {"curp": 1, "full_name": 1, "birth_date": 1}
    assert identifier_counts(pd.DataFrame({"sex": ["female"]})) == {"curp": 0, "full_name": 0, "birth_date": 0}


def test_a_run_writes_the_report_inputs(project_dir, small_records) -> None:
    run_project(project_dir / "project.toml", publish=False)
    out = project_dir / "out" / "internal"
    body = json.loads((out / "results.json").read_text())
    assert body["fitted_patterns"]["method"] == "chapman" and "log-linear" in body["fitted_patterns"]["note"]
    assert [r["list"] for r in body["drop_one_list"]] == ["L1", "L2"]  # two lists: one left is not estimable
    assert (out / "drop_one_list.csv").is_file() and not (out / "fitted_patterns.csv").exists()
    for i in body["inputs"]:
        sub = small_records[small_records["source"] == i["source"]]
        # a CURP counts when it is valid (the synthetic ones have wrong check digits); names as read
        assert 0 <= i["records_with"]["curp"] <= i["records"]
        assert i["records_with"]["full_name"] == int((sub["given_names"].notna() & sub["first_surname"].notna()).sum())
