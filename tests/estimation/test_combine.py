"""Combination of estimates over imputed linkages, against hand computation.

Hand values (Rubin 1987, eqs. 3.1.2–3.1.8; Barnard & Rubin 1999, eq. 3): for q = (1, 2, 3),
u = (0.1, 0.2, 0.3): q̄ = 2, Ū = 0.2, B = 1, T = 0.2 + (4/3)·1 = 1.5333…, λ = (4/3)/T = 0.869565…,
ν_old = (M − 1)/λ² = 2/0.756144… = 2.645; with ν_com = 10: ν_obs = (11/13)·10·(1 − λ) = 1.10368…,
ν = 1/(1/2.645 + 1/1.10368) = 0.77874…
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation.combine import combine_estimates, impute_and_estimate, rubin
from cifranegra.estimation.result import EstimateResult, Interval


def test_rubin_by_hand():
    pooled = rubin([1.0, 2.0, 3.0], [0.1, 0.2, 0.3])
    assert pooled.mean == pytest.approx(2.0)
    assert pooled.within == pytest.approx(0.2)
    assert pooled.between == pytest.approx(1.0)
    assert pooled.total == pytest.approx(0.2 + 4 / 3)
    lam = (4 / 3) / (0.2 + 4 / 3)
    assert pooled.linkage_share == pytest.approx(lam)
    assert pooled.df == pytest.approx(2 / lam**2)
    lo, hi = pooled.interval(0.95)
    half = stats.t.ppf(0.975, 2 / lam**2) * math.sqrt(0.2 + 4 / 3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))
    small = rubin([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], df_complete=10)
    df_obs = 11 / 13 * 10 * (1 - lam)
    assert small.df == pytest.approx(1 / (1 / (2 / lam**2) + 1 / df_obs))
    # no between-imputation variance: the normal interval of the complete data, no linkage share
    same = rubin([2.0, 2.0], [0.04, 0.04])
    assert same.linkage_share == 0 and math.isinf(same.df)
    assert same.interval(0.95) == pytest.approx((2 - 1.959964 * 0.2, 2 + 1.959964 * 0.2), rel=1e-6)


def _result(estimate, observed, *, se=None, interval=None, draws=None, method="chapman"):
    intervals = () if interval is None else (Interval(*interval, 0.95, "profile"),)
    return EstimateResult(
        method=method,
        estimate=estimate,
        observed=observed,
        lists=("A", "B"),
        intervals=intervals,
        diagnostics={} if se is None else {"std_error": se},
        draws=None if draws is None else tuple(draws),
        interval_method=None if draws is None else "posterior",
    )


def test_rubin_on_the_log_dark_figure_by_hand():
    results = [
        _result(300.0, 200, interval=(260.0, 360.0)),
        _result(330.0, 210, se=20.0),
        _result(280.0, 190, interval=(250.0, 330.0)),
    ]
    out = combine_estimates(results)
    c = 190 - 0.5
    z = stats.norm.ppf(0.975)
    theta = [math.log(300 - c), math.log(330 - c), math.log(280 - c)]
    u = [
        ((math.log(360 - c) - math.log(260 - c)) / (2 * z)) ** 2,
        (20.0 / (330 - c)) ** 2,
        ((math.log(330 - c) - math.log(250 - c)) / (2 * z)) ** 2,
    ]
    qbar, ubar, b = np.mean(theta), np.mean(u), np.var(theta, ddof=1)
    t = ubar + (4 / 3) * b
    lam = (4 / 3) * b / t
    df = 2 / lam**2
    half = stats.t.ppf(0.975, df) * math.sqrt(t)
    assert out.estimate == pytest.approx(c + math.exp(qbar))
    iv = out.interval()
    assert (iv.lower, iv.upper) == pytest.approx((c + math.exp(qbar - half), c + math.exp(qbar + half)))
    assert iv.method == "rubin-t"
    assert out.diagnostics["linkage_share_of_variance"] == pytest.approx(lam)
    assert out.diagnostics["degrees_of_freedom"] == pytest.approx(df)
    assert out.observed == 200
    assert out.diagnostics["observed_counts"] == [200, 210, 190]
    # the combined interval is wider than any single one: it carries the linkage's spread
    assert iv.upper - iv.lower > 100
    EstimateResult.from_json(out.to_json())  # serializable


def test_pooling_posterior_draws():
    rng = np.random.default_rng(1)
    a = rng.normal(500, 20, 1000)
    b = rng.normal(560, 20, 2000)  # longer: thinned evenly to 1000
    out = combine_estimates([_result(500, 400, draws=a, method="lcmcr"), _result(560, 410, draws=b, method="lcmcr")])
    b_even = b[np.linspace(0, 1999, 1000).round().astype(int)]
    pooled = np.concatenate([a, b_even])
    assert out.estimate == pytest.approx(float(np.median(pooled)))
    iv = out.interval()
    assert (iv.lower, iv.upper) == pytest.approx(tuple(np.quantile(pooled, [0.025, 0.975])))
    assert iv.method == "posterior"
    assert len(out.draws) == 2000
    assert out.interval(0.5) is not None  # any level from the pooled draws
    assert 0.5 < out.diagnostics["linkage_share_of_variance"] < 1


def test_combination_refuses_what_it_cannot_combine():
    with pytest.raises(InputError, match="at least 2"):
        combine_estimates([_result(300.0, 200, se=10.0)])
    with pytest.raises(InputError, match="one method"):
        combine_estimates([_result(300.0, 200, se=10.0), _result(300.0, 200, se=10.0, method="chao")])
    with pytest.raises(ModelError, match="imputed linkage 2 cannot be combined"):
        combine_estimates([_result(300.0, 200, se=10.0), _result(300.0, 200)])
    with pytest.raises(InputError):
        rubin([1.0, 2.0], [0.1, -0.1])


class _FakeImputations:
    """Three linkages of five records on lists A and B: 1, 2 and 0 of the A–B pairs linked."""

    def __init__(self):
        base = pd.DataFrame(
            {"source": ["A"] * 60 + ["B"] * 50, "record_id": [str(i) for i in range(60)] + [str(i) for i in range(50)]}
        )
        self.records = base
        ids = []
        for links in (30, 25, 35):
            a = np.arange(60)
            b = np.concatenate([np.arange(links), 100 + np.arange(50 - links)])
            ids.append(np.concatenate([a, b]))
        self.assignments = np.array(ids)

    @property
    def n_imputations(self):
        return 3

    def entities(self, m):
        return self.records.assign(entity_id=self.assignments[m])


def test_impute_and_estimate_tabulates_each_linkage_and_combines():
    imp = _FakeImputations()
    combined, singles = impute_and_estimate(imp, "chapman", seed=3)
    assert [s.observed for s in singles] == [80, 85, 75]
    assert [s.estimate for s in singles] == pytest.approx([(61 * 51) / 31 - 1, (61 * 51) / 26 - 1, (61 * 51) / 36 - 1])
    again = combine_estimates(singles)
    assert combined.estimate == pytest.approx(again.estimate)
    assert combined.diagnostics["n_imputations"] == 3
    with pytest.raises(InputError, match="workers"):
        impute_and_estimate(imp, "chapman", workers=0)
    with pytest.raises(InputError):
        impute_and_estimate(imp, "no-such-method")
