"""R-hat and effective sample size (Vehtari et al. 2021) on chains with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from cifranegra.estimation.diagnostics import ess, ess_tail, mcse_quantile, rhat


def ar1(rng: np.random.Generator, n: int, rho: float, chains: int = 4) -> np.ndarray:
    x = np.empty((chains, n))
    x[:, 0] = rng.standard_normal(chains)
    e = rng.standard_normal((chains, n)) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    return x


def test_iid_chains() -> None:
    x = np.random.default_rng(1).standard_normal((4, 1000))
    assert rhat(x) < 1.01
    assert 3000 < ess(x) < 5500  # 4000 independent draws
    assert ess_tail(x) > 2000


def test_ar1_ess_matches_theory() -> None:
    # integrated autocorrelation time of AR(1) is (1 + rho) / (1 - rho) = 9 for rho = 0.8
    x = ar1(np.random.default_rng(2), 5000, 0.8)
    assert ess(x) == pytest.approx(20000 / 9, rel=0.2)


def test_disagreeing_chains_flagged() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 500))
    x[0] += 3.0  # one chain stuck elsewhere
    assert rhat(x) > 1.1
    assert ess(x) < ess(rng.standard_normal((4, 500)))


def test_constant_and_mcse() -> None:
    assert rhat(np.ones((4, 100))) == 1.0
    x = np.random.default_rng(4).standard_normal((4, 2500))
    # MCSE of the median of 10,000 iid N(0,1) draws: sqrt(pi/2)/100 ≈ 0.0125
    assert mcse_quantile(x, 0.5) == pytest.approx(0.0125, rel=0.3)
