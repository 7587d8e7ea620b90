"""Singular Newton steps in the log-linear fits (issue 12: ``LinAlgError: Singular matrix``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation import fitting as F  # noqa: N812
from cifranegra.estimation.models import ModelSpace
from refdata import table


def test_solve_batch_falls_back_to_least_squares() -> None:
    a = np.array([[[2.0, 0.0], [0.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]])
    rhs = np.array([[[2.0], [4.0]], [[2.0], [2.0]]])
    x, singular = F.solve_batch(a, rhs)
    assert singular.tolist() == [False, True]
    np.testing.assert_allclose(x[0, :, 0], [1.0, 1.0])
    np.testing.assert_allclose(x[1, :, 0], [1.0, 1.0])  # minimum-norm solution of x1 + x2 = 2


@pytest.fixture(scope="module")
def uk5_without_la_only() -> CaptureHistories:
    """SparseMSE's UK 5-list table without the pattern 'PFNCA only' (mask 4): its all-model fit raised
    ``LinAlgError`` before (a warm start underflowed the only cells that inform a term)."""
    h = table("SparseMSE_UKdat_5")
    c = h.counts.copy()
    c[4] = 0
    return CaptureHistories(h.lists, c, source="UK5 minus one pattern")


def test_model_set_fit_survives_a_singular_step(uk5_without_la_only: CaptureHistories) -> None:
    h = uk5_without_la_only
    res = F.fit_model_set(ModelSpace.all_hierarchical(5, 4), h.counts)
    ok = np.flatnonzero(res.status == 0)
    assert ok.size > 5000 and np.all(np.isfinite(res.bic[ok]))
    # the warm-started, least-squares-stepped fits agree with fits started afresh (R glm's start)
    best = ok[np.argsort(res.bic[ok])[:20]]
    for i in best:
        fresh = F.fit_one(res.space.model(int(i)), h.counts)
        assert res.abundance[i] == pytest.approx(fresh.abundance, rel=1e-8)


def test_default_estimate_on_the_table_that_crashed(uk5_without_la_only: CaptureHistories) -> None:
    r = estimate(uk5_without_la_only, "loglinear", seed=1, n_boot=20, workers=1)
    assert np.isfinite(r.estimate) and r.estimate > r.observed
    assert r.model == "[12,13,14,15,24,25,35,45]"
    iv = r.interval()
    assert iv is not None and iv.lower < r.estimate < iv.upper


def test_wald_interval_whose_upper_end_overflows_is_a_clear_error():
    """Fuzz case estimate:2188: a standard error of 6e4 made math.exp overflow (exit 3)."""
    from types import SimpleNamespace

    from cifranegra.errors import ModelError
    from cifranegra.estimation.loglinear import wald_interval

    model = SimpleNamespace(notation=lambda: "[1,2,3]")
    fit = SimpleNamespace(model=model, intercept=3.0, intercept_se=6.18e4)
    with pytest.raises(ModelError, match="overflows"):
        wald_interval(SimpleNamespace(observed=100), fit, 0.9)
    ok = SimpleNamespace(model=model, intercept=3.0, intercept_se=0.1)
    lo, hi = wald_interval(SimpleNamespace(observed=100), ok, 0.9)
    assert 100 < lo < 100 + math.exp(3.0) < hi
