"""Calibration of pair probabilities from within-list pairs, and the sampler's moment matching.

Known answer by construction: scores of non-matching pairs ~ N(-4, 1.5²) and of matching pairs
~ N(0, 1.5²), within and between lists alike, so the likelihood ratio of a match is exactly
exp(slope·x + κ) with slope = (0 - (-4)) / 1.5² and the calibrated probabilities are computable by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cifranegra.errors import InputError
from cifranegra.linkage.uncertainty import (
    GibbsOptions,
    ImputationSettings,
    LinkTargets,
    PairGraph,
    bootstrap_within_lists,
    calibrate_within_lists,
    sample_gibbs,
)
from cifranegra.linkage.uncertainty.samplers import _Gibbs

MU_U, MU_M, SD = -4.0, 0.0, 1.5
SLOPE = (MU_M - MU_U) / SD**2


def _pairs(seed: int, *, opp_within: float = 2e6, opp_between: float = 4e6, kept_rate: float = 2e-3,
           between_matches: int = 900, within_matches: int = 60):
    """Scores and within-list flags of kept pairs: non-matches kept in proportion to the pair
    opportunities (one distribution within and between lists), matches mostly between lists."""
    rng = np.random.default_rng(seed)
    u_w, u_b = rng.poisson(opp_within * kept_rate), rng.poisson(opp_between * kept_rate)
    x = np.concatenate([rng.normal(MU_U, SD, u_w), rng.normal(MU_M, SD, within_matches),
                        rng.normal(MU_U, SD, u_b), rng.normal(MU_M, SD, between_matches)])
    within = np.r_[np.ones(u_w + within_matches, bool), np.zeros(u_b + between_matches, bool)]
    return x, within, u_b


def _true_between_probability(x: np.ndarray, u_b: int, m_b: int) -> np.ndarray:
    from scipy import stats

    fm, fu = m_b * stats.norm.pdf(x, MU_M, SD), u_b * stats.norm.pdf(x, MU_U, SD)
    return fm / (fm + fu)


def test_within_list_calibration_recovers_a_known_calibration():
    x, within, u_b = _pairs(1)
    fit = calibrate_within_lists(x, within, opportunities_within=2e6, opportunities_between=4e6)
    assert fit.theta[2] == pytest.approx(SLOPE, rel=0.1)
    grid = np.linspace(-2, 4, 13)
    truth = _true_between_probability(grid, u_b, 900)
    assert np.max(np.abs(fit.probabilities(grid, False) - truth)) < 0.05
    # the expected number of between-list matches among the pairs: 900 drawn
    expected = fit.probabilities(x[~within], False).sum()
    assert expected == pytest.approx(900, rel=0.06)
    # standard errors are finite and positive, the summary is JSON-ready
    assert all(0 < s < 5 for s in fit.standard_errors())
    d = json.loads(json.dumps(fit.to_dict()))
    assert d["method"] == "within-lists" and d["pairs_within"] == int(within.sum())


def test_the_fit_is_unbiased_over_replicates_and_its_bootstrap_tracks_its_spread():
    """Over 12 simulated sets of pairs the expected number of between-list matches is centred on
    the truth (900), and the bootstrap's spread is of the size of the estimates' spread."""
    estimates, spreads = [], []
    for seed in range(12):
        x, within, _ = _pairs(100 + seed)
        fit = calibrate_within_lists(x, within, opportunities_within=2e6, opportunities_between=4e6)
        estimates.append(fit.probabilities(x[~within], False).sum())
        thetas = bootstrap_within_lists(fit, x, within, 15, np.random.default_rng(seed))
        spreads.append(np.std([fit.probabilities(x[~within], False, t).sum() for t in thetas], ddof=1))
    estimates_arr = np.asarray(estimates)
    assert abs(estimates_arr.mean() - 900) < 3 * estimates_arr.std(ddof=1) / np.sqrt(12)
    ratio = np.median(spreads) / estimates_arr.std(ddof=1)
    assert 0.4 < ratio < 2.5


def test_within_list_calibration_refuses_what_it_cannot_fit():
    x, within, _ = _pairs(2)
    with pytest.raises(InputError, match="at least 30"):
        calibrate_within_lists(x[~within], within[~within], opportunities_within=1, opportunities_between=1)
    with pytest.raises(InputError, match="same length"):
        calibrate_within_lists(x, within[:-1], opportunities_within=1, opportunities_between=1)
    with pytest.raises(InputError, match="positive"):
        calibrate_within_lists(x, within, opportunities_within=0, opportunities_between=1)
    # scores that carry no information on matches (within and between alike): a flat likelihood
    rng = np.random.default_rng(3)
    flat = rng.normal(0, 1, 4000)
    with pytest.raises(InputError, match="do not identify a calibration"):
        calibrate_within_lists(flat, rng.random(4000) < 1 / 3, opportunities_within=1, opportunities_between=2)


def test_imputation_settings_validate_the_calibration():
    assert ImputationSettings().calibration == "within-lists"
    assert ImputationSettings(calibration="none").to_dict()["calibration"] == "none"
    with pytest.raises(InputError, match="calibration must be one of within-lists, none"):
        ImputationSettings(calibration="isotonic")


def _chain_graph(n_pairs: int = 300):
    """Records 0..2n-1 on two lists; record i of list A pairs with record i and with record i+1 of
    list B, with probabilities spread over (0.05, 0.95): chains of competing pairs."""
    rng = np.random.default_rng(0)
    left, right = [], []
    for i in range(n_pairs):
        left += [i, i]
        right += [n_pairs + i, n_pairs + (i + 1) % n_pairs]
    lst = np.r_[np.zeros(n_pairs, np.int64), np.ones(n_pairs, np.int64)]
    p = rng.uniform(0.05, 0.95, len(left))
    return PairGraph(("a", "b"), lst, np.array(left), np.array(right), p, None)


@pytest.mark.parametrize("goal", [60.0, 150.0, 240.0])
def test_moment_matching_links_as_many_pairs_as_the_target(goal):
    graph = _chain_graph()
    logits = np.log(graph.probability / (1 - graph.probability))
    trace: dict[str, list[float]] = {}
    draws = sample_gibbs(graph, 30, 5, deduplicated=True,
                         targets=LinkTargets(lambda _m: logits, np.full(30, goal)), trace=trace)
    links = np.asarray(trace["between_links"])
    assert abs(links.mean() - goal) < 0.05 * goal + 3
    # the draws are linkages: a person holds at most one record of each list
    for row in draws:
        cell = row * 2 + graph.list_index
        assert np.unique(cell).size == cell.size
    # the count in the trace is the draws' own
    state_links = []
    for row in draws:
        counts = np.bincount(row, minlength=row.max() + 1)
        state_links.append(int((counts == 2).sum()))
    assert state_links == [int(v) for v in links]


def test_moment_matching_follows_targets_that_change_from_draw_to_draw():
    graph = _chain_graph()
    logits = np.log(graph.probability / (1 - graph.probability))
    # targets alternating ±10% around 150, about the calibration's spread between imputations
    goals = np.tile([135.0, 165.0], 20)
    trace: dict[str, list[float]] = {}
    sample_gibbs(graph, 40, 6, targets=LinkTargets(lambda _m: logits, goals), trace=trace)
    links = np.asarray(trace["between_links"])
    assert abs(links.mean() - 150) < 5
    # the state follows most of each change within the sweeps between two draws
    assert links[goals == 165].mean() - links[goals == 135].mean() > 0.6 * 30
    with pytest.raises(InputError, match="one per draw"):
        sample_gibbs(graph, 40, 6, targets=LinkTargets(lambda _m: logits, goals[:5]))


def test_moment_matching_is_refused_with_the_beta_prior():
    """Under the beta prior the number of links has its own prior (and a shift of all odds moves it
    between none and all at once on such a graph): the two do not mix."""
    graph = _chain_graph()
    logits = np.log(graph.probability / (1 - graph.probability))
    with pytest.raises(InputError, match="pairwise prior"):
        sample_gibbs(graph, 5, 1, deduplicated=True, options=GibbsOptions(prior="beta", prior_match_probability=0.01),
                     targets=LinkTargets(lambda _m: logits, np.full(5, 100.0)))


def test_between_links_counts_pairs_of_records_on_different_lists():
    graph = PairGraph(("a", "b", "c"), np.array([0, 1, 2, 0, 1]), np.array([0, 3]), np.array([1, 4]),
                      np.array([0.5, 0.5]), None)
    state = _Gibbs(graph, np.array([0, 0, 0, 1, 1]), GibbsOptions(), False)
    assert state.between_links() == 3 + 1
