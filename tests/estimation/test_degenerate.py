"""Estimates that are only the observed count say so, say why and what to try, and carry no
zero-width interval (issue 12, item 8)."""

from __future__ import annotations

import numpy as np
import pytest

from cifranegra.estimation import CaptureHistories, EstimateResult, Interval, estimate
from cifranegra.estimation.compare import compare
from cifranegra.estimation.coverage import SampleCoverage
from refdata import table


def kosovo_without_hrw() -> CaptureHistories:
    """Kosovo (MultipleSystemsEstimation) with the HRW list left out: 3 lists where dga's posterior
    median is the observed count 4,094 and every other family gives 7,400–22,300."""
    h = table("MultipleSystemsEstimation_Kosovo")
    return h.select_lists([x for x in h.lists if x != "HRW"])


@pytest.mark.parametrize("name", ["SparseMSE_Artificial_3", "SparseMSE_NewOrl"])
def test_sample_coverage_at_the_observed_count(name: str) -> None:
    h = table(name)
    r = SampleCoverage(n_boot=50).fit(h, rng=1)
    assert r.estimate == h.observed
    info = r.at_observed_count
    assert info is not None and "no positive solution" in info["reason"]
    assert "--variant low" in info["advice"] and "variant='low' in Python" in info["advice"]
    assert info["alternatives"]["variant=low"] > h.observed
    assert r.intervals == () and r.interval() is None  # no zero-width interval
    iv, note = r.reported_interval()
    assert iv is None and "lower bound" in note
    assert r.warnings[0].startswith("the high-coverage equation")
    # the advice works: the low variant estimates
    low = SampleCoverage(variant="low", n_boot=50).fit(h, rng=1)
    assert low.estimate == pytest.approx(info["alternatives"]["variant=low"])
    assert low.at_observed_count is None and low.interval() is not None


def test_sample_coverage_sparse_bootstrap_keeps_the_draws() -> None:
    """The bootstrap now draws over the observed patterns only; the draws (and so the numbers) are
    those of the full 2^K table, including tables whose all-lists cell is empty (Rcapture_HIV).
    Values recorded from the dense implementation (commit before issue 12)."""
    r = SampleCoverage(variant="low", n_boot=200).fit(table("Rcapture_HIV"), rng=3)
    assert r.diagnostics["std_error"] == pytest.approx(1260.0569448772023, rel=1e-12)
    r = SampleCoverage(n_boot=200).fit(table("conting_spina"), rng=3)
    iv = r.interval()
    assert iv is not None and iv.lower < r.estimate < iv.upper


def test_dga_at_the_observed_count_says_why() -> None:
    h = kosovo_without_hrw()
    r = estimate(h, "dga")
    assert r.estimate == h.observed == 4094
    info = r.at_observed_count
    assert info is not None and info["complete_graph"] and info["top_model"] == "[EXH,ABA,OSCE]"
    assert "complete graph" in info["reason"] and "--method loglinear" in info["advice"]
    assert r.warnings[0].startswith("the posterior median of N is the observed count")
    assert estimate(h, "dga", delta=1.0).estimate < 5000  # the prior, not the data, moves it


def test_dga_ordinary_fit_has_no_notice() -> None:
    r = estimate(table("MultipleSystemsEstimation_Korea"), "dga")
    assert r.at_observed_count is None and round(r.estimate) == 159


@pytest.mark.parametrize("method", ["petersen", "chapman"])
def test_two_lists_one_inside_the_other(method: str) -> None:
    h = CaptureHistories.from_counts({"10": 5, "11": 7}, ["a", "b"])
    r = estimate(h, method)
    assert r.estimate == h.observed == 12
    assert r.interval() is None and r.at_observed_count is not None
    assert "everyone on list 'b' is also on 'a'" in r.warnings[0]


def test_zero_width_interval_is_not_reported() -> None:
    r = EstimateResult(method="x", estimate=10.0, observed=10, lists=("a", "b"),
                       intervals=(Interval(10.0, 10.0, 0.95, "lognormal"),))
    iv, note = r.reported_interval()
    assert iv is None and "zero width" in note
    ok = EstimateResult(method="x", estimate=12.0, observed=10, lists=("a", "b"),
                        intervals=(Interval(10.0, 15.0, 0.95, "lognormal"),))
    assert ok.reported_interval() == (ok.intervals[0], None)


def test_results_round_trip_with_the_notice() -> None:
    r = SampleCoverage(n_boot=0).fit(table("SparseMSE_Artificial_3"))
    back = EstimateResult.from_json(r.to_json())
    assert back.at_observed_count == r.at_observed_count


def test_compare_marks_the_observed_count() -> None:
    c = compare(kosovo_without_hrw(), families=["dga", "independence", "sample-coverage"], seed=1, n_boot=20,
                sensitivity=False)
    rows = c.table.set_index("family")
    assert "complete graph" in rows.loc["dga", "at_observed_count"]
    assert not isinstance(rows.loc["independence", "at_observed_count"], str)
    assert np.isfinite(rows.loc["independence", "lower"])
    d = c.to_dict()
    assert any(r["at_observed_count"] for r in d["table"])
    c2 = compare(table("SparseMSE_Artificial_3"), families=["sample-coverage"], seed=1, n_boot=20,
                 sensitivity=False)
    row = c2.table.iloc[0]
    assert np.isnan(row["lower"]) and "lower bound" in row["interval_note"]


def test_chao_on_the_boundary_says_so() -> None:
    """Fuzzer case: two observed patterns (a+c, a+b+c). Chao's fit runs the unseen to 3e-5 people;
    before, a singular IRLS step raised LinAlgError on such tables."""
    h = CaptureHistories(tuple("abc"), np.array([0, 0, 0, 0, 0, 21, 0, 21]))
    r = estimate(h, "chao")
    assert r.estimate == pytest.approx(42, abs=0.5)
    assert r.interval() is None and r.at_observed_count is not None
    assert "boundary" in r.warnings[0]


def test_lcmcr_arithmetic_failure_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled sampler divided by zero on 4-list tables of millions of people (fuzzer:
    counts ~2e7 per pattern); whatever its cause, the user gets a ModelError, not a traceback."""
    from cifranegra.errors import ModelError
    from cifranegra.estimation import lcmcr_kernels

    def boom(*args: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(lcmcr_kernels, "run_chain", boom)
    with pytest.raises(ModelError, match=r"failed numerically \(division by zero\).*--method loglinear"):
        estimate(table("MultipleSystemsEstimation_Korea"), "lcmcr", seed=1, chains=1, samples=10, burn_in=0)
