"""Mistakes in calls of the public Python API that returned a wrong result without a word (the API
review of 2026-12-06); each now raises a cifranegra InputError naming the argument."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cifranegra.errors import InputError

RECORDS = pd.DataFrame({"source": ["A", "A", "B"], "record_id": ["1", "2", "1"], "sex": ["female", "male", "female"],
                        "registration_date": ["2023-01-02", "2023-03-04", "2024-05-06"]})
PAIRS = pd.DataFrame({"source_l": ["A"], "record_id_l": ["1"], "source_r": ["B"], "record_id_r": ["1"],
                      "match_probability": [0.9]})


@pytest.mark.parametrize("threshold", [2, 1.5, math.nan, None, "0.5", 0, -0.1])
def test_cluster_pairs_refuses_an_impossible_threshold(threshold):
    """Above 1 or NaN every record stood alone; None or text escaped as TypeError."""
    from cifranegra.linkage.link import cluster_pairs

    with pytest.raises(InputError, match="the threshold must be a match probability"):
        cluster_pairs(RECORDS, PAIRS, threshold)
    assert cluster_pairs(RECORDS, PAIRS, 0.5)["entity_id"].nunique() == 2


def test_cluster_pairs_names_a_missing_column():
    from cifranegra.linkage.link import cluster_pairs

    with pytest.raises(InputError, match="match_probability"):
        cluster_pairs(RECORDS, PAIRS.drop(columns=["match_probability"]), 0.5)


def test_carried_columns_refuses_a_misspelt_or_bare_string_carry():
    """A misspelt name vanished (and its stratum with it); carry="sex" was iterated as 's', 'e', 'x'."""
    from cifranegra.linkage.link import carried_columns

    with pytest.raises(InputError, match="'sexo'"):
        carried_columns(RECORDS, ("sexo",))
    with pytest.raises(InputError, match="sequence of column names"):
        carried_columns(RECORDS, "sex")  # type: ignore[arg-type]
    out = carried_columns(RECORDS, ("sex", "year"))
    assert list(out.columns) == ["source", "record_id", "sex", "year"] and out["year"].tolist() == [2023, 2023, 2024]
    assert "state" not in carried_columns(RECORDS).columns  # the default carries the strata the records have


def test_histories_by_stratum_refuses_lists_that_are_in_no_table():
    """A misspelt list was written as a column of zeros and the real lists dropped."""
    from cifranegra.estimation import CaptureHistories
    from cifranegra.pipeline.run import histories_by_stratum

    tables = {("female",): CaptureHistories.from_counts({"10": 3, "01": 2, "11": 1}, ["A", "B"])}
    assert histories_by_stratum(["sex"], tables, ["A", "B"])["count"].sum() == 6
    with pytest.raises(InputError, match="'zz' are in none of the tables"):
        histories_by_stratum(["sex"], tables, ["zz"])
    with pytest.raises(InputError, match="different number of strata"):
        histories_by_stratum(["sex", "age_group"], tables, ["A", "B"])


def test_mask_value_never_shows_more_than_keep():
    from cifranegra.schema import mask_value

    assert mask_value("MARIA", keep=-1) == "***"
    assert mask_value(float("nan")) == "(empty)" and mask_value(pd.NA) == "(empty)" and mask_value(None) == "(empty)"
    assert mask_value("MARIA") == "MA***" and mask_value(np.int64(12345)) == "12***"


def test_simulate_refuses_profiles_that_make_odd_lists():
    """Duplicate agency ids collapsed the lists into one while the truth kept every record; capture_rate 2
    gave empty lists and 1 a ZeroDivisionError; rates outside [0, 1] and unknown referral agencies were taken."""
    from dataclasses import replace

    from cifranegra.datasets.synthetic import AgencyProfile, RecordingErrors, default_profiles, simulate

    p0, p1 = default_profiles()[:2]
    with pytest.raises(InputError, match="agency ids must differ"):
        simulate(60, 2, seed=1, profiles=[p0, p0])
    for rate in (2.0, 1.0, 0.0, -1):
        with pytest.raises(InputError, match="capture_rate must be a probability"):
            replace(p0, capture_rate=rate)
    with pytest.raises(InputError, match="probabilities from 0 to 1: typo=2"):
        RecordingErrors(typo=2)
    with pytest.raises(InputError, match="file_format"):
        AgencyProfile(id="x", name="x", capture_rate=0.3, file_format="zz")
    with pytest.raises(InputError, match="not simulated"):
        simulate(60, 2, seed=1, profiles=[p0, p1], referrals=[("zz", p1.id, 0.5)])
    with pytest.raises(InputError, match="from 0 to 1"):
        simulate(60, 2, seed=1, profiles=[p0, p1], referrals=[(p0.id, p1.id, 2.0)])
    with pytest.raises(InputError, match="error_scale"):
        simulate(60, 2, seed=1, error_scale=-1)
    with pytest.raises(InputError, match="profiles is empty"):
        simulate(60, 2, seed=1, profiles=[])
    assert len(simulate(60, 2, seed=1, profiles=[p0, p1]).lists) == 2


def test_a_bare_string_is_one_item_not_its_letters(tmp_path):
    """tabulate(ent, L, "sex") spoke of columns 's', 'e', 'x'; read_lists("a.csv") of files 'a', '.', 'c'."""
    from cifranegra.estimation import CaptureHistories
    from cifranegra.ingest import validate_files
    from cifranegra.pipeline.run import tabulate

    ent = pd.DataFrame({"source": ["A", "B", "A", "B"], "record_id": ["1", "1", "2", "2"], "entity_id": [0, 0, 1, 2],
                        "sex": ["female", "female", "male", "male"]})
    whole, by_sex = tabulate(ent, ["A", "B"], "sex")
    assert whole.observed == 3 and sorted(by_sex) == [("female",), ("male",)]
    with pytest.raises(InputError, match="named twice"):
        tabulate(ent, ["A", "B", "A"])
    report = validate_files(str(tmp_path / "missing.csv"))
    assert len(report.problems) == 1 and report.problems[0].file.endswith("missing.csv")
    df = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "sex": ["f", "f", "m"], "count": [3, 2, 1]})
    assert sorted(CaptureHistories.stratified_from_frame(df, strata="sex")) == [("f",), ("m",)]


def test_compare_refuses_a_bootstrap_of_fewer_than_two_replicates():
    """n_boot=0 made the log-linear rows 'not applicable', a property of the data, when it was the call's."""
    from cifranegra.estimation import CaptureHistories
    from cifranegra.estimation.compare import compare

    h = CaptureHistories.from_counts({"100": 30, "010": 25, "001": 20, "110": 8, "101": 6, "011": 5, "111": 2},
                                     ["A", "B", "C"])
    with pytest.raises(InputError, match="n_boot must be a whole number of at least 2"):
        compare(h, families=["loglinear-bic", "independence"], n_boot=0, sensitivity=False)


def test_pipeline_helpers_take_str_paths_and_check_workers(tmp_path):
    from cifranegra.pipeline.project import project_from_dict
    from cifranegra.pipeline.run import check_output, estimate_all

    assert check_output(str(tmp_path / "out")) == []
    (tmp_path / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("x\n2\n", encoding="utf-8")
    project = project_from_dict({"lists": [{"source": "A", "path": "a.csv"}, {"source": "B", "path": "b.csv"}]},
                                base=str(tmp_path))
    assert project.lists[0].path == (tmp_path / "a.csv").resolve()
    with pytest.raises(InputError, match="a project is a table of settings"):
        project_from_dict("x", base=tmp_path)  # type: ignore[arg-type]
    for bad in (0, -1, "a"):
        with pytest.raises(InputError, match="workers must be a whole number"):
            estimate_all(project, None, {}, workers=bad)  # type: ignore[arg-type]


def test_results_and_tables_refuse_malformed_calls_with_cifranegra_errors():
    """EstimateResult.from_json('{') or interval('0.9'), select_lists(['nope']) and a merge with too few
    names escaped as JSONDecodeError, TypeError, ValueError or IndexError; too many names were ignored."""
    from cifranegra.estimation import CaptureHistories, estimate
    from cifranegra.estimation.result import EstimateResult

    for text in ("{", "[1]", '{"method": "x"}', '{"method": "x", "estimate": "a", "observed": 1, "lists": ["A"]}'):
        with pytest.raises(InputError):
            EstimateResult.from_json(text)
    h = CaptureHistories.from_counts({"100": 30, "010": 25, "001": 20, "110": 8, "101": 6, "011": 5, "111": 2},
                                     ["A", "B", "C"])
    r = estimate(h, "loglinear", model="[1,2,3]", seed=1)
    assert EstimateResult.from_json(r.to_json()).estimate == r.estimate
    with pytest.raises(InputError, match="level must be a number"):
        r.interval("0.9")  # type: ignore[arg-type]
    for keep in (["nope"], [0, 9], ["A", "A"]):
        with pytest.raises(InputError):
            h.select_lists(keep)
    assert h.select_lists(["A", 2]).lists == ("A", "C")
    for names in (["x"], ["x", "y", "z"]):
        with pytest.raises(InputError, match="one name per group"):
            h.merge_lists([["A", "B"], ["C"]], names=names)


@pytest.mark.parametrize("bad", ["HEGG", None, "HEGG560427MVZRRL!"])
def test_curp_check_digit_wants_seventeen_curp_characters(bad):
    """'HEGG' gave '0'; lower case raised KeyError."""
    from cifranegra.schema.curp import curp_check_digit

    with pytest.raises(InputError, match="first 17 characters"):
        curp_check_digit(bad)  # type: ignore[arg-type]
    assert curp_check_digit("hegg560427mvzrrl0") == curp_check_digit("HEGG560427MVZRRL0")


def test_link_records_takes_a_settings_dict_and_refuses_what_is_not_records():
    """link_records(rec, {"threshold": 0.9}) raised AttributeError; link_records("x") too."""
    from cifranegra.linkage import link_records

    with pytest.raises(InputError, match="invalid linkage settings"):
        link_records(RECORDS, {"threshold": 2})  # type: ignore[arg-type]
    with pytest.raises(InputError, match="settings must be a LinkageSettings"):
        link_records(RECORDS, 3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="records must be a Records frame"):
        link_records("x")  # type: ignore[arg-type]


def test_a_sex_convention_other_than_es_or_en_is_refused():
    """'zz' (or None) was read as 'es' without a word: M taken for mujer."""
    from cifranegra.ingest.mapping import ColumnMapping
    from cifranegra.schema import check_records, detect_sex_convention, parse_sex

    for call in (lambda: parse_sex("M", "zz"), lambda: parse_sex("M", None),  # type: ignore[arg-type]
                 lambda: detect_sex_convention(pd.Series(["M"]), default="zz"),
                 lambda: ColumnMapping(sex_convention="zz"),
                 lambda: check_records(pd.DataFrame({"source": ["a"], "record_id": ["1"], "given_names": ["ANA"],
                                                     "sex": ["M"]}), sex_convention="zz")):
        with pytest.raises(InputError, match=r"sex[ _]convention must be 'es'"):
            call()
    assert parse_sex("M", "en") == "male" and parse_sex("M") == "female"


def test_evaluation_helpers_refuse_truth_that_does_not_fit():
    """pair_scores merged records of missing entity id into one cluster (precision 0.0016) and raised
    KeyError/IndexError on a missing column or a repeated key; blocking_recall gave recall 1.0 for a short truth."""
    from cifranegra.linkage.evaluation import blocking_recall, pair_scores

    ent = pd.DataFrame({"source": ["A", "A", "B"], "record_id": ["1", "2", "1"], "entity_id": [0, 1, 0]})
    assert pair_scores(ent, ent).f1 == 1.0
    for bad, words in ((ent.assign(entity_id=np.nan), "without entity_id"), (ent.drop(columns=["entity_id"]),
                       "no column"), (pd.concat([ent, ent.iloc[:1]]), "twice")):
        with pytest.raises(InputError, match=words):
            pair_scores(bad, ent)
    recs = pd.DataFrame({"source": ["A", "B"], "record_id": ["1", "1"], "given_names": ["ANA", "ANA"],
                         "first_surname": ["RUIZ", "RUIZ"], "birth_date": ["1990-01-01", "1990-01-01"]})
    with pytest.raises(InputError, match="one person id per record"):
        blocking_recall(recs, [0])


def test_small_api_mistakes_are_input_errors():
    """Different widths gave Dice above 1; check_lists('chapman', '2') said 'needs two, got 2';
    read_list(on_error='zz') raised a plain ValueError."""
    from cifranegra.estimation import check_lists
    from cifranegra.ingest import read_list
    from cifranegra.linkage.private.similarity import all_pairs_above, dice_pairs

    w = np.random.default_rng(1).integers(0, 2**63, size=(5, 32), dtype=np.uint64)
    with pytest.raises(InputError, match="same width"):
        all_pairs_above(w, w[:, :16], 0.5)
    with pytest.raises(InputError, match="one to one"):
        dice_pairs(w, w, np.arange(3), np.arange(2))
    assert np.allclose(dice_pairs(w, w, np.arange(5), np.arange(5)), 1.0)
    with pytest.raises(InputError, match="whole number"):
        check_lists("chapman", "2")  # type: ignore[arg-type]
    check_lists("chapman", np.int64(2))
    with pytest.raises(InputError, match="on_error must be"):
        read_list("x.csv", on_error="zz")


def test_wrong_kinds_of_argument_are_input_errors(tmp_path):
    """Each escaped as TypeError or AttributeError (or, for read_lists([]), returned an empty frame
    without the record columns)."""
    from cifranegra.estimation import CaptureHistories, check_estimator
    from cifranegra.estimation.models import enumerate_models
    from cifranegra.ingest import map_columns, read_lists
    from cifranegra.pipeline import run_project
    from cifranegra.pipeline.project import project_from_dict
    from cifranegra.pipeline.run import estimate_all

    calls = [lambda: check_estimator("loglinear", None), lambda: enumerate_models(3.0, 2),
             lambda: read_lists([]), lambda: run_project(3)]
    (tmp_path / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("x\n2\n", encoding="utf-8")
    project = project_from_dict({"lists": [{"source": "A", "path": "a.csv"}, {"source": "B", "path": "b.csv"}]},
                                base=tmp_path)
    h = CaptureHistories.from_counts({"10": 3, "01": 2, "11": 1}, ["A", "B"])
    calls += [lambda: estimate_all(project, h, None), lambda: estimate_all(project, None, {})]
    for call in calls:
        with pytest.raises(InputError):
            call()  # type: ignore[no-untyped-call]
    fields, _ = map_columns(["NOM"], {"columns": {"NOM": "given_names"}})  # a dict, as read_list takes
    assert fields == {"given_names": "NOM"}
