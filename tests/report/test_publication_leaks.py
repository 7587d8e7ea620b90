"""Counts and estimates that reached publish/ around disclosure control (adversarial review of the release).

The rules they check are docs/publication.md, "Disclosure control": every published count goes through
``protect_tables`` (counts 1 … threshold − 1 withheld), and "an estimate is published only for a stratum with at
least ``min_observed`` observed persons and ``min_lists`` lists with records" (``protect_estimates``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.report.disclosure import DisclosurePolicy, protect_estimates
from cifranegra.report.release import build_release, metadata, read_run

EVERYTHING_WITHHELD = DisclosurePolicy(threshold=10_000)  # every count of the small run is 1 … threshold − 1
NOTHING_ESTIMABLE = DisclosurePolicy(min_observed=10_000)  # every stratum is below the minimums


def test_metadata_counts_are_the_published_ones(run_dir: Path) -> None:
    """metadata.json must not publish a record or person count that the tables withhold: the records per list
    (``input_fingerprints``, ``lists``), the records and persons linked (``linkage``), nor the linkage's pair
    counts, which with the published totals give the distribution of persons by number of lists."""
    rel = build_release(run_dir, EVERYTHING_WITHHELD)
    assert rel.records.tables["records_by_list"]["records"].isna().all()
    meta = json.loads(json.dumps(metadata(rel), default=str))
    assert [i["records"] for i in meta["input_fingerprints"]] == [None] * len(rel.run.records)
    assert [x["records"] for x in meta["lists"]] == [None] * len(rel.run.records)
    assert meta["linkage"]["n_records"] is None and meta["linkage"]["n_entities"] is None
    assert "pairs_kept" not in meta["linkage"] and "links_at_threshold" not in meta["linkage"]
    # with the default policy the published numbers are there, equal to the tables'
    rel = build_release(run_dir)
    meta = json.loads(json.dumps(metadata(rel), default=str))
    published = rel.records.tables["records_by_list"].set_index("list")["records"]
    assert [i["records"] for i in meta["input_fingerprints"]] == [
        None if pd.isna(published[i["source"]]) else int(published[i["source"]]) for i in meta["input_fingerprints"]]
    assert meta["linkage"]["n_entities"] == rel.detected[0] == rel.run.histories.observed


def test_linkage_sensitivity_follows_the_estimate_rules(run_dir: Path) -> None:
    """The estimates at other linkage thresholds are estimates: rounded, and not published below the minimums
    (they were rounded only, so a run with 2 lists or 10 persons published them beside "not estimable")."""
    from cifranegra.report.render import _Fmt, _linkage

    rel = build_release(run_dir, NOTHING_ESTIMABLE)
    raw = [r for r in rel.run.results["linkage_sensitivity"] if r.get("estimate") is not None]
    assert len(raw) > 1 and rel.chosen()["flag"]
    meta = metadata(rel)
    assert all(s["estimate"] is None for s in meta["linkage"]["sensitivity"])
    section = _linkage(rel, _Fmt("en", rel.policy), "en")
    table = next(b for b in section["blocks"] if b["kind"] == "table")
    assert {row["cells"][2] for row in table["rows"]} == {"not estimable"}
    assert rel.sensitivity["estimate"].isna().all()
    assert rel.sensitivity["flag"].str.startswith("not estimable: fewer than").all()
    # above the minimums: rounded, as before
    rel = build_release(run_dir)
    assert (rel.sensitivity["estimate"] % rel.policy.round_to == 0).all() and not rel.sensitivity["flag"].any()
    # the headline combines imputed linkages, the rows are single linkages: the table says so, in each language
    assert rel.row()["interval_includes"].endswith("linkage")
    for lang, words in (("en", "combines several imputed linkages"), ("es", "combina varias vinculaciones")):
        table = next(b for b in _linkage(rel, _Fmt(lang, rel.policy), lang)["blocks"] if b["kind"] == "table")
        assert words in table["note"]
    # a run without imputation has nothing to explain
    row = next(e for e in rel.run.results["estimates"] if e.get("stratum") == "all" and e.get("method") == rel.method)
    kept, row["interval_includes"] = row["interval_includes"], "sampling+model_selection"
    try:
        table = next(b for b in _linkage(rel, _Fmt("en", rel.policy), "en")["blocks"] if b["kind"] == "table")
        assert table["note"] == ""
    finally:
        row["interval_includes"] = kept


def _with_models(run_dir: Path) -> Any:
    """The run with a ranked model table in the chosen result (as a run with fixed linkage keeps it)."""
    run = read_run(run_dir)
    results = copy.deepcopy(run.results)
    row = next(e for e in results["estimates"] if e["stratum"] == "all" and e["method"] == "loglinear")
    result = next(r for r in results["results"] if r.get("method") == "loglinear"
                  and r.get("estimate") == row["estimate"] and r.get("observed") == row.get("observed"))
    result["details"] = {"models": [{"rank": 1, "model": "[1,2,3,4]", "terms": "[1,2,3,4]", "bic": 10.0,
                                     "estimate": 1234.0},
                                    {"rank": 2, "model": "[12,3,4]", "terms": "12", "bic": 11.5,
                                     "estimate": 1456.0}]}
    return dataclasses.replace(run, results=results)


def test_model_table_not_published_for_a_stratum_below_the_minimums(run_dir: Path) -> None:
    """The model-selection table shows each model's (rounded) estimate of all persons: when the chosen estimate
    is "not estimable" under the policy's minimums, those estimates must not be published either."""
    from cifranegra.report.render import _Fmt, _models

    run = _with_models(run_dir)
    rel = build_release(run)
    section = _models(rel, _Fmt("en", rel.policy), "en")
    table = next(b for b in section["blocks"] if b["kind"] == "table")
    assert [row["cells"][3] for row in table["rows"]] == ["1,230", "1,460"]  # the path is exercised
    rel = build_release(run, NOTHING_ESTIMABLE)
    section = _models(rel, _Fmt("en", rel.policy), "en")
    assert not [b for b in section["blocks"] if b["kind"] == "table" and b["caption"] == "Model selection"]
    text = json.dumps(section, default=str)
    assert "1,230" not in text and "1,460" not in text


def test_the_minimums_come_before_the_runs_own_reason() -> None:
    """Below the minimums a row says only "fewer than …": the run's reason for a small stratum names the one
    list that holds all of its persons, or says that no one is on two lists (docs/publication.md: a stratum
    below the minimums is "not estimable" and its counts are published only through protect_tables)."""
    frame = pd.DataFrame({
        "stratum": ["state=07", "state=15", "state=09", "all"],
        "observed": [3, 7, 40, np.nan],
        "lists_with_records": [1, 3, 4, np.nan],
        "estimate": [np.nan, np.nan, np.nan, np.nan],
        "lower": [np.nan] * 4,
        "upper": [np.nan] * 4,
        "reason": ["capture–recapture needs at least two lists, found 1 (['dif']); add another agency's list",
                   "no one in table stratum state=15 is on more than one list",
                   "no extended MLE",
                   "the linkage failed"],
    })
    flags = protect_estimates(frame)["flag"].tolist()
    assert flags == ["not estimable: fewer than 11 observed persons", "not estimable: fewer than 11 observed persons",
                     "not estimable: no extended MLE", "not estimable: the linkage failed"]


def test_a_runs_reason_with_a_number_is_not_published() -> None:
    """Above the minimums the run's reason is published, but a number in it can be a count the release
    publishes only rounded or not at all (dga on a cross stratum: "max_n must exceed the observed count 23");
    the release gives a fixed sentence instead (docs/publication.md, protect_estimates)."""
    from cifranegra.report.disclosure import RUN_REASON_WITH_NUMBERS

    frame = pd.DataFrame({
        "stratum": ["state=09 | exploitation=forced_labour", "state=15"],
        "observed": [23, 40],
        "lists_with_records": [3, 4],
        "estimate": [np.nan, np.nan],
        "lower": [np.nan] * 2,
        "upper": [np.nan] * 2,
        "reason": ["max_n (20) must exceed the observed count 23", "no extended MLE"],
    })
    flags = protect_estimates(frame)["flag"].tolist()
    assert flags == [f"not estimable: {RUN_REASON_WITH_NUMBERS}", "not estimable: no extended MLE"]
    assert not any(ch.isdigit() for ch in RUN_REASON_WITH_NUMBERS)


def test_sources_table_period_without_a_period_set(run_dir: Path) -> None:
    """A project whose [publication] period is not set keeps it as null in results.json; the sources table
    showed "None" for every list's period instead of the reference year (as the report's metadata does)."""
    from cifranegra.report.render import _Fmt, _sources

    rel = build_release(run_dir)
    rel = dataclasses.replace(rel, publication={**rel.publication, "period": None})
    table = next(b for b in _sources(rel, _Fmt("en", rel.policy))["blocks"] if isinstance(b, dict) and "rows" in b)
    periods = [row["cells"][-1] for row in table["rows"] if row["css"] != "margin"]
    assert "None" not in periods and str(rel.year) in periods


def test_a_combined_estimate_does_not_claim_its_method_ranks_no_models(run_dir: Path) -> None:
    """The demo's report said "this method does not rank models (log-linear models (loglinear))" for a
    log-linear estimate combined over imputed linkages; log-linear models are ranked, once per linkage."""
    from cifranegra.report.render import _Fmt, _models

    rel = build_release(run_dir)
    assert rel.method == "loglinear" and rel.row()["interval_includes"].endswith("linkage")
    assert not ((rel.result() or {}).get("details") or {}).get("models")  # the combination keeps no table
    for lang, said, not_said in (("en", "combines the estimates of several imputed linkages", "does not rank"),
                                 ("es", "combina las estimaciones de varias vinculaciones", "no ordena")):
        text = " ".join(str(b.get("text", "")) for b in _models(rel, _Fmt(lang, rel.policy), lang)["blocks"])
        assert said in text and not_said not in text, text
