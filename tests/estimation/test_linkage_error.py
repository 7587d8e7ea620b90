"""Closed-form linkage-error corrections (cifranegra.estimation.linkage_error).

Known answer: Ding & Fienberg (1994), St Louis 1990 census test, stratum 11 — census 704, post-enumeration
survey 616, linked 487, missed-link rate 9/2676, false-link rate 7/434, the survey linked from; the
figures as quoted by Di Consiglio & Tuoto (2015) and in issue #14: naive 890.5 (SE 10.25), DF 891.3
(10.29), modified DF 898.0 (10.64).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import fitting as F  # noqa: N812
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.linkage_error import (
    corrected_counts,
    corrected_loglinear,
    ding_fienberg,
    lincoln_petersen,
    linkage_free_estimate,
    modified_ding_fienberg,
    transition_matrix,
)
from cifranegra.estimation.loglinear import LogLinear
from cifranegra.estimation.models import HierarchicalModel

ALPHA = 9 / 2676
BETA = 7 / 434
ST_LOUIS = {"n_a": 704, "n_b": 616, "linked": 487}


def _st_louis_table() -> CaptureHistories:
    return CaptureHistories.from_counts({"10": 704 - 487, "01": 616 - 487, "11": 487}, ["census", "survey"])


# ------------------------------------------------------------------------------------ known answer
def test_st_louis_naive() -> None:
    r = lincoln_petersen(**ST_LOUIS)
    assert (round(r.estimate, 1), round(r.std_error, 2)) == (890.5, 10.25)


def test_st_louis_ding_fienberg() -> None:
    r = ding_fienberg(**ST_LOUIS, missed_link_rate=ALPHA, false_link_rate=BETA, linked_from="b")
    assert (round(r.estimate, 1), round(r.std_error, 2)) == (891.3, 10.29)


def test_st_louis_modified_ding_fienberg() -> None:
    r = modified_ding_fienberg(**ST_LOUIS, missed_link_rate=ALPHA, false_link_rate=BETA, linked_from="b")
    assert (round(r.estimate, 1), round(r.std_error, 2)) == (898.0, 10.64)


def test_direction_matters_for_ding_fienberg_only() -> None:
    kw = {"missed_link_rate": ALPHA, "false_link_rate": BETA}
    from_a = ding_fienberg(**ST_LOUIS, linked_from="a", **kw).estimate
    from_b = ding_fienberg(**ST_LOUIS, linked_from="b", **kw).estimate
    assert abs(from_a - from_b) > 1  # β multiplies the size of the list linked from
    assert modified_ding_fienberg(**ST_LOUIS, linked_from="a", **kw).estimate == pytest.approx(
        modified_ding_fienberg(**ST_LOUIS, linked_from="b", **kw).estimate
    )


def test_zero_rates_give_lincoln_petersen() -> None:
    naive = lincoln_petersen(**ST_LOUIS)
    for f in (ding_fienberg, modified_ding_fienberg):
        r = f(**ST_LOUIS, missed_link_rate=0.0, false_link_rate=0.0)
        assert r.estimate == naive.estimate and r.std_error == naive.std_error


def test_interval_contains_estimate_and_round_trips() -> None:
    r = modified_ding_fienberg(**ST_LOUIS, missed_link_rate=ALPHA, false_link_rate=BETA)
    lo, hi = r.interval(0.95)
    assert 704 + 616 - r.matches <= lo < r.estimate < hi
    assert r.to_dict()["estimate"] == r.estimate and r.to_dict()["linked_from"] == "b"


# --------------------------------------------------------------------------------- K-list transform
def test_k_list_reduces_to_ding_fienberg_and_modified() -> None:
    h = _st_louis_table()
    df = corrected_loglinear(h, ALPHA, {("survey", "census"): BETA})  # false links only from the survey
    mdf = corrected_loglinear(h, ALPHA, BETA)  # false links from either list
    assert df.estimate == pytest.approx(
        ding_fienberg(**ST_LOUIS, missed_link_rate=ALPHA, false_link_rate=BETA).estimate, rel=1e-12
    )
    assert mdf.estimate == pytest.approx(
        modified_ding_fienberg(**ST_LOUIS, missed_link_rate=ALPHA, false_link_rate=BETA).estimate, rel=1e-12
    )
    assert round(df.estimate, 1) == 891.3 and round(mdf.estimate, 1) == 898.0
    assert df.naive_estimate == pytest.approx(lincoln_petersen(**ST_LOUIS).estimate, rel=1e-12)


def test_transition_preserves_list_sizes_under_missed_links_only() -> None:
    # a missed link splits a person but keeps every record: each list's size is unchanged
    k = 4
    missed = np.full((k, k), 0.2)
    np.fill_diagonal(missed, 0)
    x = np.arange(2**k, dtype=float)
    x[0] = 0
    y = transition_matrix(x, missed, np.zeros((k, k))) @ x
    masks = np.arange(2**k)
    for i in range(k):
        on = (masks >> i) & 1 == 1
        assert y[on].sum() == pytest.approx(x[on].sum())
    # a three-list person with every link missed becomes three one-list entities
    one = np.zeros(2**k)
    one[0b0111] = 1
    all_missed = np.ones((k, k))
    np.fill_diagonal(all_missed, 0)
    out = transition_matrix(one, all_missed, np.zeros((k, k))) @ one
    assert out[[1, 2, 4]].tolist() == [1.0, 1.0, 1.0] and out.sum() == 3.0


def test_split_probabilities_match_enumeration() -> None:
    # P(person on lists {0,1,2} stays one entity) = P(the 3-node graph stays connected)
    a01, a02, a12 = 0.1, 0.2, 0.3
    missed = np.array([[0, a01, a02], [a01, 0, a12], [a02, a12, 0]])
    one = np.zeros(8)
    one[7] = 1
    out = transition_matrix(one, missed, np.zeros((3, 3))) @ one
    edges = {(0, 1): a01, (0, 2): a02, (1, 2): a12}
    connected = 0.0
    for present in range(8):
        kept = [e for n, e in enumerate(edges) if (present >> n) & 1]
        p = math.prod((1 - edges[e]) if e in kept else edges[e] for e in edges)
        if len(kept) >= 2:
            connected += p
    assert out[7] == pytest.approx(connected)
    assert out[1] == pytest.approx(a01 * a02)  # list 0 cut off from both others


def _simulate_observed(x: np.ndarray, missed: np.ndarray, false: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply linkage errors to a true table at random, person by person: every link of a person
    missed independently (the person splits into connected components); then, per ordered pair of
    lists, a Binomial number of the people on j but not i merged with people on i and none of their
    lists, drawn in proportion to the true counts."""
    k = missed.shape[0]
    size = 1 << k
    y = np.zeros(size)
    for s in range(1, size):
        n = int(x[s])
        members = [i for i in range(k) if (s >> i) & 1]
        edges = list(combinations(members, 2))
        if not edges:
            y[s] += n
            continue
        present = rng.random((n, len(edges))) >= np.array([missed[u, v] for u, v in edges])
        codes = present @ (1 << np.arange(len(edges)))
        for code, c in zip(*np.unique(codes, return_counts=True), strict=True):
            parent = {m: m for m in members}

            def root(u: int, parent: dict[int, int] = parent) -> int:
                while parent[u] != u:
                    u = parent[u]
                return u

            for n_e, (u, v) in enumerate(edges):
                if (code >> n_e) & 1:
                    parent[root(u)] = root(v)
            comps: dict[int, int] = {}
            for m in members:
                comps[root(m)] = comps.get(root(m), 0) | (1 << m)
            for mask in comps.values():
                y[mask] += c
    masks = np.arange(size)
    for s in range(1, size):
        for j in range(k):
            for i in range(k):
                if not (s >> j) & 1 or (s >> i) & 1 or false[j, i] == 0:
                    continue
                partners = masks[((masks >> i) & 1 == 1) & ((masks & s) == 0)]
                w = x[partners]
                if w.sum() == 0:
                    continue
                merged = rng.binomial(int(x[s]), false[j, i])
                picks = rng.multinomial(merged, w / w.sum())
                y[s] -= merged
                y[partners] -= picks
                y[partners | s] += picks
    return np.rint(y).astype(np.int64)


def test_k_list_correction_recovers_true_table_estimate() -> None:
    """Simulation with known truth: three lists, 20,000 people, 6% missed links and 2% false links in
    every direction. Over 20 replicates the corrected estimate averages the true table's (within 4
    Monte Carlo standard errors, about 0.1%), while the naive estimate is far off."""
    rng = np.random.default_rng(20240614)
    k, n = 3, 20_000
    p = np.array([0.3, 0.4, 0.5])
    seen = rng.random((n, k)) < p
    x = np.bincount(seen @ (1 << np.arange(k)), minlength=2**k).astype(float)
    x[0] = 0
    lists = ["a", "b", "c"]
    model = HierarchicalModel.independence(k)
    truth = F.fit_one(model, x).abundance
    missed = np.full((k, k), 0.06)
    false = np.full((k, k), 0.02)
    np.fill_diagonal(missed, 0)
    np.fill_diagonal(false, 0)
    corrected, naive = [], []
    for _ in range(20):
        y = _simulate_observed(x, missed, false, rng)
        r = corrected_loglinear(CaptureHistories(tuple(lists), y), missed, false, model=model)
        corrected.append(r.estimate)
        naive.append(r.naive_estimate)
    c = np.array(corrected)
    mc_se = c.std(ddof=1) / math.sqrt(c.size)
    assert abs(c.mean() - truth) < 4 * mc_se + 1e-3 * truth
    assert abs(np.mean(naive) - truth) > 20 * mc_se  # the errors matter: uncorrected is far off


@settings(max_examples=25, deadline=None)
@given(
    counts=st.lists(st.integers(1, 400), min_size=7, max_size=7),
    model_text=st.sampled_from(["independence", "[12,3]", "[12,13]", "[12,13,23]"]),
)
def test_zero_rates_give_the_naive_log_linear_estimate_exactly(counts: list[int], model_text: str) -> None:
    h = CaptureHistories(("a", "b", "c"), np.array([0, *counts]))
    r = corrected_loglinear(h, 0.0, 0.0, model=model_text)
    assert r.corrected_counts == tuple(float(c) for c in h.counts)
    assert r.estimate == r.naive_estimate
    assert r.estimate == LogLinear(model=model_text, interval="none").fit(h).estimate


def test_rates_by_list_name_and_by_array_agree() -> None:
    h = CaptureHistories(("a", "b", "c"), np.array([0, 300, 250, 60, 200, 50, 40, 20]))
    by_name = corrected_counts(h, {("a", "b"): 0.05, ("b", "c"): 0.02}, {("c", "a"): 0.01})[0]
    missed = np.zeros((3, 3))
    missed[0, 1] = missed[1, 0] = 0.05
    missed[1, 2] = missed[2, 1] = 0.02
    false = np.zeros((3, 3))
    false[2, 0] = 0.01
    assert np.allclose(by_name, corrected_counts(h, missed, false)[0])


# -------------------------------------------------------------------------------- linkage-free
def test_linkage_free_estimate_hand_computed() -> None:
    pairs = pd.DataFrame(
        {
            "source_l": ["dif", "dif", "fgr", "dif", "dif"],
            "record_id_l": ["1", "2", "7", "3", "1"],
            "source_r": ["fgr", "fgr", "dif", "dif", "fgr"],
            "record_id_r": ["7", "8", "3", "4", "9"],
            "match_probability": [0.9, 0.6, 0.4, 0.99, 0.1],
        }
    )
    # cross-list pairs: 0.9 + 0.6 + 0.4 + 0.1 = 2.0 (the dif–dif pair is within one list)
    r = linkage_free_estimate(pairs, 10, 6)
    assert r.expected_matches == pytest.approx(2.0)
    assert r.estimate == pytest.approx(10 * 6 / 2.0)
    assert r.n_pairs == 4 and r.lists == ("dif", "fgr")


def test_linkage_free_needs_names_with_three_lists() -> None:
    pairs = pd.DataFrame(
        {"source_l": ["a", "a", "b"], "source_r": ["b", "c", "c"], "match_probability": [0.5, 0.5, 0.25]}
    )
    with pytest.raises(InputError, match="list_a and list_b"):
        linkage_free_estimate(pairs, 10, 10)
    assert linkage_free_estimate(pairs, 10, 10, list_a="c", list_b="b").expected_matches == pytest.approx(0.25)


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"missed_link_rate": 1.0, "false_link_rate": 0.0}, "missed_link_rate must be a rate in"),
        ({"missed_link_rate": -0.1, "false_link_rate": 0.0}, "missed_link_rate must be a rate in"),
        ({"missed_link_rate": 0.0, "false_link_rate": float("nan")}, "false_link_rate must be a rate in"),
        ({"missed_link_rate": 0.0, "false_link_rate": True}, "false_link_rate must be a number"),
        ({"missed_link_rate": 0.0, "false_link_rate": 0.9}, "false_link_rate = 0.9 implies"),
        ({"missed_link_rate": 0.6, "false_link_rate": 0.5}, "must be below 1"),
        ({"missed_link_rate": 0.3, "false_link_rate": 0.0}, "missed_link_rate = 0.3 implies"),
        ({"missed_link_rate": 0.0, "false_link_rate": 0.0, "linked_from": "census"}, "linked_from must be 'a' or 'b'"),
    ],
)
def test_bad_rates_are_input_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        ding_fienberg(**ST_LOUIS, **kwargs)  # type: ignore[arg-type]


def test_modified_denominator_checked() -> None:
    with pytest.raises(InputError, match=r"false_link_rate × \(n_a \+ n_b\)"):
        modified_ding_fienberg(**ST_LOUIS, missed_link_rate=0.0, false_link_rate=0.4)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((704, 616, 800), "exceeds the smaller list"),
        ((704, 0, 0), "n_b must be a whole number >= 1"),
        ((704.5, 616, 487), "n_a must be"),
    ],
)
def test_bad_counts(args: tuple[float, int, int], match: str) -> None:
    with pytest.raises(InputError, match=match):
        ding_fienberg(*args, missed_link_rate=0.0, false_link_rate=0.0)  # type: ignore[arg-type]


def test_no_links_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="infinite"):
        lincoln_petersen(704, 616, 0)


def test_k_list_bad_rates() -> None:
    h = _st_louis_table()
    with pytest.raises(InputError, match="unknown list 'pes'"):
        corrected_counts(h, {("census", "pes"): 0.1}, 0.0)
    with pytest.raises(InputError, match="must be symmetric"):
        corrected_counts(h, [[0, 0.1], [0.2, 0]], 0.0)
    with pytest.raises(InputError, match=r"must be a 2 × 2 array"):
        corrected_counts(h, [0.1, 0.1, 0.1], 0.0)
    with pytest.raises(InputError, match=r"false_link_rates\['survey', 'census'\] must be a rate"):
        corrected_counts(h, 0.0, {("survey", "census"): 1.5})
    with pytest.raises(ModelError, match="corrected count of capture pattern"):
        corrected_counts(h, 0.0, 0.6)  # more false links than the table can hold


def test_linkage_free_bad_input() -> None:
    good = pd.DataFrame({"source_l": ["a"], "source_r": ["b"], "match_probability": [0.5]})
    with pytest.raises(InputError, match=r"lacks column\(s\) \['match_probability'\]"):
        linkage_free_estimate(good.drop(columns="match_probability"), 5, 5)
    bad = pd.DataFrame({"source_l": ["a", "a"], "source_r": ["b", "b"], "match_probability": [0.5, 1.5]})
    with pytest.raises(InputError, match=r"pairs row 2, column 'match_probability': 1\.5 is not a probability"):
        linkage_free_estimate(bad, 5, 5)
    missing = pd.DataFrame({"source_l": ["a"], "source_r": ["b"], "match_probability": [None]})
    with pytest.raises(InputError, match=r"row 1.*missing"):
        linkage_free_estimate(missing, 5, 5)
    zero = pd.DataFrame({"source_l": ["a"], "source_r": ["b"], "match_probability": [0.0]})
    with pytest.raises(ModelError, match="infinite"):
        linkage_free_estimate(zero, 5, 5)
    with pytest.raises(InputError, match="n_a must be"):
        linkage_free_estimate(good, 0, 5)
