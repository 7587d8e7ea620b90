"""The special functions dga and the MCMC diagnostics use without scipy (``estimation._special``),
checked against scipy.special (the functions they replace) and against hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betainc, betaincinv, gammaln, ndtri

from cifranegra.estimation._special import beta_cdf, beta_ppf, lgamma, norm_ppf


def test_lgamma_matches_scipy_over_many_magnitudes() -> None:
    x = np.concatenate([np.geomspace(1e-10, 1e9, 5000), np.arange(1, 3000) / 2.0])
    want = gammaln(x)
    err = np.abs(lgamma(x) - want) / np.maximum(1.0, np.abs(want))
    assert err.max() < 1e-13


def test_lgamma_hand_values_and_outside_its_domain() -> None:
    # log Γ(1) = log Γ(2) = 0; Γ(1/2) = √π; Γ(5) = 24
    got = lgamma(np.array([1.0, 2.0, 0.5, 5.0]))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5 * math.log(math.pi), math.log(24.0)], atol=2e-15)
    assert np.isnan(lgamma(np.array([0.0, -1.0]))).all()
    assert float(lgamma(3.0)) == pytest.approx(math.log(2.0), abs=1e-15)


def test_norm_ppf_matches_scipy() -> None:
    p = np.concatenate([np.linspace(1e-12, 1 - 1e-12, 4001), [1e-300, 1e-20, 0.5]])
    np.testing.assert_allclose(norm_ppf(p), ndtri(p), rtol=1e-13, atol=1e-14)
    assert norm_ppf(np.array([[0.5, 0.975]])).shape == (1, 2)


def test_beta_cdf_and_ppf_match_scipy_where_the_diagnostics_use_them() -> None:
    """mcse_quantile asks for Beta(e·p + 1, e·(1 − p) + 1) quantiles at ±1 sd, e an effective sample size."""
    rng = np.random.default_rng(17)
    for _ in range(400):
        e = 10 ** rng.uniform(-1, 6)
        p = rng.uniform(0.001, 0.999)
        a, b = e * p + 1, e * (1 - p) + 1
        for q in (0.1586553, 0.8413447, 0.025, 0.5, 0.975):
            x = beta_ppf(q, a, b)
            assert x == pytest.approx(float(betaincinv(a, b, q)), rel=1e-9, abs=1e-300)
            # the front factor exp(log Γ(a+b) - log Γ(a) - log Γ(b) + ...) cancels terms of size
            # (a+b)·log(a+b): its relative error is a few units in the last place of that
            rounding = 4e-16 * (a + b) * math.log(a + b)
            assert beta_cdf(x, a, b) == pytest.approx(float(betainc(a, b, x)), rel=1e-12 + rounding)


def test_beta_ppf_small_shapes_and_ends() -> None:
    for a, b in [(0.5, 0.5), (0.1, 3.0), (3.0, 0.1), (1.0, 1.0)]:
        for q in (0.01, 0.5, 0.99):
            assert beta_ppf(q, a, b) == pytest.approx(float(betaincinv(a, b, q)), rel=1e-9, abs=1e-12)
    assert beta_ppf(0.3, 1.0, 1.0) == pytest.approx(0.3, abs=1e-14)  # uniform
    assert (beta_ppf(0.0, 2.0, 3.0), beta_ppf(1.0, 2.0, 3.0)) == (0.0, 1.0)


def test_root_brent_finds_known_roots_as_scipy_does() -> None:
    """Roots known by hand (√2, π/2, e, the root of x³ − 2x − 5 that Brent's book uses) and random
    shifted cubics against scipy's brentq; a bracket without a sign change is an error."""
    from scipy.optimize import brentq

    from cifranegra.estimation._special import root_brent

    cases = [
        (lambda x: x * x - 2.0, 0.0, 2.0, math.sqrt(2.0)),
        (math.cos, 0.0, 3.0, math.pi / 2),
        (lambda x: math.log(x) - 1.0, 1.0, 10.0, math.e),
        (lambda x: x**3 - 2 * x - 5, 2.0, 3.0, 2.0945514815423265),
        (lambda x: x - 1.0, 1.0, 5.0, 1.0),  # a root at an end
    ]
    for f, a, b, want in cases:
        assert root_brent(f, a, b, xtol=1e-14) == pytest.approx(want, abs=1e-12)
    rng = np.random.default_rng(5)
    for _ in range(200):
        r, s = rng.uniform(-50, 50), rng.uniform(0.1, 10)

        def g(x: float, r: float = r, s: float = s) -> float:
            return s * (x - r) ** 3 + (x - r)

        a, b = r - rng.uniform(0.1, 100), r + rng.uniform(0.1, 100)
        assert root_brent(g, a, b, xtol=1e-10) == pytest.approx(brentq(g, a, b, xtol=1e-12), abs=1e-9)
    with pytest.raises(ValueError, match="differ in sign"):
        root_brent(lambda x: x * x + 1.0, -1.0, 1.0)


def test_minimize_bounded_finds_known_minima_as_scipy_does() -> None:
    """Interior minima known by hand, minima on the boundary, and random smooth unimodal functions
    against scipy's bounded Brent minimizer."""
    from scipy.optimize import minimize_scalar

    from cifranegra.estimation._special import minimize_bounded

    assert minimize_bounded(lambda x: (x - 1.3) ** 2, 0.0, 5.0, xatol=1e-10) == pytest.approx(1.3, abs=1e-8)
    assert minimize_bounded(lambda x: x - 2 * math.log(x), 0.1, 10.0, xatol=1e-10) == pytest.approx(2.0, abs=1e-7)
    assert minimize_bounded(lambda x: x, 3.0, 4.0, xatol=1e-9) == pytest.approx(3.0, abs=1e-6)  # at the left end
    assert minimize_bounded(lambda x: -x, 3.0, 4.0, xatol=1e-9) == pytest.approx(4.0, abs=1e-6)
    rng = np.random.default_rng(9)
    for _ in range(200):
        c, s, lo = rng.uniform(-20, 20), rng.uniform(0.01, 5), rng.uniform(1, 50)

        def h(x: float, c: float = c, s: float = s) -> float:
            return math.cosh(s * (x - c)) + 0.1 * (x - c) ** 4

        want = minimize_scalar(h, bounds=(c - lo, c + 2 * lo), method="bounded", options={"xatol": 1e-10}).x
        assert minimize_bounded(h, c - lo, c + 2 * lo, xatol=1e-10) == pytest.approx(want, abs=1e-6)
