"""Bootstrap intervals against R (slow suite: thousands of model selections).

Rows of reference_estimates.csv: MultipleSystemsEstimation `bic + BCa bootstrap` (1000 replicates, the
model re-selected among the original data's top-BIC models; Silverman, Chan & Vincent 2024) and SparseMSE
`estimatepopulation (stepwise + BCa bootstrap)` (stepwise re-run in every replicate; Chan, Silverman &
Vincent 2021), plus the published Table 6 values of Silverman, Chan & Vincent (2024). Both sides are Monte
Carlo: R's numbers come from one seed of 1000 replicates; we use 4000 replicates so that most of the
remaining difference is R's own Monte Carlo error, and require agreement within 5%. The jackknife
acceleration is deterministic and must match SparseMSE's printed `ahat` to its 4 decimals.
"""

from __future__ import annotations

import re

import pytest

from cifranegra.estimation import estimate
from refdata import reference_row, table

pytestmark = pytest.mark.slow
N_BOOT = 4000
REL = 0.05


def _check(r, lower: float, upper: float) -> None:  # type: ignore[no-untyped-def]
    iv = r.interval(0.95)
    assert iv.lower == pytest.approx(lower, rel=REL), (iv.lower, lower)
    assert iv.upper == pytest.approx(upper, rel=REL), (iv.upper, upper)


@pytest.mark.parametrize(
    "file",
    ["MultipleSystemsEstimation_Korea.csv", "MultipleSystemsEstimation_Kosovo.csv", "modslavmse_UKdat_4.csv",
     "SparseMSE_UKdat_5.csv"],
)
def test_bic_bca_matches_multiple_systems_estimation(file: str) -> None:
    ref = reference_row(file, "MultipleSystemsEstimation", "bic + BCa bootstrap")
    r = estimate(table(file), "loglinear", select="bic", interval="bootstrap", n_boot=N_BOOT, seed=20261129)
    assert r.model == ref["model"]
    _check(r, ref["lower"], ref["upper"])


@pytest.mark.parametrize(
    "file",
    ["MultipleSystemsEstimation_Korea.csv", "MultipleSystemsEstimation_Kosovo.csv", "modslavmse_UKdat_4.csv",
     "SparseMSE_UKdat_5.csv", "SparseMSE_UKdat.csv", "SparseMSE_Ned.csv", "SparseMSE_NewOrl.csv"],
)
def test_stepwise_bca_matches_sparsemse(file: str) -> None:
    ref = reference_row(file, "SparseMSE", "estimatepopulation (stepwise + BCa bootstrap)")
    r = estimate(table(file), "loglinear", select="stepwise", interval="bootstrap", n_boot=N_BOOT, seed=20261129)
    ahat = float(re.search(r"ahat=(-?[0-9.]+)", ref["notes"]).group(1))  # type: ignore[union-attr]
    assert r.acceleration == pytest.approx(ahat, abs=6e-5)
    _check(r, ref["lower"], ref["upper"])


@pytest.mark.parametrize(
    ("file", "source"),
    [("SparseMSE_UKdat_5.csv", "Table 6"), ("MultipleSystemsEstimation_Kosovo.csv", "Tables 2 and 6"),
     ("MultipleSystemsEstimation_Korea.csv", "Tables 3 and 6")],
)
def test_bic_bca_matches_published_table(file: str, source: str) -> None:
    """Silverman, Chan & Vincent (2024), Statistics and Computing 34:44."""
    method = next(m for m in ("BIC all models + BCa bootstrap", "BIC + bootstrap") if _has(file, source, m))
    df_row = reference_row(file, source, method)
    r = estimate(table(file), "loglinear", select="bic", interval="bootstrap", n_boot=N_BOOT, seed=7)
    assert r.estimate == pytest.approx(df_row["estimate"], rel=1e-3)
    _check(r, df_row["lower"], df_row["upper"])


def _has(file: str, source: str, method: str) -> bool:
    from refdata import reference_rows

    df = reference_rows()
    hit = (df["file"] == file) & df["source"].str.contains(source, regex=False) & (df["method"] == method)
    return bool(hit.any())
