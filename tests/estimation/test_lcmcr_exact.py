"""LCMCR against an exact computation: K* = 2 latent classes on tiny 3-list tables.

With two classes the posterior of N is a finite sum: given every person's class, the capture
probabilities (Beta(1, 1)) and the stick V ~ Beta(1, alpha), alpha ~ Gamma(a, b) integrate out in
closed form or in one dimension, and the class splits of each capture pattern enter through a dynamic
programme over the sufficient statistics (people in class 1, and each list's catch in class 1).
Nothing here shares code with the sampler. The check failed before the sticks were drawn on the log
scale: with V clamped at 1 - 1e-15 (and alpha at 1e-10) the plain Gibbs sampler put P(N <= median)
several Monte Carlo standard errors below the exact value (see each test).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln, gammaln, logsumexp

from cifranegra.estimation.diagnostics import ess
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.lcmcr import LCMCR

PATTERNS = ("100", "010", "001", "110", "101", "011", "111")
PLAIN = {"collapsed_moves": 0, "scale_moves": 0, "swap_moves": 0, "hmc_steps": 0}


def log_stick_moment(m1: np.ndarray, m2: np.ndarray, a: float = 0.25, b: float = 0.25) -> np.ndarray:
    """log E[V^m1 (1 - V)^m2] for V ~ Beta(1, alpha), alpha ~ Gamma(a, rate b): E_alpha[alpha B(1 + m1,
    alpha + m2)], by Gauss–Legendre panels in u = log alpha on [-30, 8] plus the closed form below
    -30 (there alpha B(1 + m1, alpha + m2) is 1 for m2 = 0 and alpha B(1 + m1, m2) otherwise)."""
    m1 = np.asarray(m1, float)[:, None]
    m2 = np.asarray(m2, float)[:, None]
    xg, wg = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(-30.0, 8.0, 39)
    half = np.diff(edges) / 2
    u = (half[:, None] * xg[None, :] + (edges[:-1] + half)[:, None]).ravel()
    w = (half[:, None] * wg[None, :]).ravel()
    al = np.exp(u)[None, :]
    const = a * np.log(b) - gammaln(a)
    body = const + a * u[None, :] - b * al + u[None, :] + gammaln(1 + m1) + gammaln(al + m2) - gammaln(1 + m1 + al + m2)
    body = logsumexp(body + np.log(w)[None, :], axis=1)
    u0 = -30.0
    tail = np.where(
        m2[:, 0] == 0,
        const + a * u0 - np.log(a),
        const + (a + 1) * u0 - np.log(a + 1) + betaln(1 + m1[:, 0], np.maximum(m2[:, 0], 1)),
    )
    return np.logaddexp(body, tail)


def exact_k2_posterior(counts: dict[str, int], n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior of N (n..n_max) of LCMCR with K* = 2, a = b = 0.25, lambda ~ Beta(1, 1), p(N) ∝ 1/N,
    restricted to N <= n_max (the same as truncating the prior there)."""
    pats = [(tuple(int(ch) for ch in p), v) for p, v in counts.items() if v > 0]
    n = sum(v for _, v in pats)
    s = [sum(v for p, v in pats if p[j]) for j in range(3)]
    # dp[o, a, b, c]: log sum over class-1 splits of the observed of prod C(n_p, m_p), with o observed
    # people in class 1 and a, b, c of them caught by lists 1, 2, 3
    dp = np.full((n + 1, s[0] + 1, s[1] + 1, s[2] + 1), -np.inf)
    dp[0, 0, 0, 0] = 0.0
    for p, v in pats:
        new = np.full_like(dp, -np.inf)
        for m in range(v + 1):
            dst = (slice(m, None), *(slice(m * p[j], None) for j in range(3)))
            src = (slice(0, n + 1 - m), *(slice(0, s[j] + 1 - m * p[j]) for j in range(3)))
            lc = gammaln(v + 1) - gammaln(m + 1) - gammaln(v - m + 1)
            new[dst] = np.logaddexp(new[dst], dp[src] + lc)
        dp = new
    top = dp.max()
    dpe = np.exp(dp - top)
    log_np = sum(gammaln(v + 1) for _, v in pats)
    big = np.arange(n, n_max + 1)
    logp = np.empty(big.size)
    for i, big_n in enumerate(big):
        n0 = big_n - n
        m1 = np.arange(big_n + 1)
        m2 = big_n - m1
        factors, shift = [], np.zeros(m1.size)
        for j in range(3):  # class 1 and class 2 capture probabilities of list j integrated out
            a = np.arange(s[j] + 1)[None, :]
            ok = (m1[:, None] >= a) & (m2[:, None] >= s[j] - a)
            lj = np.where(ok, betaln(1 + a, 1 + np.maximum(m1[:, None] - a, 0))
                          + betaln(1 + s[j] - a, 1 + np.maximum(m2[:, None] - s[j] + a, 0)), -np.inf)  # fmt: skip
            mx = lj.max(axis=1)
            mx = np.where(np.isfinite(mx), mx, 0.0)
            factors.append(np.exp(lj - mx[:, None]))
            shift += mx
        t = np.einsum("oabc,ma,mb,mc->mo", dpe, factors[0], factors[1], factors[2], optimize=True)
        with np.errstate(divide="ignore"):
            lt = np.log(t) + shift[:, None] + top
        k = m1[:, None] - np.arange(n + 1)[None, :]  # class-1 people among the unseen
        kk = np.clip(k, 0, n0)
        lc = np.where((k >= 0) & (k <= n0), gammaln(n0 + 1) - gammaln(kk + 1) - gammaln(n0 - kk + 1), -np.inf)
        per_m1 = logsumexp(lt + lc, axis=1) + log_stick_moment(m1, m2)
        logp[i] = -np.log(big_n) + gammaln(big_n + 1) - gammaln(n0 + 1) - log_np + logsumexp(per_m1)
    pmf = np.exp(logp - logp.max())
    return big, pmf / pmf.sum()


def _table(values: tuple[int, ...]) -> dict[str, int]:
    return dict(zip(PATTERNS, values, strict=True))


def test_exact_sum_equals_brute_force_enumeration() -> None:
    """The dynamic programme against brute force on a 4-person table: for each N, the sum over all
    2^N class labels of the people (seen and unseen), each label set weighted by its stick moment and
    Beta integrals. Checked to fail when the unseen's split coefficient C(n0, m0) is dropped."""
    counts = _table((1, 0, 1, 0, 0, 1, 1))
    big, pmf = exact_k2_posterior(counts, 10)
    # brute force: sum over N, and over the class labels of all N people (patterns of the unseen 000)
    n = 4
    pats = [(1, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)]
    brute = []
    for big_n in big:
        people = pats + [(0, 0, 0)] * (big_n - n)
        total = -np.inf
        for labels in range(2**big_n):
            z = np.array([(labels >> i) & 1 for i in range(big_n)])
            m1 = int((z == 0).sum())
            lw = float(log_stick_moment(np.array([m1]), np.array([big_n - m1]))[0])
            for cls in (0, 1):
                members = [people[i] for i in range(big_n) if z[i] == cls]
                for j in range(3):
                    caught = sum(pp[j] for pp in members)
                    lw += betaln(1 + caught, 1 + len(members) - caught)
            total = np.logaddexp(total, lw)
        # labelled people: N!/(n0! prod n_p!) / N, the n0 unseen exchangeable (2^n0 labels summed above)
        brute.append(total - np.log(big_n) + gammaln(big_n + 1) - gammaln(big_n - n + 1))
    brute = np.exp(np.asarray(brute) - max(brute))
    np.testing.assert_allclose(pmf, brute / brute.sum(), rtol=1e-8)


#: a 22-person table with a well-caught group ('111') and many single catches: two classes matter
TABLE = _table((5, 4, 6, 1, 1, 1, 4))
N_MAX = 100  # draws are compared given N <= N_MAX (the same restriction as the exact sum)


@pytest.fixture(scope="module")
def exact_cdf() -> tuple[np.ndarray, np.ndarray]:
    big, pmf = exact_k2_posterior(TABLE, N_MAX)
    return big, np.cumsum(pmf)


@pytest.mark.parametrize(("moves", "seed"), [("plain", 1), ("default", 2)])
def test_k2_sampler_matches_the_exact_posterior(exact_cdf: tuple[np.ndarray, np.ndarray], moves: str,
                                                seed: int) -> None:  # fmt: skip
    """P(N <= q | N <= 100) at the exact 25/50/75% quantiles (exact median 28, P(N <= 28) 0.5001), within
    4 Monte Carlo standard errors (binomial, with the indicator's effective sample size). The kernel
    before the log-scale sticks (V <= 1 - 1e-15, alpha >= 1e-10), 4 chains x 20,000 draws: plain
    P(N <= 28) 0.486 (5.4 s.e. off), default moves 0.487 (6.7 s.e.); after: 0.499 and 0.502."""
    big, cdf = exact_cdf
    h = CaptureHistories.from_counts(TABLE, ["a", "b", "c"])
    spec = PLAIN if moves == "plain" else {}
    res = LCMCR(max_classes=2, chains=4, samples=20000, burn_in=1000, thin=4, **spec).fit(h, rng=seed)
    assert res.draws is not None
    d = np.asarray(res.draws).reshape(4, -1)
    keep = d <= N_MAX
    for q in (0.25, 0.5, 0.75):
        x = int(big[np.searchsorted(cdf, q)])
        want = float(cdf[big == x][0])
        ind = (d <= x).astype(float)
        got = float(ind[keep].mean())
        se = np.sqrt(want * (1 - want) / ess(ind))
        assert abs(got - want) <= 4 * se, (q, x, got, want, se)


def test_r_cap_matches_the_exact_truncated_posterior() -> None:
    """``n_cap_factor``: N <= floor(2.5 n) = 55 here. The capped posterior is the exact one restricted
    to N <= 55 (a truncated prior); default moves (their targets carry P(n0 <= cap - n | params))
    and tempered replicas (each capped at its own n) must give it. Checked to fail when the scale move
    omits the capped factor."""
    big, pmf = exact_k2_posterior(TABLE, 55)
    cdf = np.cumsum(pmf)
    h = CaptureHistories.from_counts(TABLE, ["a", "b", "c"])
    for spec, seed in (({}, 3), ({"temperatures": 3, "hottest": 0.5}, 4)):
        res = LCMCR(max_classes=2, chains=4, samples=4000, burn_in=1000, thin=4, n_cap_factor=2.5, **spec).fit(
            h, rng=seed
        )
        assert res.draws is not None
        d = np.asarray(res.draws).reshape(4, -1)
        assert d.max() <= 55 and res.diagnostics["n_cap"] == 55
        for x in (26, 34):
            want = float(cdf[big == x][0])
            ind = (d <= x).astype(float)
            se = np.sqrt(want * (1 - want) / ess(ind))
            assert abs(float(ind.mean()) - want) <= 4 * se, (spec, x)
