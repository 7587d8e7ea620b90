"""Six-list dga against an independent computation, and against the truth (issue 17 item 8).

R ``dga`` stops at 5 lists, so nothing external checks our 6- and 7-list answers. Here the posterior
is computed a second way, written from the model (Madigan & York 1997) and sharing no code with
``dga.py`` or ``graphs.py``:

* the decomposable graphs on 6 lists are found by brute force: all 2^15 edge sets, keeping those with
  no chordless cycle of length 4 or more (an induced subgraph on 4–6 vertices in which every vertex
  has degree 2 and which is one cycle);
* the marginal likelihood is the clique/separator product of Dawid & Lauritzen (1993): maximal
  cliques as maximal complete vertex sets, separators along a maximum-weight spanning tree of the
  clique intersections (a junction tree), hyper-Dirichlet prior with ``delta·2^(K-|A|)`` per cell of
  the marginal on ``A``;
* the posterior of N is summed over every graph on the full integer grid of unseen counts (no grid
  steps, no graphs left out), with the 1/N prior and a uniform prior over graphs.

Then simulated 6-list (and, in the slow suite, 7-list) populations with known N, fixed seeds: the
95% posterior interval covers the truth and the median is near it, for lists independent and for
lists with a dependent pair.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy.special import gammaln

from cifranegra.estimation.dga import DGA
from cifranegra.estimation.histories import CaptureHistories
from refdata import table

K = 6
PAIRS = list(combinations(range(K), 2))  # edge e joins PAIRS[e]; same order as the result's edge names


def _adjacency(edge_sets: np.ndarray) -> np.ndarray:
    """(graphs × K) neighbour bit masks."""
    adj = np.zeros((edge_sets.size, K), dtype=np.int64)
    for e, (i, j) in enumerate(PAIRS):
        on = (edge_sets >> e) & 1
        adj[:, i] |= on << j
        adj[:, j] |= on << i
    return adj


_BITS = np.array([bin(i).count("1") for i in range(1 << K)])
_LOW = np.array([(i & -i).bit_length() - 1 for i in range(1 << K)])  # lowest set bit (-1 for 0)
_HIGH = np.array([i.bit_length() - 1 for i in range(1 << K)])  # highest set bit


def _popcount(x: np.ndarray) -> np.ndarray:
    return _BITS[x]


def _chordal_edge_sets() -> np.ndarray:
    """Every edge set on K vertices with no induced cycle of length ≥ 4."""
    edge_sets = np.arange(1 << len(PAIRS), dtype=np.int64)
    adj = _adjacency(edge_sets)
    deg_in = {}
    chordal = np.ones(edge_sets.size, dtype=bool)
    for size in range(4, K + 1):
        for subset in combinations(range(K), size):
            s = sum(1 << v for v in subset)
            for v in subset:
                if (v, s) not in deg_in:
                    deg_in[(v, s)] = _popcount(adj[:, v] & s)
            two_regular = np.all([deg_in[(v, s)] == 2 for v in subset], axis=0)
            if size == 6:  # 2-regular on 6 vertices: a 6-cycle or two triangles
                v0 = subset[0]
                nb = adj[:, v0] & s
                # two triangles iff v0's two neighbours are adjacent
                a, b = _LOW[nb], _HIGH[nb]
                triangle = (adj[np.arange(adj.shape[0]), np.maximum(a, 0)] >> np.maximum(b, 0)) & 1
                two_regular &= triangle == 0
            chordal &= ~two_regular
    return edge_sets[chordal]


def _maximal_cliques(adj: np.ndarray) -> np.ndarray:
    """(graphs × 2^K) True where the vertex set is complete and no vertex can be added to it."""
    closed = adj | (1 << np.arange(K))
    complete = np.zeros((adj.shape[0], 1 << K), dtype=bool)
    for s in range(1, 1 << K):
        complete[:, s] = np.all([(closed[:, v] & s) == s for v in range(K) if (s >> v) & 1], axis=0)
    maximal = complete.copy()
    for s in range(1, 1 << K):
        for v in range(K):
            if not (s >> v) & 1:
                maximal[:, s] &= ~complete[:, s | (1 << v)]
    return maximal


def _separators(cliques: list[int]) -> list[int]:
    """The separators of a junction tree: Kruskal's maximum-weight spanning tree over the cliques,
    weighted by the size of their intersections."""
    edges = sorted(
        ((bin(a & b).count("1"), i, j) for (i, a), (j, b) in combinations(enumerate(cliques), 2)), reverse=True
    )
    parent = list(range(len(cliques)))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    separators = []
    for _, i, j in edges:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            separators.append(cliques[i] & cliques[j])
    return separators


def _log_ml_of_marginals(counts: np.ndarray, delta: float, unseen: np.ndarray) -> np.ndarray:
    """(2^K subsets × grid) log hyper-Dirichlet marginal likelihood of each marginal table of the
    complete table (unseen added to the all-zero cell); the empty set's is 0."""
    n_obs = counts.sum()
    total_prior = delta * 2**K
    out = np.zeros((1 << K, unseen.size))
    patterns = np.arange(1 << K)
    for a in range(1 << K):
        alpha = delta * 2 ** (K - bin(a).count("1"))
        marginal = np.zeros(1 << K)
        np.add.at(marginal, patterns & a, counts)
        cells = np.array([c for c in range(1 << K) if (c & ~a) == 0])
        rest = marginal[cells[1:]]
        out[a] = (
            gammaln(total_prior)
            - gammaln(n_obs + unseen + total_prior)
            + gammaln(marginal[0] + unseen + alpha)
            - gammaln(alpha)
            + float(np.sum(gammaln(rest + alpha) - gammaln(alpha)))
        )
    return out


def exact_posterior(h: CaptureHistories, max_unseen: int) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """(N grid, posterior of N, posterior weight of each graph by edge set), summed exactly."""
    assert h.n_lists == K
    counts = h.counts.astype(float)
    delta = 2.0**-K
    unseen = np.arange(max_unseen + 1, dtype=float)
    n_total = counts.sum() + unseen
    ml = _log_ml_of_marginals(counts, delta, unseen)
    edge_sets = _chordal_edge_sets()
    adj = _adjacency(edge_sets)
    coef = _maximal_cliques(adj).astype(float)  # +1 per clique
    for g in range(edge_sets.size):
        for s in _separators(np.flatnonzero(coef[g]).tolist()):
            coef[g, s] -= 1
    # multinomial coefficient of the complete table and the 1/N prior
    base = gammaln(n_total + 1) - gammaln(unseen + 1) - float(np.sum(gammaln(counts[1:] + 1))) - np.log(n_total)
    joint = coef @ ml + base  # graphs × grid
    joint = np.exp(joint - joint.max())
    post = joint.sum(axis=0)
    post /= post.sum()
    weights = joint.sum(axis=1)
    weights /= weights.sum()
    return n_total, post, dict(zip(edge_sets.tolist(), weights.tolist(), strict=True))


def _quantile(n: np.ndarray, p: np.ndarray, q: float) -> float:
    return float(n[np.searchsorted(np.cumsum(p), q - 1e-12)])


@pytest.fixture(scope="module")
def hare() -> tuple[CaptureHistories, tuple[np.ndarray, np.ndarray, dict[int, float]]]:
    h = table("Rcapture_hare")  # 6 lists, 68 hares (Rcapture)
    exact = exact_posterior(h, max_unseen=400)  # N up to 468, about 7 times the 68 seen
    assert exact[1][-40:].sum() < 1e-12  # the grid holds all the mass that matters
    return h, exact


def test_brute_force_finds_every_decomposable_graph(hare) -> None:
    _, (_, _, weights) = hare
    assert len(weights) == 18154  # OEIS A058862, found here without graphs.py
    four_cycle = sum(1 << PAIRS.index(p) for p in [(0, 1), (1, 2), (2, 3), (0, 3)])
    assert four_cycle not in weights and (four_cycle | 1 << PAIRS.index((0, 2))) in weights


def test_six_lists_agree_with_the_exact_sum(hare) -> None:
    """Hare (6 lists): dga's median and 50/80/95/99% intervals equal the exact ones, to the person."""
    h, (n, post, _) = hare
    res = DGA().fit(h)
    assert res.diagnostics["n_graphs"] == 18154
    assert res.diagnostics["grid_step"] == 1.0  # the exact grid: no rounding to a grid step
    assert res.estimate == _quantile(n, post, 0.5)
    for level in (0.5, 0.8, 0.95, 0.99):
        iv = res.interval(level)
        assert (iv.lower, iv.upper) == (_quantile(n, post, (1 - level) / 2), _quantile(n, post, (1 + level) / 2))
    # dga leaves out under 1e-7 of the mass in each tail, which moves the mean a little
    assert res.details["posterior_mean"] == pytest.approx(float(np.sum(n * post)), rel=1e-6)


def test_six_lists_model_weights_agree_with_the_exact_sum(hare) -> None:
    h, (_, _, weights) = hare
    res = DGA().fit(h)
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])
    for row, (edge_set, w) in zip(res.details["models"], ranked, strict=False):
        names = sorted(f"{h.lists[i]}-{h.lists[j]}" for e, (i, j) in enumerate(PAIRS) if (edge_set >> e) & 1)
        assert sorted(row["edges"]) == names
        assert row["posterior_probability"] == pytest.approx(w, rel=1e-6)


def _population(rng: np.random.Generator, n: int, p: np.ndarray, pair_boost: float) -> CaptureHistories:
    """N people, len(p) lists with capture probabilities p; with pair_boost, someone on list 0 is that
    many times as likely to be on list 1 (a dependent pair, which a decomposable graph can express)."""
    k = p.size
    on = rng.random((n, k)) < p
    if pair_boost != 1.0:
        p1 = np.minimum(p[1] * np.where(on[:, 0], pair_boost, 1.0), 0.95)
        on[:, 1] = rng.random(n) < p1
    masks = on.astype(np.int64) @ (1 << np.arange(k))
    counts = np.bincount(masks, minlength=1 << k)
    counts[0] = 0
    return CaptureHistories(tuple(f"L{i}" for i in range(k)), counts)


@pytest.mark.parametrize(
    ("seed", "n", "pair_boost"), [(11, 2000, 1.0), (12, 600, 1.0), (13, 2000, 2.5)], ids=["indep", "small", "pair"]
)
def test_six_lists_against_the_truth(seed: int, n: int, pair_boost: float) -> None:
    """Simulated 6-list populations with known N (fixed seeds): the 95% interval covers N and the
    median is within 10% of it."""
    rng = np.random.default_rng(seed)
    p = np.array([0.15, 0.1, 0.2, 0.12, 0.08, 0.18])
    h = _population(rng, n, p, pair_boost)
    res = DGA().fit(h)
    iv = res.interval(0.95)
    assert iv.lower <= n <= iv.upper, (n, res.estimate, iv)
    assert abs(res.estimate - n) < 0.1 * n, (n, res.estimate)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "pair_boost"), [(21, 1.0), (22, 2.5)], ids=["indep", "pair"])
def test_seven_lists_against_the_truth(seed: int, pair_boost: float) -> None:
    """7 lists (617,675 graphs; a few CPU seconds a fit): the 95% interval covers N = 3,000 and the
    median is within 10% of it."""
    rng = np.random.default_rng(seed)
    n = 3000
    h = _population(rng, n, np.array([0.15, 0.1, 0.2, 0.12, 0.08, 0.18, 0.1]), pair_boost)
    res = DGA().fit(h)
    assert res.diagnostics["n_graphs"] == 617675
    iv = res.interval(0.95)
    assert iv.lower <= n <= iv.upper, (res.estimate, iv)
    assert abs(res.estimate - n) < 0.1 * n, res.estimate
