"""Interval coverage on simulated populations with known N (slow statistical suite).

Populations are drawn person by person, so the truth is known: N people, each captured by each list
with given probabilities; in the dependent scenario, being on list 1 raises the chance of list 2
(a referral), which the log-linear model [12,3,4] represents exactly. A 95% interval should cover N in
about 95% of populations; with S simulations we accept any rate within the central 99.9% binomial band.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cifranegra.estimation import CaptureHistories, estimate

pytestmark = pytest.mark.slow


def simulate(rng: np.random.Generator, N: int, p: list[float], referral: float = 0.0) -> CaptureHistories:
    k = len(p)
    caps = rng.random((N, k)) < np.asarray(p)[None, :]
    if referral:
        extra = caps[:, 0] & (rng.random(N) < referral)
        caps[:, 1] |= extra
    masks = (caps.astype(np.int64) << np.arange(k)).sum(axis=1)
    counts = np.bincount(masks, minlength=2**k)
    counts[0] = 0
    return CaptureHistories(tuple(f"L{i + 1}" for i in range(k)), counts)


def _band(S: int, level: float = 0.95) -> tuple[float, float]:
    lo = stats.binom.ppf(0.0005, S, level) / S
    hi = stats.binom.ppf(0.9995, S, level) / S
    return lo, hi


def test_profile_interval_coverage() -> None:
    rng = np.random.default_rng(2026)
    S, N = 300, 1500
    hits = 0
    for _ in range(S):
        h = simulate(rng, N, [0.25, 0.2, 0.3, 0.15], referral=0.3)
        r = estimate(h, "loglinear", model="[12,3,4]", interval="profile")
        iv = r.interval()
        hits += iv.lower <= N <= iv.upper
    lo, hi = _band(S)
    assert lo <= hits / S <= hi, hits / S


def test_wald_interval_undercovers_as_documented() -> None:
    """SparseMSE's Wald interval is for the expected dark figure: it leaves out the variation of the
    unobserved count around it, so it covers N less often than 95% (89% in this design, seed 2026);
    docs/estimation.md says so and the profile interval is the default for a fixed model."""
    rng = np.random.default_rng(2026)
    S, N = 300, 1500
    wald = profile = 0
    for _ in range(S):
        h = simulate(rng, N, [0.25, 0.2, 0.3, 0.15], referral=0.3)
        w = estimate(h, "loglinear", model="[12,3,4]", interval="wald").interval()
        p = estimate(h, "loglinear", model="[12,3,4]", interval="profile").interval()
        wald += w.lower <= N <= w.upper
        profile += p.lower <= N <= p.upper
        assert w.upper - w.lower < p.upper - p.lower
    assert wald < profile


def test_bic_bootstrap_coverage_with_model_selection() -> None:
    """The bootstrap re-selects the model in each replicate, so the interval covers despite selection."""
    rng = np.random.default_rng(11)
    S, N = 60, 1500
    hits = 0
    for s in range(S):
        h = simulate(rng, N, [0.25, 0.2, 0.3, 0.15], referral=0.3)
        r = estimate(h, "loglinear", select="bic", interval="bootstrap", n_boot=400, seed=s)
        iv = r.interval()
        hits += iv.lower <= N <= iv.upper
    lo, _ = _band(S)
    assert hits / S >= lo, hits / S


def test_point_estimate_is_nearly_unbiased_under_the_true_model() -> None:
    rng = np.random.default_rng(5)
    N = 3000
    ests = [estimate(simulate(rng, N, [0.3, 0.25, 0.2], referral=0.0), "independence", interval="none").estimate
            for _ in range(300)]
    assert abs(np.mean(ests) / N - 1) < 0.01
