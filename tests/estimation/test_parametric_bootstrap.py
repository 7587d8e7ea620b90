"""The parametric bootstrap: complete populations drawn from the fitted model, unseen count included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.loglinear import (
    LogLinear,
    parametric_bootstrap,
    parametric_interval,
    select_fixed,
)
from cifranegra.estimation.models import HierarchicalModel
from cifranegra.estimation.result import EstimateResult

# A 3-list table (1,000-odd people observed), cells in pattern order 000, 100, 010, 110, 001, 101, 011, 111.
COUNTS = np.array([0, 210, 160, 95, 260, 70, 55, 30])


def histories() -> CaptureHistories:
    return CaptureHistories(("A", "B", "C"), COUNTS)


def test_replicate_populations_have_the_fitted_size_and_unseen_count() -> None:
    """Each replicate is round(N̂) people, its unseen cell drawn (mean ≈ the fitted dark figure, with the
    multinomial's spread, not held fixed), and only the observed part is refitted."""
    h = histories()
    chosen = select_fixed(h, HierarchicalModel.parse("[12,3]", h.lists))
    boot = parametric_bootstrap(h, select="fixed", chosen=chosen, max_order=2, pthresh=0.02, n_boot=400,
                                ntop=None, seed=np.random.SeedSequence(3), workers=1)
    f0 = chosen.fit.dark_figure
    assert boot["population"] == round(h.observed + f0)
    unseen = np.asarray(boot["unseen"], dtype=float)
    assert unseen.std() > 0.5 * math.sqrt(f0 * (1 - f0 / boot["population"]))
    assert abs(unseen.mean() - f0) < 4 * unseen.std() / math.sqrt(unseen.size)
    assert np.all(np.isfinite(boot["replicates"]))


def test_parametric_interval_is_named_in_the_result_and_its_json() -> None:
    r = LogLinear(model="[12,3]", interval="parametric", n_boot=200).fit(histories(), rng=1)
    iv = r.interval()
    assert iv is not None and iv.method == "parametric-pivot"
    assert h_observed() <= iv.lower < r.estimate < iv.upper
    d = r.to_dict()
    assert d["intervals"][0]["method"] == "parametric-pivot"
    assert d["settings"]["interval"] == "parametric" and d["settings"]["bootstrap_interval"] == "pivot"
    assert d["diagnostics"]["bootstrap"]["kind"] == "parametric"
    assert EstimateResult.from_json(r.to_json()).interval() == iv


def h_observed() -> int:
    return int(COUNTS.sum())


def test_same_seed_same_interval_and_other_variants() -> None:
    a = LogLinear(select="bic", interval="parametric", n_boot=100).fit(histories(), rng=7)
    b = LogLinear(select="bic", interval="parametric", n_boot=100).fit(histories(), rng=7)
    assert a.interval() == b.interval()
    for kind in ("percentile", "lognormal"):
        r = LogLinear(select="bic", interval="parametric", bootstrap_interval=kind, n_boot=100).fit(histories(), rng=7)
        assert r.interval().method == f"parametric-{kind}"  # type: ignore[union-attr]
        assert r.replicates == a.replicates  # the same replicates, read another way


def test_parametric_agrees_with_wald_on_a_fixed_model_with_large_counts() -> None:
    """With about 1,400 people and a fixed model both intervals estimate the same sampling variance, so
    their widths agree; the bootstrap's own Monte Carlo spread (about 3% of the width at 400 draws, one
    seed) is averaged over 12 seeds. Measured: mean ratio 1.02 (seeds 1-12, 0.97-1.08 per seed). This
    checks the scale of the bootstrap's variance against the delta method's (the unseen count's own
    Poisson variation is about 2% of the variance here, too little to test this way)."""
    h = histories()
    wald = LogLinear(model="[12,3]", interval="wald").fit(h).interval()
    assert wald is not None
    widths = []
    for seed in range(1, 13):
        par = LogLinear(model="[12,3]", interval="parametric", n_boot=400).fit(h, rng=seed).interval()
        assert par is not None
        widths.append(par.upper - par.lower)
    ratio = float(np.mean(widths)) / (wald.upper - wald.lower)
    assert 0.95 < ratio < 1.10, ratio


def test_nonparametric_bootstrap_keeps_sparsemse_bca_by_default() -> None:
    r = LogLinear(select="bic", interval="bootstrap", n_boot=50).fit(histories(), rng=1)
    assert r.interval().method == "bootstrap-bca"  # type: ignore[union-attr]
    assert r.settings["bootstrap_interval"] == "bca"


@pytest.mark.parametrize(
    ("interval", "kind", "says"),
    [("parametric", "bca", "bootstrap_interval bca does not apply to the parametric interval"),
     ("bootstrap", "pivot", "bootstrap_interval pivot does not apply to the bootstrap interval"),
     ("auto", "nonsense", "bootstrap_interval must be one of")],
)
def test_bootstrap_interval_that_does_not_apply_is_refused(interval: str, kind: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        LogLinear(interval=interval, bootstrap_interval=kind)


def test_pivot_of_an_exact_estimator_is_the_estimate() -> None:
    """If every replicate's estimate of its unseen count were exact, the pivot has no spread and the
    interval shrinks to the estimate: the interval comes from the estimated/true unseen ratio."""
    unseen = np.array([90, 100, 110, 95, 105])
    pop = 1100
    reps = pop + 0.0 * unseen  # N̂* = N*: n* + f0* = pop
    lo, hi = parametric_interval(reps, unseen, pop, observed=1000, estimate=1100.0, level=0.9, kind="pivot")
    assert lo == pytest.approx(1100.0) and hi == pytest.approx(1100.0)


def test_failed_replicates_count_as_unbounded() -> None:
    """A replicate with no usable model is not left out (that would narrow the interval): it counts as an
    unbounded estimate. Read as percentiles (or a variance) that makes the upper end infinite; read as the
    pivot it is an unbounded over-estimate of the replicate's unseen count, so the lower end falls to the
    observed count."""
    unseen = np.full(10, 100)
    reps = np.array([1100.0] * 7 + [np.nan] * 3)
    for kind in ("percentile", "lognormal"):
        lo, hi = parametric_interval(reps, unseen, 1100, observed=1000, estimate=1100.0, level=0.9, kind=kind)
        assert hi == math.inf and lo >= 1000
    lo, hi = parametric_interval(reps, unseen, 1100, observed=1000, estimate=1100.0, level=0.9, kind="pivot")
    assert lo == 1000 and hi == pytest.approx(1100.0)
    lo, hi = parametric_interval(reps[:7], unseen[:7], 1100, observed=1000, estimate=1100.0, level=0.9, kind="pivot")
    assert lo == pytest.approx(1100.0)
