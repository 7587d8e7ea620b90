"""The synthetic population: truth, determinism, CURPs, realized rates matching parameters, and
every agency file read back by ingest."""

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from cifranegra.datasets.synthetic import (
    ERROR_KINDS,
    RecordingErrors,
    default_profiles,
    simulate,
)
from cifranegra.datasets.synthetic.population import name_tables, stratum_weights
from cifranegra.ingest import read_list
from cifranegra.schema import curp_is_valid, curp_prefix


@pytest.fixture(scope="module")
def sim():
    return simulate(n_persons=4000, n_agencies=6, seed=11)


@pytest.fixture(scope="module")
def big():
    return simulate(n_persons=30_000, n_agencies=6, seed=5)


def test_deterministic_by_seed():
    a = simulate(n_persons=500, seed=3)
    b = simulate(n_persons=500, seed=3)
    c = simulate(n_persons=500, seed=4)
    for k in a.lists:
        pd.testing.assert_frame_equal(a.lists[k], b.lists[k])
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.truth.equals(c.truth)


def test_truth_is_complete(sim):
    assert sim.n_persons == 4000
    assert sim.truth_by_stratum["n"].sum() == 4000
    assert set(sim.truth_by_stratum["age_group"]) == {"0-17", "18+"}
    for prof in sim.profiles:
        raw = sim.lists[prof.id]
        ids = raw[prof.columns["record_id"]]
        t = sim.truth[sim.truth["source"] == prof.id]
        assert len(t) == len(raw) and set(t["record_id"]) == set(ids) and ids.is_unique
    observed = sim.truth.loc[~sim.truth["duplicate"], "person_id"].nunique()
    assert observed == sim.n_observed
    ch = sim.capture_histories()
    assert ch["count"].sum() == sim.n_observed and list(ch.columns)[-1] == "count"


def test_curps_are_valid_and_derived_by_renapo_rules(sim):
    p = sim.persons
    mex = p[p["nationality"] == "MEX"]
    assert p.loc[p["nationality"] != "MEX", "curp"].isna().all()
    sample = mex.head(300)
    assert all(curp_is_valid(c) for c in sample["curp"])
    for r in sample.itertuples():
        second = r.second_surname if isinstance(r.second_surname, str) else None
        expected = curp_prefix(
            r.given_names,
            r.first_surname,
            second,
            pd.Timestamp(r.birth_date).date(),
            r.sex,
            r.birth_state,
        )
        assert r.curp[:16] == expected
        assert r.curp[16].isdigit() == (pd.Timestamp(r.birth_date).year < 2000)
    assert mex["curp"].is_unique


def test_population_follows_sources(big):
    p = big.persons
    w = stratum_weights()
    exp_female = w.loc[w["sex"] == "female", "weight"].sum() / w["weight"].sum()
    assert abs((p["sex"] == "female").mean() - exp_female) < 0.015
    exp_minor = w.loc[w["age_group"] == "0-17", "weight"].sum() / w["weight"].sum()
    assert abs((p["age_group"] == "0-17").mean() - exp_minor) < 0.015
    by_state = p["state"].value_counts(normalize=True)
    exp_state = w.groupby("state")["weight"].sum() / w["weight"].sum()
    top = exp_state.idxmax()
    assert abs(by_state[top] - exp_state[top]) < 0.015
    # names are drawn from the frequency tables, not uniformly
    names, probs = name_tables()["first_surname"]
    assert (p["first_surname"] == names[np.argmax(probs)]).mean() > 0.02
    assert p["given_names"].nunique() > 1000
    assert ((p["age"] < 18) == (p["age_group"] == "0-17")).all()


def test_realized_capture_rates_match_parameters(big):
    captured, prob, referred = big.captured, big.capture_probability, big.referred
    index = {pr.id: k for k, pr in enumerate(big.profiles)}
    for k in range(len(big.profiles)):
        direct = captured[:, k] & ~referred[:, k]
        n = len(direct)
        # P(captured directly) = p; referrals only add persons not captured directly
        expected = prob[:, k].mean()
        assert abs(direct.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / n)
    for a, b, q in big.parameters["referrals"]:
        ka, kb = index[a], index[b]
        # referrals were applied in order; the candidates are those recorded by a and not by b
        eligible = captured[:, ka] & (~captured[:, kb] | referred[:, kb])
        rate = referred[eligible, kb].mean()
        assert rate == pytest.approx(q, abs=0.05) or not referred[:, kb].any()


def test_realized_error_rates_match_parameters(big):
    t = big.truth
    for prof in big.profiles:
        sub = t[t["source"] == prof.id]
        flags = sub["errors"].str.split("|")
        n = len(sub)
        for kind in (
            "typo",
            "missing_second_surname",
            "wrong_state",
            "unknown_exploitation",
            "missing_birth_date",
            "unknown_sex",
        ):
            rate = getattr(prof.errors, kind)
            realized = flags.map(lambda f, kind=kind: kind in f).mean()
            if kind == "missing_second_surname":
                rate *= 0.97  # only records that have a second surname
            tol = 4 * np.sqrt(max(rate * (1 - rate), 1e-4) / n) + 0.005
            assert abs(realized - rate) < tol, (prof.id, kind, realized, rate)
    dup = t.groupby("source")["duplicate"].mean()
    assert (abs(dup - 0.02) < 0.01).all()


def test_error_scale_zero_gives_clean_lists():
    s = simulate(n_persons=800, seed=2, error_scale=0)
    assert (s.truth["errors"] == "").all()


def test_errors_can_be_set_for_all_agencies():
    errs = RecordingErrors(**{k: 0.0 for k in RecordingErrors().__dict__})
    errs = dataclasses.replace(errs, typo=0.5)
    s = simulate(n_persons=1000, seed=2, errors=errs)
    assert set(s.truth["errors"]) <= {"", "typo"}
    assert (s.truth["errors"] == "typo").mean() == pytest.approx(0.5, abs=0.06)


def test_more_agencies_than_profiles():
    s = simulate(n_persons=300, n_agencies=8, seed=1)
    assert len(s.lists) == 8 and "fiscalia_estatal_2" in s.lists


def test_written_files_read_back_without_errors(sim, tmp_path):
    manifest = sim.write(tmp_path)
    assert (tmp_path / "truth.csv").exists() and (tmp_path / "truth_by_stratum.csv").exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["n_persons"] == 4000
    formats = set()
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str, keep_default_na=False)
    for entry in manifest["lists"]:
        mapping = tmp_path / entry["mapping"] if "mapping" in entry else None
        df, report = read_list(tmp_path / entry["file"], mapping=mapping, source=entry["source"])
        assert report.ok, report.errors[:3]
        assert len(df) == entry["n_records"]
        formats.add((entry["format"], entry.get("encoding")))
        merged = df.merge(truth, on=["source", "record_id"], how="left")
        assert merged["person_id"].notna().all()
        clean = merged[merged["errors"] == ""]
        persons = sim.persons.set_index("person_id")
        truth_state = persons.loc[clean["person_id"].astype(int), "state"].to_numpy()
        assert (clean["state"].to_numpy() == truth_state).all()
        assert (
            clean["sex"].astype(str).to_numpy()
            == persons.loc[clean["person_id"].astype(int), "sex"].to_numpy()
        ).all()
    assert {"csv", "xlsx", "parquet"} <= {f for f, _ in formats}
    assert {"cp1252", "utf-8", "utf-8-sig"} <= {e for _, e in formats if e}


def test_error_kinds_documented():
    assert set(ERROR_KINDS) == set(RecordingErrors().__dict__)


def test_period_respected():
    s = simulate(n_persons=300, seed=1, period=(dt.date(2020, 1, 1), dt.date(2020, 6, 30)))
    prof = s.profiles[4]  # ISO dates
    dates = pd.to_datetime(s.lists[prof.id][prof.columns["registration_date"]])
    assert dates.min() >= pd.Timestamp("2020-01-01") and dates.max() <= pd.Timestamp("2020-06-30")
    assert len(default_profiles()) == 6
