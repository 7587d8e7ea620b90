"""Issue 12, the run: everything that can be checked before the linkage is checked before it and
reported together; the user's mistakes end in a clear message, never a traceback; the run's
capture-history files feed `cifranegra estimate` as they are."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from pipeline_helpers import PROJECT, write_lists

import cifranegra.pipeline.run as run_module
from cifranegra.cli import main
from cifranegra.errors import Problem, ValidationError
from cifranegra.pipeline import load_project, run_project
from cifranegra.pipeline.run import _unrecognised_counts, check_output, histories_by_stratum


@pytest.fixture()
def no_linkage(monkeypatch):
    """Any call of the linkage fails the test: these checks must come before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the linkage started")

    monkeypatch.setattr(run_module, "link_records", refuse)


def _codes(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {p.code for p in exc.value.problems}


def test_output_that_is_a_file_is_refused_before_linkage(project_dir, no_linkage, capsys):
    (project_dir / "out").write_text("not a folder", encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        run_project(project_dir / "project.toml")
    assert _codes(exc) == {"output_not_folder"}
    assert main(["run", str(project_dir / "project.toml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "-o DIR" in err and "Traceback" not in err


def test_output_that_cannot_be_created_is_refused_before_linkage(project_dir, no_linkage, capsys):
    (project_dir / "blocker").write_text("x", encoding="utf-8")
    target = project_dir / "blocker" / "results"  # its parent is a file: no one can create it
    assert main(["run", str(project_dir / "project.toml"), "-q", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert "cannot be created or written" in err and "Traceback" not in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_output_folder_without_write_permission(project_dir, no_linkage):  # pragma: no cover - as root
    locked = project_dir / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(ValidationError) as exc:
            run_project(project_dir / "project.toml", output=locked / "out")
        assert _codes(exc) == {"output_not_writable"}
    finally:
        locked.chmod(0o700)


def test_output_check_leaves_nothing_behind(tmp_path):
    assert check_output(tmp_path / "a" / "b" / "c") == []
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    assert check_output(tmp_path / "kept") == []
    assert list((tmp_path / "kept").iterdir()) == []


def test_problems_before_linkage_are_reported_together(project_dir, no_linkage):
    """An unwritable output and a bad list: both in one message, and the linkage never starts."""
    (project_dir / "out").write_text("x", encoding="utf-8")
    (project_dir / "L2.csv").write_text("given_names,sex\nJUAN,purple\n", encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        run_project(project_dir / "project.toml")
    codes = _codes(exc)
    assert "output_not_folder" in codes and len(codes) > 1
    assert "nothing was linked" in str(exc.value)


def test_a_stratum_no_list_records_is_refused_before_linkage(tmp_path, small_records, no_linkage):
    lists = write_lists(tmp_path, small_records, drop=("sex",))
    (tmp_path / "project.toml").write_text(PROJECT.format(lists=lists), encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        run_project(tmp_path / "project.toml", write=False)
    assert _codes(exc) == {"stratum_not_recorded"}
    assert "remove 'sex' from [tabulation] strata" in str(exc.value)


def test_a_year_stratum_whose_dates_are_all_empty_is_refused_before_linkage(tmp_path, small_records, no_linkage):
    """docs/pipeline.md, 'Checks before linkage': each stratum is recorded by at least one list (`year`
    comes from `registration_date`). A date column present but empty in every list is read as NaT,
    which was not taken for unknown: the run went on with every person in year=unknown and no total."""
    lists = write_lists(tmp_path, small_records.assign(registration_date=""))
    text = PROJECT.format(lists=lists).replace('strata = ["sex"]', 'strata = ["year"]')
    (tmp_path / "project.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        run_project(tmp_path / "project.toml", write=False)
    assert _codes(exc) == {"stratum_not_recorded"}
    assert "remove 'year' from [tabulation] strata" in str(exc.value)


def test_not_enough_memory_for_the_tables_is_refused_before_linkage(project_dir, no_linkage, monkeypatch):
    monkeypatch.setattr(run_module, "_free_memory", lambda: 10)
    with pytest.raises(ValidationError) as exc:
        run_project(project_dir / "project.toml", write=False)
    assert _codes(exc) == {"not_enough_memory"}
    assert "fewer strata or merge lists" in str(exc.value)


def test_a_single_list_and_an_unknown_method_never_reach_linkage(tmp_path, small_records, no_linkage, capsys):
    lists = write_lists(tmp_path, small_records[small_records["source"] == "L1"])
    (tmp_path / "one.toml").write_text(PROJECT.format(lists=lists), encoding="utf-8")
    assert main(["run", str(tmp_path / "one.toml"), "-q"]) == 2
    lists = write_lists(tmp_path, small_records)
    (tmp_path / "bad.toml").write_text(
        PROJECT.format(lists=lists).replace('"chapman", "loglinear"', '"lcmc"'), encoding="utf-8")
    assert main(["run", str(tmp_path / "bad.toml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "at least two" in err and "unknown method 'lcmc'" in err and "Traceback" not in err


def test_tiny_lists_end_in_a_result_or_a_clear_message(tmp_path, small_records, capsys):
    """Two lists of a few records (Splink's training has almost nothing to learn from)."""
    tiny = small_records.groupby("source", sort=True).head(4)
    lists = write_lists(tmp_path, tiny)
    (tmp_path / "project.toml").write_text(
        PROJECT.format(lists=lists).replace('strata = ["sex"]', "strata = []"), encoding="utf-8")
    code = main(["run", str(tmp_path / "project.toml"), "-q", "--no-publish", "-o", str(tmp_path / "out")])
    out = capsys.readouterr()
    assert code in (0, 2), out.err
    assert "Traceback" not in out.err and "internal error" not in out.err
    if code == 0:  # what the linkage said about so few records is in the summary and results.json
        body = json.loads((tmp_path / "out" / "internal" / "results.json").read_text(encoding="utf-8"))
        assert body["linkage"]["warnings"] and all(w.startswith("linkage: ") for w in body["warnings"][:1])
        assert "warning: linkage: " in out.out


def test_capture_histories_feed_cifranegra_estimate(project_dir, capsys):
    """The run's capture_histories.csv is read by `cifranegra estimate` as it is, and gives the same
    estimate; capture_histories_by_stratum.csv with --strata gives each stratum's."""
    result = run_project(project_dir / "project.toml", publish=False)
    out = project_dir / "out" / "internal"
    capsys.readouterr()
    assert main(["estimate", str(out / "capture_histories.csv"), "--method", "chapman", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    row = next(e for e in result.estimates if e["stratum"] == "all" and e["method"] == "chapman")
    assert body["estimate"] == pytest.approx(row["estimate"], rel=1e-12)
    assert body["observed"] == result.histories.observed
    by = pd.read_csv(out / "capture_histories_by_stratum.csv")
    assert list(by.columns) == ["sex", "L1", "L2", "count"]
    assert main(["estimate", str(out / "capture_histories_by_stratum.csv"), "--strata", "sex",
                 "--method", "chapman", "--json"]) == 0
    strata = json.loads(capsys.readouterr().out)["strata"]
    assert by["count"].sum() == result.histories.observed  # every person, unknown sex included
    compared = 0
    for s in strata:
        row = next(e for e in result.estimates if e["stratum"] == f"sex={s['stratum']['sex']}"
                   and e["method"] == "chapman")
        if row["estimate"] is None:  # the run does not estimate persons of unknown sex on their own
            assert s["stratum"]["sex"] == "unknown"
            continue
        assert s["estimate"] == pytest.approx(row["estimate"], rel=1e-12)
        compared += 1
    assert compared == 2


def test_histories_by_stratum_fills_a_list_missing_from_a_stratum():
    from cifranegra.estimation import CaptureHistories

    a = CaptureHistories.from_frame(pd.DataFrame({"L1": [1, 0, 1], "L2": [0, 1, 1], "count": [3, 4, 5]}))
    b = CaptureHistories.from_frame(pd.DataFrame({"L1": [1, 0], "L3": [0, 1], "count": [2, 1]}))
    frame = histories_by_stratum(["sex"], {("female",): a, ("male",): b}, ["L1", "L2", "L3"])
    assert frame.to_dict(orient="list") == {"sex": ["female"] * 3 + ["male"] * 2, "L1": [1, 0, 1, 1, 0],
                                            "L2": [0, 1, 1, 0, 0], "L3": [0, 0, 0, 0, 1],
                                            "count": [3, 4, 5, 2, 1]}


def test_histories_by_stratum_keeps_the_persons_of_strata_not_estimated():
    # docs/pipeline.md: capture_histories_by_stratum.csv is the stratified table `estimate --strata`
    # reads back. A stratum recorded by one list only cannot be estimated (StrataTables.skipped) and
    # its persons were left out of the file: its counts added up to fewer persons than observed
    # (seen on a simulated project: 149 of 153), silently
    from cifranegra.estimation import CaptureHistories

    persons = [(("L1",), "female")] * 3 + [(("L2",), "female")] * 4 + [(("L1", "L2"), "female")] * 5 \
        + [(("L1",), "male"), (("L3",), "male"), (("L1", "L3"), "male")] + [(("L1",), "other")] * 2
    entities = pd.DataFrame([{"entity_id": i, "source": src, "sex": sex}
                             for i, (srcs, sex) in enumerate(persons) for src in srcs])
    tables = CaptureHistories.stratified_from_entities(entities, strata=["sex"], lists=["L1", "L2", "L3"])
    assert ("other",) in tables.skipped  # one list only: not estimated
    frame = histories_by_stratum(["sex"], tables, ["L1", "L2", "L3"])
    assert int(frame["count"].sum()) == len(persons) == 17
    assert frame[frame["sex"] == "other"].to_dict(orient="list") == {
        "sex": ["other"], "L1": [1], "L2": [0], "L3": [0], "count": [2]}


def test_unrecognised_counts_from_the_ingest_warnings():
    problems = [
        Problem("a.csv", None, "exploitation", "warning", "unrecognised_as_unknown",
                "12 row(s) hold a value that is not recognised; set to unknown (rows 3, 5, 9, ...)"),
        Problem("a.csv", None, "sex", "warning", "unrecognised_as_unknown", "1 row(s) ..."),
        Problem("a.csv", 4, "sex", "warning", "other", "7 something"),
    ]
    assert _unrecognised_counts(problems) == {"exploitation": 12, "sex": 1}


def test_unrecognised_values_kept_as_unknown_are_counted(project_dir, small_records):
    """[ingest] unrecognised = "unknown": the records stay, and the run says how many values per list and
    column were set to unknown."""
    l1 = pd.read_csv(project_dir / "L1.csv", dtype=str)
    l1.loc[:4, "exploitation"] = "cosecha de aguacate"
    l1.to_csv(project_dir / "L1.csv", index=False)
    text = (project_dir / "project.toml").read_text(encoding="utf-8")
    with pytest.raises(ValidationError):
        run_project(project_dir / "project.toml", write=False)
    (project_dir / "project.toml").write_text(text + '\n[ingest]\nunrecognised = "unknown"\n', encoding="utf-8")
    project = load_project(project_dir / "project.toml")
    result = run_project(project, output=project_dir / "out", publish=False)
    assert len(result.entities) == len(small_records)
    assert result.unrecognised == [{"source": "L1", "column": "exploitation", "rows": 5}]
    assert any("5 value(s) not recognised" in w for w in result.warnings)
    assert "not recognised" in result.summary_text()
    body = json.loads((project_dir / "out" / "internal" / "results.json").read_text(encoding="utf-8"))
    assert body["unrecognised_as_unknown"] == result.unrecognised


def test_strata_that_cannot_be_used_are_reported(project_dir):
    """A stratum whose table is refused at tabulation (StrataTables.skipped) is a row with its reason,
    not silently left out."""
    from cifranegra.estimation import CaptureHistories, StrataTables

    project = load_project(project_dir / "project.toml")
    whole = CaptureHistories.from_frame(pd.DataFrame({"L1": [1, 0, 1], "L2": [0, 1, 1], "count": [30, 40, 20]}))
    tables = StrataTables({("female",): whole})
    tables.skipped[("male",)] = "only one list has anyone in this stratum"
    rows, _ = run_module.estimate_all(project, whole, tables)
    male = [r for r in rows if r["stratum"] == "sex=male"]
    assert [r["method"] for r in male] == ["chapman", "loglinear"]
    assert all(r["estimate"] is None and "only one list" in r["error"] for r in male)
    assert all(r["observed"] is None for r in male)  # no count known for it: none invented
    tables.skipped_observed[("male",)] = 7
    rows, _ = run_module.estimate_all(project, whole, tables)
    # where tabulation counted its persons, estimates.csv gives them (it was blank; a review found it)
    assert [r["observed"] for r in rows if r["stratum"] == "sex=male"] == [7, 7]
    tables.skipped[("unknown",)] = "only one list has anyone in this stratum"
    rows, _ = run_module.estimate_all(project, whole, tables)
    assert [r["error"] for r in rows if r["stratum"] == "sex=unknown"] == [
        "not estimated: the stratum value is unknown (these persons count in 'all', and in the stratified "
        "total allocated in proportion to the strata's observed counts)"] * 2
    totals = [r for r in rows if r["stratum"] == "stratified total"]
    assert [r["method"] for r in totals] == ["chapman", "loglinear"]  # a male stratum not estimated: no total
    assert all(r["estimate"] is None and "sex=male" in r["error"] for r in totals)
    result = run_module.RunResult(project=project, entities=pd.DataFrame(), histories=whole,
                                  strata_histories=tables, estimates=rows, results=[], linkage={}, inputs=[])
    text = result.summary_text()  # a stratum with no table has no observed count: shown as —
    assert "sex=male" in text and "only one list" in text


def test_strata_on_several_processes_give_the_same_numbers(tmp_path, monkeypatch):
    """The strata run side by side (each single-process); every row and result is the same as one
    after the other, in the same order."""
    import numpy as np

    from cifranegra.estimation import CaptureHistories
    from cifranegra.pipeline import project_from_dict

    for s in ("A", "B", "C"):  # one file per list (a file named twice is refused)
        (tmp_path / f"{s}.csv").write_text(f"x\n{s}\n", encoding="utf-8")
    project = project_from_dict({
        "lists": [{"source": s, "path": f"{s}.csv"} for s in ("A", "B", "C")],
        "tabulation": {"strata": ["state"]},
        "estimation": {"methods": ["loglinear", "chao"], "options": {"loglinear": {"n_boot": 60}}},
    }, base=tmp_path)
    rng = np.random.default_rng(5)
    tables = {}
    for state in ("01", "02", "03", "09"):
        counts = np.concatenate([[0], rng.integers(1, 40, size=7)])
        tables[(state,)] = CaptureHistories(("A", "B", "C"), counts)
    tables[("04",)] = CaptureHistories(("A", "B", "C"), np.array([0, 5, 4, 0, 3, 0, 0, 0]))  # chao fails
    whole = CaptureHistories(("A", "B", "C"), sum(t.counts for t in tables.values()))
    pools = []
    real_context = run_module._mp_context

    def spy():  # the pipeline's pool of strata asks for its context once
        pools.append(1)
        return real_context()

    monkeypatch.setattr(run_module, "_mp_context", spy)
    serial = run_module.estimate_all(project, whole, tables, workers=1)
    assert pools == []
    steps = []
    parallel = run_module.estimate_all(project, whole, tables, lambda s, d, t: steps.append(d), workers=2)
    assert pools == [1]
    assert parallel[0] == serial[0]
    assert [r.to_dict() for r in parallel[1]] == [r.to_dict() for r in serial[1]]
    assert [r["stratum"] for r in serial[0]][:4] == ["all", "all", "state=01", "state=01"]
    assert any(r["error"] for r in serial[0])
    assert steps[-1] == len(steps) - 1 == 12  # one step per (table, method), then done


def test_an_unusable_list_is_named_once(project_dir, no_linkage):
    (project_dir / "L2.csv").write_text("given_names,curp\n", encoding="utf-8")  # a header, no records
    with pytest.raises(ValidationError) as exc:
        run_project(project_dir / "project.toml", write=False)
    line = next(str(p) for p in exc.value.problems if "L2.csv" in str(p))
    assert line.count("L2.csv") == 1


def test_strata_go_one_after_the_other_when_the_project_sets_workers(tmp_path, monkeypatch):
    """An estimator's own `workers` in the project is the user's budget of processes: kept as it is, and
    the strata are not run side by side on top of it."""
    import numpy as np

    from cifranegra.estimation import CaptureHistories
    from cifranegra.pipeline import project_from_dict

    def refuse():
        raise AssertionError("a pool of strata was started")

    for s in ("A", "B", "C"):  # one file per list (a file named twice is refused)
        (tmp_path / f"{s}.csv").write_text(f"x\n{s}\n", encoding="utf-8")
    project = project_from_dict({
        "lists": [{"source": s, "path": f"{s}.csv"} for s in ("A", "B", "C")],
        "tabulation": {"strata": ["state"]},
        "estimation": {"methods": ["loglinear"], "options": {"loglinear": {"n_boot": 20, "workers": 1}}},
    }, base=tmp_path)
    counts = np.array([0, 9, 8, 4, 7, 3, 2, 1])
    tables = {(s,): CaptureHistories(("A", "B", "C"), counts) for s in ("01", "02")}
    monkeypatch.setattr(run_module, "_available_cores", lambda: 4)
    monkeypatch.setattr(run_module, "_mp_context", refuse)
    rows, _ = run_module.estimate_all(project, CaptureHistories(("A", "B", "C"), 2 * counts), tables)
    assert [r["error"] for r in rows] == [None] * 4
    assert [r["stratum"] for r in rows] == ["all", "state=01", "state=02", "stratified total"]


def test_intervals_at_the_project_level_and_none_where_the_result_has_none(tmp_path):
    """[estimation] level reaches the estimators (a 0.9 level used to end in an error after the linkage),
    and a result that offers no interval (sample coverage at the observed count) has none in the row,
    with the reason, rather than a zero-width one."""
    from cifranegra.datasets.reference import load_reference
    from cifranegra.pipeline import project_from_dict

    for s in ("A", "B", "C"):  # one file per list (a file named twice is refused)
        (tmp_path / f"{s}.csv").write_text(f"x\n{s}\n", encoding="utf-8")
    project = project_from_dict({
        "lists": [{"source": s, "path": f"{s}.csv"} for s in ("A", "B", "C")],
        "estimation": {"methods": ["independence", "sample-coverage"], "level": 0.9},
    }, base=tmp_path)
    h = load_reference("SparseMSE_Artificial_3")
    rows, results = run_module.estimate_all(project, h, {})
    independence, coverage = rows
    assert independence["level"] == 0.9 and independence["lower"] < independence["estimate"] < independence["upper"]
    assert results[0].interval(0.9).level == 0.9
    assert coverage["estimate"] == h.observed and coverage["lower"] is None and coverage["upper"] is None
    assert "no interval to report" in coverage["interval_note"]
    result = run_module.RunResult(project=project, entities=pd.DataFrame(), histories=h, strata_histories={},
                                  estimates=rows, results=results, linkage={}, inputs=[])
    assert "no interval: " in result.summary_text()
