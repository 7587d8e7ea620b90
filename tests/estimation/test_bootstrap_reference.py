"""Bootstrap intervals against R (slow suite: thousands of model selections).

Rows of reference_estimates.csv: MultipleSystemsEstimation `bic + BCa bootstrap` (1000 replicates, the
model re-selected among the original data's top-BIC models; Silverman, Chan & Vincent 2024), SparseMSE
`estimatepopulation (stepwise + BCa bootstrap)` (stepwise re-run in every replicate; Chan, Silverman &
Vincent 2021), and the published Table 6 of Silverman, Chan & Vincent (2024).

Both sides are Monte Carlo: BCa reads far tails, and with 1000 replicates an endpoint moves from seed to
seed by several percent, in R as in ours (SparseMSE, UK 5-list stepwise: lower end 8,730–9,531 over 20 R
seeds). So we run ``SEEDS`` = 20 seeds of 1000 replicates and compare means:

* where R was run with many seeds (``tests/reference/r_bootstrap_seed_spread.csv``: SparseMSE 2.0.1
  ``estimatepopulation(zdat, nboot = 1000, pthresh = 0.02, iseed = s)`` on the UK 5-list table, 20 seeds),
  our seed mean must be within 3 standard errors of the difference of the two means,
  √(sd_ours²/n_ours + sd_R²/n_R), or within 3% of R's mean;
* where R gives one run (reference_estimates.csv), that run is one draw: our mean must be within 3% of it
  or within 3 standard deviations of one draw's difference from a mean of ``SEEDS`` (sd·√(1 + 1/SEEDS),
  our sd standing in for R's, which the seed-spread table shows to be of the same size).

The jackknife acceleration is deterministic and must equal SparseMSE's printed ``ahat``.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cifranegra.estimation import estimate
from refdata import reference_row, reference_rows, table

pytestmark = pytest.mark.slow
SEEDS = 20
N_BOOT = 1000  # as the R runs


@cache
def endpoints(file: str, select: str) -> tuple[np.ndarray, np.ndarray, float, str, float]:
    lo, hi = [], []
    for s in range(SEEDS):
        r = estimate(table(file), "loglinear", select=select, interval="bootstrap", n_boot=N_BOOT, seed=1000 + s)
        lo.append(r.interval(0.95).lower)
        hi.append(r.interval(0.95).upper)
    return np.array(lo), np.array(hi), float(r.acceleration or 0.0), str(r.model), r.estimate


def _agrees(ours: np.ndarray, theirs: float) -> bool:
    """Our seed mean against one R run (one draw)."""
    allowance = max(0.03 * abs(theirs), 3 * float(np.std(ours, ddof=1)) * math.sqrt(1 + 1 / SEEDS))
    return bool(abs(float(np.mean(ours)) - theirs) <= allowance)


def seed_means_agree(ours: np.ndarray, theirs: np.ndarray) -> tuple[bool, float, float]:
    """Two seed means within 3 standard errors of their difference, or within 3% of R's mean: the
    verdict, the difference and its standard error."""
    diff = float(np.mean(ours) - np.mean(theirs))
    se = math.sqrt(float(np.var(ours, ddof=1)) / ours.size + float(np.var(theirs, ddof=1)) / theirs.size)
    return abs(diff) <= max(3 * se, 0.03 * abs(float(np.mean(theirs)))), diff, se


R_SEED_SPREAD = Path(__file__).parents[1] / "reference" / "r_bootstrap_seed_spread.csv"


@pytest.mark.parametrize("end", ["lower", "upper"])
def test_stepwise_bca_seed_mean_matches_sparsemse_seed_mean(end: str) -> None:
    """SparseMSE 2.0.1 estimatepopulation (stepwise, pthresh 0.02, BCa, 1000 replicates) on the UK 5-list
    table over 20 R seeds (r_bootstrap_seed_spread.csv, its r_call column) against ours over 20 seeds."""
    r = pd.read_csv(R_SEED_SPREAD)
    r = r[(r["dataset"] == "SparseMSE_UKdat_5") & (r["select"] == "stepwise")]
    assert len(r) >= 20
    theirs = r[f"{end}95"].to_numpy(dtype=float)
    lo, hi, _, _, est = endpoints("SparseMSE_UKdat_5.csv", "stepwise")
    assert est == pytest.approx(float(r["estimate"].iloc[0]), rel=1e-9)
    ok, diff, se = seed_means_agree(lo if end == "lower" else hi, theirs)
    assert ok, (end, diff, se)


def test_seed_means_agree_refuses_a_real_difference() -> None:
    """The criterion can fail: a 10% shift with the observed spreads is far outside 3 standard errors."""
    rng = np.random.default_rng(0)
    theirs = rng.normal(9155, 196, 20)
    assert seed_means_agree(rng.normal(9155, 354, 20), theirs)[0]
    assert not seed_means_agree(rng.normal(9155 * 1.1, 354, 20), theirs)[0]


BIC_FILES = ["MultipleSystemsEstimation_Korea.csv", "MultipleSystemsEstimation_Kosovo.csv", "modslavmse_UKdat_4.csv",
             "SparseMSE_UKdat_5.csv"]
STEPWISE_FILES = [*BIC_FILES, "SparseMSE_UKdat.csv", "SparseMSE_Ned.csv", "SparseMSE_NewOrl.csv"]


@pytest.mark.parametrize("file", BIC_FILES)
def test_bic_bca_matches_multiple_systems_estimation(file: str) -> None:
    ref = reference_row(file, "MultipleSystemsEstimation", "bic + BCa bootstrap")
    lo, hi, _, model, _ = endpoints(file, "bic")
    assert model == ref["model"]
    assert _agrees(lo, ref["lower"]), (lo, ref["lower"])
    assert _agrees(hi, ref["upper"]), (hi, ref["upper"])


@pytest.mark.parametrize("file", STEPWISE_FILES)
def test_stepwise_bca_matches_sparsemse(file: str) -> None:
    ref = reference_row(file, "SparseMSE", "estimatepopulation (stepwise + BCa bootstrap)")
    lo, hi, accel, _, _ = endpoints(file, "stepwise")
    ahat = float(re.search(r"ahat=(-?[0-9.]+)", ref["notes"]).group(1))  # type: ignore[union-attr]
    assert accel == pytest.approx(ahat, abs=6e-5)
    assert _agrees(hi, ref["upper"]), (hi, ref["upper"])
    # UK 5-list: R's default seed (1234) gives a lower end of 8,785, 4.5% below our seed mean; R's own 20
    # seeds average 9,155 (test_stepwise_bca_seed_mean_matches_sparsemse_seed_mean), which ours matches.
    assert _agrees(lo, ref["lower"]), (lo, ref["lower"])


@pytest.mark.parametrize(
    ("file", "source"),
    [("SparseMSE_UKdat_5.csv", "Table 6"), ("MultipleSystemsEstimation_Kosovo.csv", "Tables 2 and 6"),
     ("MultipleSystemsEstimation_Korea.csv", "Tables 3 and 6")],
)
def test_bic_bca_matches_published_table(file: str, source: str) -> None:
    """Silverman, Chan & Vincent (2024), Statistics and Computing 34:44 (values printed rounded)."""
    df = reference_rows()
    row = df[(df["file"] == file) & df["source"].str.contains(source, regex=False)].iloc[0]
    lo, hi, _, model, est = endpoints(file, "bic")
    assert model == row["model"]
    assert abs(est - row["estimate"]) <= 0.5  # published to the unit
    assert _agrees(lo, row["lower"]), (lo, row["lower"])
    assert _agrees(hi, row["upper"]), (hi, row["upper"])
