"""The linkage samplers against exact enumeration of every linkage of tiny files.

The target of the Gibbs sampler is coded again here, independently of the package: for two lists
Sadinle's (2017, JASA 112:600–612) posterior over bipartite matchings, prior
P(Z) ∝ (n1 - L)!/n1! · B(L + α, n2 - L + β) with L links, likelihood Π_{links} BF_ij; for three lists
the sequential beta prior written out per partition; for the pairwise prior Π odds(p_ij). Draws are
compared with the exact probabilities by a χ² goodness-of-fit test (seeded; cells with expected
count < 5 pooled). Deliberate bugs tried (each alone, run once, never committed):

* dropping the (n1 - L)! factor of the beta prior (``beta_log_prior``): the two-list test fails
  (p = 2e-232); the three-list beta-prior test still passes, its 2 + 2 + 2 case being too small for
  the factor to move enough probability;
* giving a pair that was not kept weight 1 instead of the floor's Bayes factor (``w_missing = 0``):
  the three-list beta-prior test (p = 3e-51) and the pairwise-prior test (p = 0) fail.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cifranegra.errors import InputError
from cifranegra.linkage.uncertainty import (
    GibbsOptions,
    pair_graph,
    sample_components,
    sample_gibbs,
)


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _records(sizes: dict[str, int]) -> pd.DataFrame:
    rows = [(s, str(i)) for s, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["source", "record_id"])


def _pairs(records: pd.DataFrame, probs: dict[tuple[int, int], float]) -> pd.DataFrame:
    rows = []
    for (a, b), p in probs.items():
        ra, rb = records.iloc[a], records.iloc[b]
        rows.append((ra.source, ra.record_id, rb.source, rb.record_id, p))
    return pd.DataFrame(rows, columns=["source_l", "record_id_l", "source_r", "record_id_r", "match_probability"])


def _set_partitions(items: list[int]):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _set_partitions(rest):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1:]]
        yield [[first], *part]


def _canonical(labels: np.ndarray) -> tuple[frozenset[int], ...]:
    groups: dict[int, set[int]] = {}
    for r, e in enumerate(labels.tolist()):
        groups.setdefault(e, set()).add(r)
    return tuple(sorted((frozenset(g) for g in groups.values()), key=min))


def _chi2_pvalue(draws: np.ndarray, exact: dict[tuple[frozenset[int], ...], float]) -> float:
    n = draws.shape[0]
    seen = pd.Series([_canonical(row) for row in draws]).value_counts()
    assert set(seen.index) <= set(exact), "a draw outside the support of the target"
    keys = list(exact)
    expected = np.array([exact[k] * n for k in keys])
    observed = np.array([seen.get(k, 0) for k in keys], dtype=float)
    small = expected < 5
    if small.any():
        expected = np.append(expected[~small], expected[small].sum())
        observed = np.append(observed[~small], observed[small].sum())
    return float(stats.chisquare(observed, expected).pvalue)


def _normalize(weights: dict) -> dict:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


def _sadinle_exact(n1, n2, probs, lam, alpha, beta):
    exact: dict = {}
    for L in range(min(n1, n2) + 1):
        for bs in itertools.combinations(range(n2), L):
            for as_ in itertools.permutations(range(n1), L):
                log_w = math.lgamma(n1 - L + 1) - math.lgamma(n1 + 1)
                log_w += math.lgamma(L + alpha) + math.lgamma(n2 - L + beta)
                groups = [frozenset({a, n1 + b}) for a, b in zip(as_, bs, strict=True)]
                for a, b in zip(as_, bs, strict=True):
                    log_w += _logit(probs[(a, n1 + b)]) - _logit(lam)
                linked = set().union(*groups) if groups else set()
                groups += [frozenset({r}) for r in range(n1 + n2) if r not in linked]
                exact[tuple(sorted(groups, key=min))] = math.exp(log_w)
    return _normalize(exact)


def _check_sadinle(n1, n2, thin, seed):
    rng = np.random.default_rng(11)
    lam, alpha, beta = 0.15, 1.0, 2.0
    records = _records({"A": n1, "B": n2})
    probs = {(i, n1 + j): float(rng.uniform(0.05, 0.95)) for i in range(n1) for j in range(n2)}
    exact = _sadinle_exact(n1, n2, probs, lam, alpha, beta)
    graph = pair_graph(records, _pairs(records, probs))
    opts = GibbsOptions(prior="beta", prior_match_probability=lam, alpha=alpha, beta=beta, burn_in=5, thin=thin)
    draws = sample_gibbs(graph, 20_000, seed, deduplicated=True, options=opts)
    return len(exact), _chi2_pvalue(draws, exact)


def test_gibbs_two_lists_is_sadinles_bipartite_posterior():
    """3 + 3 records (34 matchings), every second sweep kept."""
    n_states, p = _check_sadinle(3, 3, thin=2, seed=2024)
    assert n_states == 34
    assert p > 1e-4


@pytest.mark.slow
def test_gibbs_two_lists_is_sadinles_bipartite_posterior_4_by_4():
    """4 + 4 records (209 matchings), every fifth sweep kept (about 20 s)."""
    n_states, p = _check_sadinle(4, 4, thin=5, seed=2024)
    assert n_states == 209
    assert p > 1e-4


def _three_list_case():
    records = _records({"A": 2, "B": 2, "C": 2})
    # a connected graph with missing pairs (0-5, 1-4, ...) so that the floor weight matters
    probs = {(0, 2): 0.8, (0, 3): 0.3, (1, 3): 0.6, (2, 4): 0.7, (3, 4): 0.2, (0, 4): 0.5, (1, 5): 0.4, (3, 5): 0.9}
    return records, probs


def _exact_partitions(n, lists, probs, floor, *, dedup, shift, prior):
    exact = {}
    for part in _set_partitions(list(range(n))):
        if dedup and any(len({lists[r] for r in g}) < len(g) for g in part):
            continue
        log_w = prior(part)
        for g in part:
            for a, b in itertools.combinations(sorted(g), 2):
                log_w += _logit(probs.get((a, b), floor)) - shift
        exact[tuple(sorted((frozenset(g) for g in part), key=min))] = math.exp(log_w)
    return _normalize(exact)


def test_gibbs_three_lists_beta_prior_matches_enumeration():
    records, probs = _three_list_case()
    lists = [0, 0, 1, 1, 2, 2]
    sizes = [2, 2, 2]
    lam, alpha, beta, floor = 0.2, 1.5, 2.0, 0.05

    def prior(part):
        links = [0, 0, 0]
        for g in part:
            for k in sorted(lists[r] for r in g)[1:]:
                links[k] += 1
        total, formed = 0.0, sizes[0]
        for k in (1, 2):
            L = links[k]
            total += math.lgamma(formed - L + 1) - math.lgamma(formed + 1)
            total += math.lgamma(L + alpha) + math.lgamma(sizes[k] - L + beta)
            formed += sizes[k] - L
        return total

    exact = _exact_partitions(6, lists, probs, floor, dedup=True, shift=_logit(lam), prior=prior)
    graph = pair_graph(records, _pairs(records, probs), floor=floor)
    opts = GibbsOptions(prior="beta", prior_match_probability=lam, alpha=alpha, beta=beta, burn_in=5, thin=1)
    draws = sample_gibbs(graph, 20_000, 7, deduplicated=True, options=opts)
    assert _chi2_pvalue(draws, exact) > 1e-4


def test_gibbs_without_floor_never_joins_records_whose_pair_was_not_kept():
    """Default (no floor): a person's records are linked pairwise by kept pairs (exact target: the
    partitions whose every pair was kept, weight 0 for the others)."""
    records, probs = _three_list_case()
    lists = [0, 0, 1, 1, 2, 2]
    exact = _exact_partitions(6, lists, probs, 1e-300, dedup=True, shift=0.0, prior=lambda part: 0.0)
    exact = _normalize({k: v for k, v in exact.items() if v > 1e-200})
    graph = pair_graph(records, _pairs(records, probs))
    draws = sample_gibbs(graph, 10_000, 8, deduplicated=True, options=GibbsOptions(burn_in=5, thin=1))
    assert _chi2_pvalue(draws, exact) > 1e-4


def test_gibbs_pairwise_prior_with_duplicates_matches_enumeration():
    records = _records({"A": 3, "B": 2})
    probs = {(0, 1): 0.7, (0, 3): 0.6, (1, 3): 0.5, (2, 4): 0.3, (3, 4): 0.4, (1, 4): 0.2}
    floor = 0.02
    exact = _exact_partitions(5, [0, 0, 0, 1, 1], probs, floor, dedup=False, shift=0.0, prior=lambda part: 0.0)
    graph = pair_graph(records, _pairs(records, probs), floor=floor)
    draws = sample_gibbs(graph, 20_000, 3, options=GibbsOptions(burn_in=5, thin=1))
    assert _chi2_pvalue(draws, exact) > 1e-4


def test_isolated_pair_is_linked_with_its_probability():
    records = _records({"A": 1, "B": 1})
    graph = pair_graph(records, _pairs(records, {(0, 1): 0.3}))
    for draws in (
        sample_gibbs(graph, 4000, 5, options=GibbsOptions(burn_in=0, thin=1)),
        sample_components(graph, 4000, 5),
    ):
        share = float((draws[:, 0] == draws[:, 1]).mean())
        assert share == pytest.approx(0.3, abs=0.03)


def test_samplers_never_put_two_records_of_one_list_together_when_deduplicated():
    rng = np.random.default_rng(0)
    records = _records({"A": 6, "B": 6, "C": 6})
    probs = {(a, b): float(rng.uniform(0.2, 0.99)) for a in range(18) for b in range(a + 1, 18) if rng.random() < 0.4}
    graph = pair_graph(records, _pairs(records, probs))
    lists = graph.list_index
    for draws in (
        sample_components(graph, 200, 1, deduplicated=True),
        sample_gibbs(graph, 200, 1, deduplicated=True, options=GibbsOptions("beta", 0.1, burn_in=2, thin=1)),
    ):
        for row in draws:
            cells = row * 3 + lists
            assert np.unique(cells).size == cells.size


def test_repair_keeps_the_strongest_links():
    # a1 - b1 (0.9), a2 - b1 (0.95), a2 - b2 (0.6): drawn together, a component with two A records
    records = _records({"A": 2, "B": 2})
    probs = {(0, 2): 1.0, (1, 2): 1.0, (1, 3): 1.0}
    graph = pair_graph(records, _pairs(records, probs))
    draws = sample_components(graph, 50, 3, deduplicated=True)
    # max weight: a1-b1 + a2-b2 (two links) beats a2-b1 alone (one)
    for row in draws:
        assert row[0] == row[2] and row[1] == row[3] and row[0] != row[1]


def test_same_seed_same_draws_and_bad_input():
    records, probs = _three_list_case()
    graph = pair_graph(records, _pairs(records, probs))
    a = sample_gibbs(graph, 10, 4)
    b = sample_gibbs(graph, 10, 4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sample_components(graph, 5, 9), sample_components(graph, 5, 9))
    with pytest.raises(InputError, match="de-duplicated"):
        sample_gibbs(graph, 5, 1, options=GibbsOptions("beta", 0.1))
    with pytest.raises(InputError, match="prior_match_probability"):
        GibbsOptions("beta")
    with pytest.raises(InputError, match="number of imputations"):
        sample_components(graph, 0, 1)
    bad = _pairs(records, probs)
    bad.loc[0, "record_id_r"] = "99"
    with pytest.raises(InputError, match="not in the records table"):
        pair_graph(records, bad)
