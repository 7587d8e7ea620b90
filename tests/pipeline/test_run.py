"""End to end: CSV lists → Splink/DuckDB → entities → capture histories → estimates → files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pipeline_helpers import PROJECT, write_lists

from cifranegra.cli import main
from cifranegra.errors import ModelError, ValidationError
from cifranegra.pipeline import run_project, tabulate


def test_run_writes_results(project_dir, small_records):
    steps = []
    result = run_project(project_dir / "project.toml", progress=lambda s, d, t: steps.append(s), publish=False)
    out = project_dir / "out" / "internal"
    for name in ("results.json", "estimates.csv", "capture_histories.csv", "capture_histories_by_stratum.csv",
                 "entities.csv", "linkage_model.json"):
        assert (out / name).exists(), name
    entities = pd.read_csv(out / "entities.csv", dtype={"record_id": str})
    assert len(entities) == len(small_records)  # no record lost
    assert not {"given_names", "first_surname", "curp", "birth_date"} & set(entities.columns)
    body = json.loads((out / "results.json").read_text())
    assert body["linkage"]["settings"]["seed"] == 3
    assert body["project"]["lists"][0]["source"] == "L1"
    assert all(len(i["sha256"]) == 64 for i in body["inputs"])
    model = json.loads((out / "linkage_model.json").read_text())
    assert model["model"]["comparisons"]
    est = pd.read_csv(out / "estimates.csv")
    overall = est[(est["stratum"] == "all") & (est["method"] == "chapman")].iloc[0]
    truth = small_records["person_id"].nunique()
    assert overall["estimate"] >= truth * 0.8
    assert any(s.startswith("linkage") for s in steps)
    assert "persons by number of lists" in result.summary_text()
    # issue 14, item 6: the summary and results.json say in plain words that the estimate is a lower
    # bound where victims are out of reach of every agency
    from cifranegra.pipeline.run import LOWER_BOUND_NOTE

    assert "lower bound: victims whom every agency is unlikely to reach" in result.summary_text()
    assert body["caveats"] == [{"code": "unreached_victims", "text": LOWER_BOUND_NOTE}]


def test_linkage_sensitivity(project_dir, small_records):
    """N-hat re-estimated at other thresholds from the same linked pairs: at the run's own threshold it
    is the run's estimate; raising the threshold only removes links, so persons never decrease."""
    result = run_project(project_dir / "project.toml", publish=False)
    rows = result.sensitivity
    assert [r["threshold"] for r in rows] == [0.5, 0.8, 0.9, 0.95]
    assert [r["run_threshold"] for r in rows] == [True, False, False, False]
    assert all(r["method"] == "chapman" and r["error"] is None for r in rows)
    main_row = next(e for e in result.estimates if e["stratum"] == "all" and e["method"] == "chapman")
    assert rows[0]["estimate"] == pytest.approx(main_row["estimate"], rel=1e-12)
    assert rows[0]["observed"] == result.histories.observed
    observed = [r["observed"] for r in rows]
    assert observed == sorted(observed)
    assert observed[-1] <= len(small_records)
    csv = pd.read_csv(project_dir / "out" / "internal" / "linkage_sensitivity.csv")
    assert list(csv["threshold"]) == [0.5, 0.8, 0.9, 0.95]
    body = json.loads((project_dir / "out" / "internal" / "results.json").read_text())
    assert body["linkage_sensitivity"] == json.loads(json.dumps(rows))
    assert "linkage sensitivity (all, chapman" in result.summary_text()


def test_linkage_sensitivity_off(project_dir):
    text = (project_dir / "project.toml").read_text(encoding="utf-8")
    (project_dir / "project.toml").write_text(
        text.replace("[estimation]", "[estimation]\nlinkage_sensitivity = []"), encoding="utf-8"
    )
    result = run_project(project_dir / "project.toml", publish=False)
    assert result.sensitivity == []
    assert not (project_dir / "out" / "internal" / "linkage_sensitivity.csv").exists()
    assert "linkage sensitivity" not in result.summary_text()


def test_cli_run_and_missing_file(project_dir, capsys):
    assert main(["run", str(project_dir / "project.toml"), "-q", "--no-publish", "-o", str(project_dir / "cli")]) == 0
    assert "estimate" in capsys.readouterr().out
    (project_dir / "L2.csv").unlink()
    assert main(["run", str(project_dir / "project.toml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "L2.csv" in err and "does not exist" in err and "Traceback" not in err


def test_lists_with_no_overlap_are_refused(tmp_path, small_records):
    rec = small_records.copy()
    # two lists of different people: nobody on both
    rec = rec[((rec["source"] == "L1") & (rec["person_id"] % 2 == 0))
              | ((rec["source"] == "L2") & (rec["person_id"] % 2 == 1))]
    lists = write_lists(tmp_path, rec)
    (tmp_path / "project.toml").write_text(PROJECT.format(lists=lists), encoding="utf-8")
    with pytest.raises(ModelError, match="cannot be done"):
        run_project(tmp_path / "project.toml", write=False)


def test_incompatible_lists_are_refused(tmp_path, small_records):
    rec = small_records.copy()
    names = ["given_names", "first_surname", "second_surname"]
    a = rec[rec["source"] == "L1"].copy()
    a[["curp", "birth_date", "birth_year"]] = None
    b = rec[rec["source"] == "L2"].copy()
    b[names] = None
    b["curp"] = b["curp"].fillna("HEGM900307MDFRRR09")
    b = b.drop_duplicates("curp")
    a.drop(columns=["person_id", "source"]).to_csv(tmp_path / "L1.csv", index=False)
    b.drop(columns=["person_id", "source", *names, "birth_date", "birth_year"]).to_csv(
        tmp_path / "L2.csv", index=False)
    lists = '[[lists]]\nsource = "L1"\npath = "L1.csv"\n[[lists]]\nsource = "L2"\npath = "L2.csv"\n'
    (tmp_path / "project.toml").write_text(PROJECT.format(lists=lists), encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        run_project(tmp_path / "project.toml", write=False)
    assert "incompatible_schema" in {p.code for p in exc.value.problems}


def test_a_single_list_is_refused(tmp_path, small_records):
    """At load, before any linkage (it used to be refused only after it); tabulate refuses too."""
    lists = write_lists(tmp_path, small_records[small_records["source"] == "L1"])
    (tmp_path / "project.toml").write_text(PROJECT.format(lists=lists), encoding="utf-8")
    with pytest.raises(ValidationError, match="at least two lists"):
        run_project(tmp_path / "project.toml", write=False)
    entities = small_records.assign(entity_id=small_records["person_id"])
    with pytest.raises(ModelError, match="at least two lists"):
        tabulate(entities[entities["source"] == "L1"], ["L1"])


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, capsys):
    """`cifranegra demo` on the bundled lists (about a minute: 5,845 records, three strata)."""
    assert main(["demo", "-q", "-o", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "estimate" in text and text.rstrip().endswith("only publish/ may leave the office; internal/ stays in it")
    publish = tmp_path / "publish"
    if "publication (disclosure-controlled)" in text:  # the report extra is installed
        assert {f"report-{lang}.{fmt}" for lang in ("es", "en") for fmt in ("html", "pdf")} <= {
            p.name for p in publish.iterdir()}
    else:
        assert not publish.exists() and "cifranegra[report]" in text
    est = pd.read_csv(tmp_path / "internal" / "estimates.csv")
    overall = est[est["stratum"] == "all"].iloc[0]
    assert 3500 < overall["estimate"] < 6500  # true N is 5,000


def test_run_reports_the_stratified_total(project_dir, capsys):
    """Every stratified run: results.json `stratified_total` per method next to the pooled estimate,
    a "stratified total" row in estimates.csv, the comparison in the summary; each stratum its own
    seed (derived from the project's), so `estimate --strata` on the run's table gives the same numbers."""
    result = run_project(project_dir / "project.toml", publish=False)
    out = project_dir / "out" / "internal"
    body = json.loads((out / "results.json").read_text())
    totals = body["stratified_total"]
    assert set(totals) == {"chapman", "loglinear"}
    est = pd.read_csv(out / "estimates.csv")
    for method, t in totals.items():
        rows = {r["stratum"]: r for r in result.estimates if r["method"] == method}
        known = [r for s, r in rows.items() if s.startswith("sex=") and s != "sex=unknown"]
        assert t["strata_estimated"] == [r["stratum"].replace(" | ", ", ") for r in known]
        assert t["pooled_estimate"] == rows["all"]["estimate"]
        factor = t["unknown_allocated"]["factor"]
        assert t["observed"] == result.histories.observed  # every person, unknown sex included
        assert t["estimate"] == pytest.approx(factor * sum(r["estimate"] for r in known), rel=1e-12)
        assert t["interval"]["lower"] < t["estimate"] < t["interval"]["upper"]
        row = est[(est["stratum"] == "stratified total") & (est["method"] == method)].iloc[0]
        assert row["estimate"] == pytest.approx(t["estimate"]) and row["lower"] == pytest.approx(t["interval"]["lower"])
        assert t["comparison"] and t["comparison"] in result.summary_text()
    assert totals["chapman"]["interval"]["method"] == "simulated-sum"
    assert totals["loglinear"]["interval"]["method"] == "stratified-bootstrap-percentile"
    capsys.readouterr()
    assert main(["estimate", str(out / "capture_histories_by_stratum.csv"), "--strata", "sex", "--method",
                 "loglinear", "--seed", "3", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["stratified_total"]
    assert cli["estimate"] == pytest.approx(totals["loglinear"]["estimate"], rel=1e-9)
    assert cli["interval"]["lower"] == pytest.approx(totals["loglinear"]["interval"]["lower"], rel=1e-9)
