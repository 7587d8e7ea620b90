"""Log-linear estimates against the R packages and the published values.

Every row checked is a row of tests/reference/reference_estimates.csv, named in the test id:
MultipleSystemsEstimation (Silverman, Chan & Vincent) `bic`/`stepwise`/`auto`; SparseMSE
`estimatepopulation.0` (stepwise and main effects, 95% Wald on the log dark figure); Rcapture
`closedp.t`/`closedpMS.t`/`closedpCI.t` (Mt, Mth Chao, best BIC/AIC with 95% multinomial profile
likelihood, saturated minus the K-way term). Point estimates must agree within 0.1% and select the
same model; profile and Wald intervals within 1%.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from cifranegra.errors import ModelError
from cifranegra.estimation import HierarchicalModel, estimate
from refdata import reference_row, reference_rows, table

REL_POINT = 1e-3
REL_INTERVAL = 1e-2

TABLES_UP_TO_6 = [
    "MultipleSystemsEstimation_Korea.csv",
    "MultipleSystemsEstimation_Kosovo.csv",
    "modslavmse_UKdat_4.csv",
    "SparseMSE_UKdat_5.csv",
    "SparseMSE_UKdat.csv",
    "SparseMSE_Ned.csv",
]
ALL_TABLES = [*TABLES_UP_TO_6, "SparseMSE_NewOrl.csv"]


@cache
def fitted(file: str, **kw: object):  # type: ignore[no-untyped-def]
    return estimate(table(file), "loglinear", **kw)


def _fit(file: str, **kw: object):  # type: ignore[no-untyped-def]
    return fitted(file, **kw)


def _same_model(ours: str, theirs: str, lists: tuple[str, ...], empty: frozenset[int] = frozenset()) -> bool:
    """Compare our generating class with R's, written either as "[12,3]" or as "b:c c:d".

    SparseMSE prints "b:c" lists without the pairs that never overlap (their parameter is −∞ and
    their cells are dropped, which is what our model does too): those pairs, ``empty``, are ignored.
    """
    k = len(lists)
    mine = HierarchicalModel.parse(ours, lists)
    if theirs.startswith("["):
        other = HierarchicalModel.parse(theirs, lists)
    elif theirs == "main":
        other = HierarchicalModel.independence(k)
    else:
        pairs = [t.split(":") for t in theirs.split()]
        other = HierarchicalModel.from_generators(k, [sum(1 << lists.index(x) for x in p) for p in pairs])
    return mine.terms - empty == other.terms - empty


def _empty_pairs(file: str) -> frozenset[int]:
    h = table(file)
    return frozenset((1 << h.lists.index(a)) | (1 << h.lists.index(b)) for a, b in h.non_overlapping_pairs())


def _close(ours: float, theirs: float, rel: float) -> bool:
    return bool(abs(ours - theirs) <= rel * abs(theirs))


@pytest.mark.parametrize("file", TABLES_UP_TO_6)
def test_bic_all_models_matches_multiple_systems_estimation(file: str) -> None:
    """Row: R MultipleSystemsEstimation, `bic (min-BIC hierarchical model)`."""
    ref = reference_row(file, "MultipleSystemsEstimation", "bic (min-BIC hierarchical model)")
    r = _fit(file, select="bic", interval="none")
    assert r.model == ref["model"]
    assert _close(r.estimate, ref["estimate"], REL_POINT)


@pytest.mark.parametrize("file", ALL_TABLES)
def test_stepwise_matches_multiple_systems_estimation(file: str) -> None:
    """Row: R MultipleSystemsEstimation, `stepwise` (pthresh 0.02, SparseMSE's forward selection)."""
    ref = reference_row(file, "MultipleSystemsEstimation", "stepwise")
    r = _fit(file, select="stepwise", interval="none")
    assert _same_model(r.model, ref["model"], r.lists)
    assert _close(r.estimate, ref["estimate"], REL_POINT)


@pytest.mark.parametrize("file", ALL_TABLES)
def test_auto_matches_multiple_systems_estimation(file: str) -> None:
    """Row: R MultipleSystemsEstimation, `estimate_population auto` (BIC ≤5 lists, stepwise beyond)."""
    ref = reference_row(file, "MultipleSystemsEstimation", "estimate_population auto")
    r = _fit(file, select="auto", interval="none")
    assert _same_model(r.model, ref["model"], r.lists)
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    assert r.settings["select"] == ("bic" if r.n_lists <= 5 else "stepwise")


@pytest.mark.parametrize("file", ALL_TABLES)
def test_stepwise_wald_matches_sparsemse(file: str) -> None:
    """Row: R SparseMSE, `estimatepopulation.0 stepwise` (95% Wald on log dark figure, model fixed)."""
    ref = reference_row(file, "SparseMSE", "estimatepopulation.0 stepwise")
    r = _fit(file, select="stepwise", interval="wald")
    assert _same_model(r.model, ref["model"], r.lists, _empty_pairs(file))
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    iv = r.interval()
    assert _close(iv.lower, ref["lower"], REL_INTERVAL)
    assert _close(iv.upper, ref["upper"], REL_INTERVAL)


@pytest.mark.parametrize("file", ALL_TABLES)
def test_main_effects_wald_matches_sparsemse(file: str) -> None:
    """Row: R SparseMSE, `estimatepopulation.0 main` (main effects, 95% Wald)."""
    ref = reference_row(file, "SparseMSE", "estimatepopulation.0 main")
    r = estimate(table(file), "independence", interval="wald")
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    assert _close(r.interval().lower, ref["lower"], REL_INTERVAL)
    assert _close(r.interval().upper, ref["upper"], REL_INTERVAL)


@pytest.mark.parametrize("file", ALL_TABLES)
def test_independence_profile_matches_rcapture(file: str) -> None:
    """Row: R Rcapture, `closedp.t Mt (independence)` with closedpCI.t's multinomial profile interval."""
    ref = reference_row(file, "Rcapture", "closedp.t Mt (independence)")
    r = estimate(table(file), "independence", interval="profile")
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    assert _close(r.interval().lower, ref["lower"], REL_INTERVAL)
    assert _close(r.interval().upper, ref["upper"], REL_INTERVAL)


@pytest.mark.parametrize("file", ALL_TABLES)
def test_chao_lower_bound_matches_rcapture(file: str) -> None:
    """Row: R Rcapture, `closedp.t Mth Chao (LB)` with its ±1.96 s.e. interval."""
    ref = reference_row(file, "Rcapture", "closedp.t Mth Chao (LB)")
    r = estimate(table(file), "chao")
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    assert _close(r.interval().lower, ref["lower"], REL_INTERVAL)
    assert _close(r.interval().upper, ref["upper"], REL_INTERVAL)


@pytest.mark.parametrize("file", TABLES_UP_TO_6)
def test_best_bic_profile_interval_matches_rcapture(file: str) -> None:
    """Row: R Rcapture, `closedpMS.t best BIC` (Ned: the row `best BIC`, whose model
    MultipleSystemsEstimation also selects) with closedpCI.t's 95% profile interval."""
    ref = reference_row(file, "Rcapture", "closedpMS.t best BIC")
    r = estimate(table(file), "loglinear", model=ref["model"], interval="profile")
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    assert _close(r.interval().lower, ref["lower"], REL_INTERVAL)
    assert _close(r.interval().upper, ref["upper"], REL_INTERVAL)
    # the selected model is the same
    assert _fit(file, select="bic", interval="none").model == ref["model"]


@pytest.mark.parametrize("file", TABLES_UP_TO_6)
def test_best_aic_matches_rcapture(file: str) -> None:
    """Row: R Rcapture, `closedpMS.t best AIC` (same candidate models; the chosen model exists)."""
    ref = reference_row(file, "Rcapture", "closedpMS.t best AIC")
    r = _fit(file, select="aic", interval="none", max_order=int(ref["settings"].split("maxorder=")[1][0]))
    assert r.model == ref["model"]
    assert _close(r.estimate, ref["estimate"], REL_POINT)


def test_saturated_minus_top_matches_rcapture_where_it_exists() -> None:
    """Row: R Rcapture, `closedpCI.t saturated minus K-way` on Kosovo (infoFit=0, df=0)."""
    ref = reference_row("MultipleSystemsEstimation_Kosovo.csv", "Rcapture", "closedpCI.t saturated minus K-way")
    r = estimate(table("MultipleSystemsEstimation_Kosovo"), "saturated")
    assert r.model == ref["model"]
    assert _close(r.estimate, ref["estimate"], REL_POINT)
    assert _close(r.interval().lower, ref["lower"], REL_INTERVAL)
    assert _close(r.interval().upper, ref["upper"], REL_INTERVAL)


@pytest.mark.parametrize(
    "file",
    ["MultipleSystemsEstimation_Korea.csv", "modslavmse_UKdat_4.csv", "SparseMSE_UKdat_5.csv",
     "SparseMSE_UKdat.csv", "SparseMSE_Ned.csv", "SparseMSE_NewOrl.csv"],
)
def test_saturated_minus_top_is_refused_where_rcapture_gives_a_degenerate_number(file: str) -> None:
    """Rcapture's `closedpCI.t saturated minus K-way` returns 1.8e11 (Korea) or 3.3e8 (New Orleans),
    both infoFit=1, or a dark figure of 0 on a boundary fit (UK, Ned): the extended MLE fails, so we
    refuse with the reason instead of printing a number."""
    ref = reference_row(file, "Rcapture", "closedpCI.t saturated minus K-way")
    assert ref["estimate"] > 1e8 or ref["estimate"] - ref["observed"] < 1e-3
    with pytest.raises(ModelError, match="status"):
        estimate(table(file), "saturated")


def test_every_multiple_systems_estimation_point_row_is_covered() -> None:
    """Guard: the point-estimate rows of MultipleSystemsEstimation we claim to reproduce exist."""
    df = reference_rows()
    mse = df[df["source"].str.contains("MultipleSystemsEstimation (run", regex=False)]
    methods = set(mse["method"])
    assert {"bic (min-BIC hierarchical model)", "stepwise", "estimate_population auto"} <= methods
    assert np.isfinite(mse[mse["method"] == "stepwise"]["estimate"]).all()
