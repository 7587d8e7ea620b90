"""Latent-class capture–recapture (LCMCR) against R LCMCR, with reproducibility and bad-input
checks.

Reference values: tests/reference/reference_estimates.csv, rows "R LCMCR (run on this machine kind,
2026-11-29)" (lcmCR, K = 10, a_alpha = b_alpha = 0.25, 100,000 burn-in, 10,000 samples thinned by
100), and the "HRDAG verdata precomputed LCMCR draws (CEV Colombia)" row.
Tolerances: the issue asks for posterior medians within about 5% of R. Fast tests use short chains
on tables where N mixes quickly (Monte Carlo standard error of the median under 1% there, checked by
``mcse_median``); the long agreement checks are marked slow.
"""

from __future__ import annotations

import itertools
import math
import pathlib
import re
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.lcmcr import LCMCR, hrdag_classes
from cifranegra.estimation.result import EstimateResult, Interval

REF = pd.read_csv(pathlib.Path(__file__).parents[1] / "reference" / "reference_estimates.csv")


def load(name: str) -> CaptureHistories:
    path = resources.files("cifranegra.datasets") / "data" / name
    with path.open() as fh:
        return CaptureHistories.from_frame(pd.read_csv(fh), source=name)


def ci(res: EstimateResult, level: float | None = 0.95) -> Interval:
    """The interval at ``level`` (present for every LCMCR result)."""
    iv = res.interval(level)
    assert iv is not None
    return iv


def draws(res: EstimateResult) -> tuple[float, ...]:
    assert res.draws is not None
    return res.draws


def r_lcmcr(name: str) -> dict:
    rows = REF[(REF["file"] == name) & REF["source"].str.startswith("R LCMCR")]
    return rows.iloc[0].to_dict()


FAST: dict[str, Any] = {"chains": 2, "samples": 400, "burn_in": 2000, "thin": 5}
#: the paper's Gibbs sampler, R LCMCR's algorithm: every added move off
PLAIN: dict[str, Any] = {"collapsed_moves": 0, "scale_moves": 0, "swap_moves": 0, "hmc_steps": 0}


@pytest.mark.parametrize("name", ["MultipleSystemsEstimation_Korea.csv", "SparseMSE_NewOrl.csv"])
def test_fast_agreement_with_r_lcmcr(name: str) -> None:
    """Korea (3 lists): R median 137 [124, 203]; New Orleans (8 lists): R 716 [513, 1058]."""
    ref = r_lcmcr(name)
    res = LCMCR(**FAST).fit(load(name), rng=11)
    assert res.estimate == pytest.approx(ref["estimate"], rel=0.05)
    iv = ci(res)
    assert iv.lower == pytest.approx(ref["lower"], rel=0.08)
    assert iv.upper == pytest.approx(ref["upper"], rel=0.15)  # a tail quantile: larger MC error
    assert ci(res, None).method == "posterior"
    assert res.diagnostics["mcse_median"] < 0.02 * res.estimate


def test_same_seed_same_draws_whatever_the_workers() -> None:
    h = load("MultipleSystemsEstimation_Korea.csv")
    spec: dict[str, Any] = {"chains": 3, "samples": 50, "burn_in": 200, "thin": 2}
    a = LCMCR(workers=1, **spec).fit(h, rng=5)
    b = LCMCR(workers=3, **spec).fit(h, rng=5)
    c = LCMCR(workers=1, **spec).fit(h, rng=6)
    assert a.draws == b.draws
    assert a.draws != c.draws
    assert a.seed == 5
    # chain i always gets child seed i: the first chains of a 2-chain run are those of a 3-chain run
    d = LCMCR(workers=2, **{**spec, "chains": 2}).fit(h, rng=5)
    assert d.draws == draws(a)[:100]


def test_result_surface_and_round_trip() -> None:
    res = LCMCR(**FAST).fit(load("MultipleSystemsEstimation_Korea.csv"), rng=1)
    assert res.method == "lcmcr" and res.observed == 123
    assert len(draws(res)) == 800
    for key in ("rhat", "ess_bulk", "ess_tail", "mcse_median", "chain_medians", "ess_per_second"):
        assert key in res.diagnostics
    iv80 = ci(res, 0.8)
    assert iv80.lower > ci(res).lower
    back = EstimateResult.from_json(res.to_json())
    assert back.estimate == res.estimate and back.interval(0.8) == iv80
    assert res.settings["max_classes"] == 10 and res.settings["a_alpha"] == 0.25


def test_hrdag_preset() -> None:
    assert hrdag_classes(3) == 7 and hrdag_classes(20) == 15
    res = LCMCR(preset="hrdag", chains=1, samples=20, burn_in=10, thin=1).fit(
        load("MultipleSystemsEstimation_Korea.csv"), rng=1
    )
    assert res.settings["max_classes"] == 7


def test_plain_gibbs_sampler_of_the_paper_is_available() -> None:
    res = LCMCR(**PLAIN, **FAST).fit(load("MultipleSystemsEstimation_Korea.csv"), rng=3)
    assert res.estimate == pytest.approx(137, rel=0.05)


def _central_jacobian(fn: Any, x: np.ndarray, eps: float) -> np.ndarray:
    """Jacobian of ``fn`` (R^n -> R^n) at ``x`` by central differences, one column per coordinate."""
    jac = np.empty((x.size, x.size))
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = eps
        jac[:, i] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return jac


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_simplex_reweighting_jacobian(k: int) -> None:
    """The scale move reweights the class weights, pi'_c = pi_c r_c / sum_d pi_d r_d; its ratio uses
    the Jacobian prod_c r_c / (sum_d pi_d r_d)^K of that map in the K-1 free coordinates (derived
    by hand; K = 2: r_1 r_2 / (r . pi)^2). Checked here against a central-difference determinant."""
    rng = np.random.default_rng(k)
    pi = rng.dirichlet(np.ones(k))
    r = rng.uniform(0.2, 3.0, k)

    def reweight(free: np.ndarray) -> np.ndarray:
        full = np.append(free, 1.0 - free.sum())
        return (r * full / (r @ full))[:-1]

    jac = _central_jacobian(reweight, pi[:-1], 1e-6)
    assert abs(np.linalg.det(jac)) == pytest.approx(np.prod(r) / (r @ pi) ** k, rel=1e-6)


def _exact_one_class_posterior(h: CaptureHistories, quantiles: tuple[float, ...]) -> list[int]:
    """Quantiles of N under the one-class model (lists independent, lam_j ~ Beta(1, 1), p(N) ∝ 1/N),
    summed exactly on a grid: p(N | x) ∝ N! / (N (N - n)!) prod_j B(n_j + 1, N - n_j + 1)."""
    from scipy.special import betaln, gammaln

    pat = h.pattern_matrix()
    cnt = h.counts[h.masks()]
    n = int(cnt.sum())
    n_j = (pat * cnt[:, None]).sum(axis=0)
    big = np.arange(n, 50 * n)
    lp = gammaln(big) - gammaln(big - n + 1) + sum(betaln(x + 1, big - x + 1) for x in n_j)
    cdf = np.cumsum(np.exp(lp - lp.max()))
    cdf /= cdf[-1]
    return [int(big[np.searchsorted(cdf, q)]) for q in quantiles]


@pytest.mark.parametrize(
    "moves",
    [
        {"scale_moves": 5, "swap_moves": 0, "hmc_steps": 0},
        {"scale_moves": 0, "swap_moves": 0, "hmc_steps": 10, "hmc_every": 1},
    ],
    ids=["scale", "hmc"],
)
def test_added_moves_with_one_class_give_the_exact_posterior(moves: dict[str, int]) -> None:
    """With K* = 1 the model is the independence model and the posterior of N is a sum (hand-derived,
    above): Korea exact 10/50/90% quantiles 135/142/151. The move under test dominates each sweep
    here (5 scale moves, or one 10-step Hamiltonian trajectory, per sweep), so an error in its ratio
    (the Jacobian of the odds; the logit Jacobian in the Hamiltonian target) moves these quantiles."""
    h = load("MultipleSystemsEstimation_Korea.csv")
    exact = _exact_one_class_posterior(h, (0.1, 0.5, 0.9))
    assert exact == [135, 142, 151]
    res = LCMCR(max_classes=1, chains=4, samples=5000, burn_in=1000, thin=2, collapsed_moves=0, **moves).fit(h, rng=3)
    got = np.quantile(draws(res), [0.1, 0.5, 0.9])
    assert np.abs(got - exact).max() <= 1.0
    if moves["scale_moves"]:
        assert all(0.2 < a < 0.7 for a in res.diagnostics["acceptance_scale"])
    else:
        assert all(0.6 < a < 0.95 for a in res.diagnostics["acceptance_hmc"])


MOVES: dict[str, dict[str, int]] = {
    "scale": {**PLAIN, "scale_moves": 5},
    "swap": {**PLAIN, "swap_moves": 5},
    "hmc": {**PLAIN, "hmc_steps": 20, "hmc_every": 1},
    "default": {},
}


@pytest.mark.parametrize("moves", list(MOVES))
@pytest.mark.parametrize(("name", "seed"), [("MultipleSystemsEstimation_Korea.csv", 11), ("SparseMSE_NewOrl.csv", 11)])
def test_added_moves_leave_the_posterior_of_the_paper_unchanged(name: str, seed: int, moves: str) -> None:
    """K* = 10: each added move made to dominate the sweep (5 scale moves, 5 label swaps, a 20-step
    Hamiltonian trajectory every sweep), and the default mix, give the same quantiles of N as the
    paper's plain Gibbs sampler within 4 Monte Carlo standard errors (+1 for integer quantiles).
    Checked to fail when the simplex Jacobian of the scale move is off by one factor of the
    normalizer (New Orleans median +17, Korea 90% quantile +8) or its stick-breaking prior term is
    dropped; when the label swaps leave the cached log(1 - lam) of the swapped classes stale (Korea
    median 137 -> 128); and when the Hamiltonian target drops the sticks' Beta(1, alpha) term."""
    from cifranegra.estimation.diagnostics import mcse_quantile

    h = load(name)
    settings_ = {"chains": 4, "samples": 4000, "burn_in": 2000, "thin": 5}
    plain = np.asarray(draws(LCMCR(**PLAIN, **settings_).fit(h, rng=seed))).reshape(4, -1)
    scaled = np.asarray(draws(LCMCR(**MOVES[moves], **settings_).fit(h, rng=seed))).reshape(4, -1)
    for q in (0.1, 0.5, 0.9):
        tol = 4 * np.hypot(mcse_quantile(plain, q), mcse_quantile(scaled, q)) + 1.0
        assert abs(np.quantile(plain, q) - np.quantile(scaled, q)) <= tol, q


def test_nonconvergence_is_flagged() -> None:
    # far too short chains on a slowly mixing table: R-hat must say so
    res = LCMCR(chains=4, samples=20, burn_in=0, thin=1).fit(load("SparseMSE_Ned.csv"), rng=1)
    assert res.diagnostics["rhat"] > 1.01
    assert any("R-hat" in w for w in res.warnings)


@settings(max_examples=4, deadline=None)
@given(st.permutations(range(3)))
def test_permuting_lists_leaves_the_posterior_unchanged(perm: list[int]) -> None:
    # the model is exchangeable in the lists; the draws differ (other patterns order) but the
    # posterior median agrees within Monte Carlo error
    h = load("MultipleSystemsEstimation_Korea.csv")
    hp = h.select_lists([h.lists[i] for i in perm])
    a = LCMCR(**FAST).fit(hp, rng=2)
    assert a.estimate == pytest.approx(137, rel=0.05)


def test_bad_input() -> None:
    h = load("conting_spina.csv")
    with pytest.raises(InputError, match="chapman"):
        LCMCR().fit(h.select_lists(list(h.lists[:2])))
    with pytest.raises(ModelError, match="no one appears on two lists"):
        LCMCR().fit(CaptureHistories.from_counts({"100": 5, "010": 4, "001": 2}, ["a", "b", "c"]))
    with pytest.raises(InputError, match="chains"):
        LCMCR(chains=0)
    with pytest.raises(InputError, match="a_alpha"):
        LCMCR(a_alpha=-1)
    with pytest.raises(InputError, match="preset"):
        LCMCR(preset="stan")
    with pytest.raises(InputError, match="init"):
        LCMCR(init="random")


def test_starting_points() -> None:
    """Crowded and sparse starts reach the same posterior on a table without competing modes."""
    h = load("MultipleSystemsEstimation_Korea.csv")
    res = LCMCR(init="alternate", **FAST).fit(h, rng=4)
    assert res.settings["init"] == "alternate"
    assert res.estimate == pytest.approx(137, rel=0.05)


# ---------------------------------------------------------------------------------------- slow
R_ESS = pd.read_csv(pathlib.Path(__file__).parents[1] / "reference" / "r_lcmcr_ess.csv").set_index("dataset")
#: R's medians over its seeds 12345/1/2/3 (reference_estimates.csv notes; Netherlands seed 3, which sat
#: near 54,000, left out: see docs/bayesian.md)
R_SEED_MEDIANS = {
    "MultipleSystemsEstimation_Korea": [137, 137, 138, 137],
    "MultipleSystemsEstimation_Kosovo": [10413, 10360, 10416, 10418],
    "modslavmse_UKdat_4": [11847, 12006, 12024, 11996],
    "SparseMSE_UKdat_5": [22458, 21189, 20804, 22384],
    "SparseMSE_UKdat": [22949, 20994, 22902, 22899],
    "SparseMSE_Ned": [144176, 144019, 143857],
    "SparseMSE_NewOrl": [716, 713, 715, 715],
}


def _quantile_se(flat: np.ndarray, q: float, n_eff: float) -> float:
    """Monte Carlo standard error of the q-quantile from an effective sample size: sqrt(q (1 - q) /
    ESS) / f(x_q), the density f estimated from the draws as 0.02 / (width of the central 2% around
    x_q)."""
    lo, hi = np.quantile(flat, [max(q - 0.01, 0.0), min(q + 0.01, 1.0)])
    dens = 0.02 / max(hi - lo, 1e-9)
    return float(np.sqrt(q * (1 - q) / n_eff) / dens)


#: tables where chains of every sampler, R's included, can stay for tens of thousands of sweeps in a
#: region of small posterior mass, so that the mode warning may rightly fire on a default run. New
#: Orleans: a multi-class state near N ≈ 620 (alpha 1-30) visited by our plain sampler (R's algorithm;
#: 3 of 8 chains, seed 2026) and default (1 of 8 chains, seed 2026); 8 data-tempered chains
#: (temperatures=4, hottest=0.1, burn-in 20,000, 4,000 x 20 sweeps, cap 21, seed 7) agree at 714 with
#: 30% of draws below 650, the share of the untempered chains outside that state (docs/bayesian.md)
STICKY = {"SparseMSE_NewOrl"}
#: the standard deviation of single-chain medians of R's own algorithm, where R's seeds understate it:
#: the Netherlands, chains of R LCMCR's sampler re-implemented from its source with R's start and run
#: length (bench/lcmcr_r_algorithm.py, seeds 1-6, 8 chains each; the 18 of 48 chains with under 1% of
#: their draws below 90,000, as R's three reported seeds) have medians 135,390-144,588 (sd 2,663, mean
#: 141,941; half of them at 143,567-144,588, where R's three sit) while each reports a single-chain ESS
#: of 500-3,500 (R's coda: 3,003). Our default, whose chains cross between those regions, gives
#: 142,224 (docs/bayesian.md, "Netherlands: R's median").
R_CHAIN_SD = {"SparseMSE_Ned": 2663.0}
_FITS: dict[str, EstimateResult] = {}


def _slow_fit(name: str) -> EstimateResult:
    """The slow suite's fit of ``name`` with R's cap (8 chains x 2,000 draws, seed 2026), once."""
    if name not in _FITS:
        _FITS[name] = LCMCR(chains=8, samples=2000, n_cap_factor=21).fit(load(name + ".csv"), rng=2026)
    return _FITS[name]


def _median_gap(name: str) -> tuple[float, float]:
    """Our median minus R's, and the standard error of that difference: ours from our ESS; R's from
    R's ESS of N (r_lcmcr_ess.csv) with our draws' density, at least the standard deviation of R's
    seed medians (R's chains on the UK tables move slowly: its four seeds spread 7%, far beyond what
    its ESS says) and of single-chain medians of R's algorithm where measured (R_CHAIN_SD)."""
    ref = R_ESS.loc[name]
    res = _slow_fit(name)
    flat = np.asarray(draws(res))
    r_med_se = max(_quantile_se(flat, 0.5, ref["ess_N"]), float(np.std(R_SEED_MEDIANS[name], ddof=1)),
                   R_CHAIN_SD.get(name, 0.0))
    return res.estimate - ref["median"], float(np.hypot(res.diagnostics["mcse_median"], r_med_se))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(R_SEED_MEDIANS))
def test_slow_agreement_with_r_lcmcr(name: str) -> None:
    """Median and 95% upper endpoint against R LCMCR (seed 12345, 1.1 M sweeps) with R's cap
    (``n_cap_factor=21``: R redraws the unseen count until n0 <= 20 n), within 4 standard errors of
    the difference (:func:`_median_gap`; the upper end's from our tail ESS and R's ESS). No mode
    warning, except on STICKY tables, where a warning must put most draws within 5% of R's median."""
    ref = R_ESS.loc[name]
    res = _slow_fit(name)
    flat = np.asarray(draws(res))
    gap, se = _median_gap(name)
    assert abs(gap) <= 4 * se + 1
    se_up = np.hypot(_quantile_se(flat, 0.975, res.diagnostics["ess_tail"]), _quantile_se(flat, 0.975, ref["ess_N"]))
    assert abs(ci(res).upper - ref["upper95"]) <= 4 * se_up + 1
    modes = res.diagnostics["modes"]
    if name in STICKY and len(modes) > 1:
        main = max(modes, key=lambda m: m["share"])
        assert main["share"] > 0.5 and abs(main["median"] / ref["median"] - 1) < 0.05
        assert any("modes of N" in w for w in res.warnings)
    else:
        assert len(modes) == 1 and not any("modes of N" in w for w in res.warnings)


@pytest.mark.slow
def test_slow_netherlands_low_region_holds_negligible_posterior_mass() -> None:
    """Chains of R's algorithm stay near N = 16,000-60,000 on the Netherlands for hundreds of
    thousands of sweeps; the default's never go there. The bridge over caps on N (bench/bench_bayes.py
    ``netherlands_low_mass``: P(N <= 90k) as a product of shares of capped default runs, each capped
    posterior holding the low region next to a slice of the main one) puts 5e-5 to 3e-4 of the
    posterior below 90,000 (seeds 1-3, 2,000 draws x 8 chains; docs/bayesian.md 'Netherlands:
    settled'). A sampler that over-weighted the low region as the tempered plain chains do (23% of
    draws) would fail the bound."""
    from benchload import load_bench

    low = load_bench("bench_bayes.py").netherlands_low_mass(seed=1, samples=2000)
    assert low["mass"] < 1e-3, low
    assert low["factors"][-1] > 0.1  # the uncapped run does reach below 130,000: the bridge's last step holds


@pytest.mark.slow
def test_slow_colombia_hrdag_production_case() -> None:
    """HRDAG's 20-list Colombia stratum runs in seconds. Its LCMCR posterior is bimodal: HRDAG's
    published draws (CEV verdata: median 2068 [1396, 3061]) sit in the upper mode; chains of the
    paper's sampler (ours, and an independent plain numpy implementation, docs/notes/issue-3.md) also
    settle near 1,410. A converged answer must be one of the two; otherwise R-hat must say so."""
    res = LCMCR(preset="hrdag").fit(load("colombia_reclutamiento_hombre_1999_verdata_R1.csv"), rng=7)
    assert res.diagnostics["elapsed_s"] < 120
    if res.diagnostics["rhat"] <= 1.01:
        assert any(abs(res.estimate / mode - 1) < 0.05 for mode in (2068, 1410))
    else:
        assert any("R-hat" in w for w in res.warnings)


def test_chain_modes_groups_chains() -> None:
    """Synthetic chains: two near 51,000 and two near 144,000 are two modes with their shares; four
    chains drawn from one distribution (medians apart by Monte Carlo noise only) are one, even when
    two of them sit 15% apart with only 30 draws each (their error then covers the gap)."""
    from cifranegra.estimation.lcmcr import chain_modes

    rng = np.random.default_rng(0)
    n = np.concatenate([rng.normal(144000, 9000, (2, 1000)), rng.normal(51000, 4000, (2, 1000))])
    modes = chain_modes(n)
    assert [(m["chains"], m["share"]) for m in modes] == [([2, 3], 0.5), ([0, 1], 0.5)]
    assert modes[0]["median"] == pytest.approx(51000, rel=0.02)
    assert modes[1]["median"] == pytest.approx(144000, rel=0.02)
    assert len(chain_modes(rng.lognormal(np.log(1000), 0.3, (4, 1000)))) == 1
    noisy = rng.lognormal(np.log(1000), 0.6, (2, 30))
    noisy[1] *= 1.15
    assert len(chain_modes(noisy)) == 1


def test_multimodal_chains_warn_with_locations_and_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fit's warning names each mode's location and share when chains disagree (sampler replaced
    by synthetic chains), and the diagnostics always carry the share above R's cap (21 n)."""
    rng = np.random.default_rng(1)
    fake = np.concatenate([rng.normal(1400, 60, (3, 200)), rng.normal(3000, 100, (1, 200))]).round()
    real = LCMCR.sample

    def sample(self: LCMCR, histories: CaptureHistories, rng: Any = None) -> dict:
        out = real(self, histories, rng)
        return {**out, "n": fake}

    monkeypatch.setattr(LCMCR, "sample", sample)
    res = LCMCR(chains=4, samples=10, burn_in=10, thin=1).fit(load("MultipleSystemsEstimation_Korea.csv"), rng=1)
    text = " ".join(res.warnings)
    assert "2 modes of N" in text and "(3 of 4 chains, 75% of draws)" in text
    assert "(1 of 4 chains, 25% of draws)" in text
    located = [m["median"] for m in res.diagnostics["modes"]]
    assert located == [pytest.approx(1400, rel=0.02), pytest.approx(3000, rel=0.02)]
    assert res.diagnostics["r_cap"] == 21 * 123
    assert res.diagnostics["share_above_r_cap"] == pytest.approx(0.25)
    assert any("21 × the observed" in w and "--option n_cap_factor=21" in w for w in res.warnings)


def test_cap_option() -> None:
    """``n_cap_factor`` keeps every draw at or under floor(factor × n) and is validated by name."""
    h = load("MultipleSystemsEstimation_Korea.csv")
    res = LCMCR(n_cap_factor=1.1, **FAST).fit(h, rng=2)
    assert max(draws(res)) <= math.floor(1.1 * 123) and res.settings["n_cap_factor"] == 1.1
    assert res.diagnostics["n_cap"] == 135
    assert LCMCR(**FAST).fit(h, rng=2).diagnostics["n_cap"] is None
    with pytest.raises(InputError, match="n_cap_factor"):
        LCMCR(n_cap_factor=0.5)
    with pytest.raises(InputError, match="n_cap_factor"):
        LCMCR(n_cap_factor="20")  # type: ignore[arg-type]


def test_spec_is_a_frozen_dataclass_of_its_options() -> None:
    """The spec's fields are exactly its user options; it cannot be changed after construction."""
    import dataclasses

    spec = LCMCR(chains=3)
    names = [f.name for f in dataclasses.fields(spec)]
    assert "n_cap_factor" in names and "init" in names and "min_lists" not in names
    assert LCMCR(**{f: getattr(spec, f) for f in names}) == spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.chains = 5  # type: ignore[misc]
    with pytest.raises(InputError, match="chains"):
        LCMCR(chains=True)  # type: ignore[arg-type]


def test_registered_under_the_common_entry_point() -> None:
    from cifranegra.estimation.api import estimate

    h = load("MultipleSystemsEstimation_Korea.csv")
    res = estimate(h, "lcmcr", seed=1, chains=2, samples=50, burn_in=100, thin=2)
    assert res.method == "lcmcr" and res.seed == 1
    assert estimate(h, "dga").method == "dga"
    assert estimate(h, "sample-coverage", seed=1, n_boot=10).method == "sample-coverage"


def test_tempered_chains_target_the_same_posterior() -> None:
    """Data tempering only adds replicas; replica 0 still samples the posterior (Korea: R 137)."""
    h = load("MultipleSystemsEstimation_Korea.csv")
    res = LCMCR(temperatures=3, hottest=0.3, **FAST).fit(h, rng=8)
    assert res.estimate == pytest.approx(137, rel=0.05)
    assert all(0 < r <= 1 for r in res.diagnostics["swap_rate"])
    assert res.settings["temperatures"] == 3
    again = LCMCR(temperatures=3, hottest=0.3, **FAST).fit(h, rng=8)
    assert again.draws == res.draws
    with pytest.raises(InputError, match="hottest"):
        LCMCR(temperatures=3, hottest=1.5)


def _log_gamma_np(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """log of Gamma(a, 1) draws, exact for tiny shapes: log G(a + 1) + log(U) / a when a < 1."""
    a = np.asarray(a, dtype=float)
    small = a < 1.0
    out = np.log(rng.gamma(np.where(small, a + 1.0, a)))
    return out + np.where(small, np.log1p(-rng.random(a.shape)) / np.where(small, a, 1.0), 0.0)


def _reference_gibbs(x: np.ndarray, k: int, iters: int, burn: int, seed: int) -> np.ndarray:
    """The paper's Gibbs sampler written plainly, one person at a time (numpy), as an independent check
    of the compiled kernel: classes of the observed, n0 ~ NegBin(n, 1 - pi0) and the classes of the
    unseen, capture probabilities, sticks, alpha (a_alpha = b_alpha = 0.25)."""
    rng = np.random.default_rng(seed)
    n, n_lists = x.shape
    lam = rng.random((n_lists, k))
    alpha = 1.0
    pi = np.full(k, 1.0 / k)
    log_pi = np.log(pi)
    out = []
    for it in range(iters):
        ll = x @ np.log(lam) + (1 - x) @ np.log1p(-lam) + log_pi
        p = np.exp(ll - ll.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        z = np.minimum((p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1), k - 1)
        q = pi * np.prod(1 - lam, axis=0)
        n0 = rng.negative_binomial(n, 1 - q.sum())
        nk = np.bincount(z, minlength=k) + rng.multinomial(n0, q / q.sum())
        s = np.stack([x[z == c].sum(axis=0) for c in range(k)], axis=1)
        lam = np.clip(rng.beta(1 + s, 1 + nk[None, :] - s), 1e-300, 1 - 1e-15)
        tail = nk[::-1].cumsum()[::-1] - nk
        # sticks on the log scale from log-gamma variates (shape < 1: log G(a + 1) + log(U) / a), so
        # log(1 - V) stays exact when V rounds to 1 (R LCMCR's way; no clamp of V or alpha)
        lg1 = _log_gamma_np(rng, 1.0 + nk[:-1])
        lg2 = _log_gamma_np(rng, alpha + tail[:-1])
        lsum = np.logaddexp(lg1, lg2)
        log1m = lg2 - lsum
        log_pi = np.append(lg1 - lsum, 0.0) + np.concatenate([[0.0], np.cumsum(log1m)])
        pi = np.exp(log_pi)
        alpha = max(rng.gamma(0.25 + k - 1, 1 / (0.25 - log1m.sum())), 1e-300)
        if it >= burn:
            out.append(n + n0)
    return np.asarray(out)


def test_kernel_agrees_with_a_plain_implementation_of_the_paper() -> None:
    """Ten sparse lists, two latent classes (no R reference exists for such a table): the compiled
    kernel's Gibbs steps (pattern-level; none of the added moves, which the tests above and
    below check against this same sampler) and a plain person-level numpy sampler agree."""
    rng = np.random.default_rng(5)
    n_lists, size = 10, 1500
    low = rng.random(size) < 0.5
    x = (rng.random((size, n_lists)) < np.where(low, 0.05, 0.25)[:, None]).astype(int)
    x = x[x.sum(axis=1) > 0]
    counts = np.bincount((x << np.arange(n_lists)).sum(axis=1), minlength=2**n_lists)
    h = CaptureHistories(tuple(f"l{j}" for j in range(n_lists)), counts)
    ref = _reference_gibbs(x.astype(float), k=5, iters=3000, burn=500, seed=1)
    ours = LCMCR(max_classes=5, chains=2, samples=300, burn_in=1000, thin=5, **PLAIN).fit(h, rng=1)
    # N mixes slowly on this table (both samplers: medians over seeds spread about 6%), so compare
    # each median with the other's 95% interval
    lo, hi = np.quantile(ref, [0.025, 0.975])
    assert lo <= ours.estimate <= hi
    iv = ci(ours)
    assert iv.lower <= np.median(ref) <= iv.upper


# ------------------------------------------------------------------ the kernel's own draws
def _kernel_draws(kind: str, a: float, b: float, size: int, seed: int) -> np.ndarray:
    """``size`` draws of the kernel's gamma / beta / binomial (a = n, b = q) from one generator."""
    from cifranegra.estimation import lcmcr_kernels as kern

    return kern.draw_many(kind, a, b, size, seed)


def test_kernel_normal_is_normal() -> None:
    """The ziggurat normal: Kolmogorov–Smirnov against N(0, 1) on 400,000 draws, each layer's area
    equal (the table's defining property), and the share beyond the base strip's edge r (drawn by
    the separate tail algorithm) within 4 binomial standard errors of 2 P(Z > r)."""
    from scipy import stats

    from cifranegra.estimation import lcmcr_kernels as kern

    x, f = kern._ZIG_X, kern._ZIG_F
    areas = x[1:-1] * (f[2:] - f[1:-1])
    assert np.allclose(areas, areas[0], rtol=1e-6) and areas[0] == pytest.approx(0.00492867323399, rel=1e-6)
    z = _kernel_draws("normal", 0.0, 0.0, 400_000, seed=4)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    p_tail = 2 * stats.norm.sf(kern._ZIG_R)
    assert abs((np.abs(z) > kern._ZIG_R).mean() - p_tail) <= 4 * np.sqrt(p_tail / z.size)
    assert (z > 0).mean() == pytest.approx(0.5, abs=4 * 0.5 / np.sqrt(z.size))


@pytest.mark.parametrize("shape", [0.05, 0.3, 1.0, 2.5, 40.0, 5000.0])
def test_kernel_gamma_is_gamma(shape: float) -> None:
    """Marsaglia–Tsang (boosted below 1) against scipy's Gamma(shape): Kolmogorov–Smirnov."""
    from scipy import stats

    x = _kernel_draws("gamma", shape, 0.0, 20_000, seed=3)
    assert stats.kstest(x, stats.gamma(shape).cdf).pvalue > 1e-3


@pytest.mark.parametrize(("a", "b"), [(1.0, 0.2), (1.0, 30.0), (7.0, 1.0), (2.0, 3.0), (0.6, 0.4), (300.0, 9.0)])
def test_kernel_beta_is_beta(a: float, b: float) -> None:
    from scipy import stats

    x = _kernel_draws("beta", a, b, 20_000, seed=4)
    assert stats.kstest(x, stats.beta(a, b).cdf).pvalue > 1e-3


@pytest.mark.parametrize(
    ("n", "q"),
    [
        (1, 0.3),
        (5, 0.5),
        (20, 0.02),
        (40, 0.9),
        (30, 0.3),
        (2000, 0.004),
        (41, 0.5),
        (1131, 0.02),
        (500, 0.7),
        (5000, 0.4),
        (10**6, 0.5),
    ],
)
def test_kernel_binomial_is_binomial(n: int, q: float) -> None:
    """Inversion (mean under 20) and BTRS (above) against the exact pmf: chi-square on binned
    counts (tails beyond 1e-4 pooled)."""
    from scipy import stats

    x = _kernel_draws("binomial", float(n), q, 40_000, seed=5).astype(int)
    pmf = stats.binom(n, q).pmf(np.arange(n + 1))
    lo, hi = np.searchsorted(pmf.cumsum(), [1e-4, 1 - 1e-4])
    edges = np.arange(lo, hi + 1)
    obs = np.array([(x <= lo).sum(), *[(x == v).sum() for v in edges[1:-1]], (x >= hi).sum()])
    exp = 40_000 * np.array([pmf[: lo + 1].sum(), *pmf[edges[1:-1]], pmf[hi:].sum()])
    if len(obs) < 2:
        assert (x == lo).all()
        return
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-3


def test_kernel_multinomial_is_multinomial() -> None:
    """Sequential binomials then one categorical draw per person, cells in any order: exact means and
    covariances."""
    from cifranegra.estimation import lcmcr_kernels as kern

    p = np.array([0.02, 0.5, 0.0, 0.3, 0.18])
    for n, order in itertools.product((3, 12, 13, 500), (np.argsort(-p), np.arange(5), np.array([2, 0, 4, 3, 1]))):
        x = kern.multinomial_many(n, p, order, 40_000, 6).astype(float)
        assert (x.sum(axis=1) == n).all() and (x[:, 2] == 0).all()
        se = np.sqrt(n * p * (1 - p) / 40_000)
        assert np.all(np.abs(x.mean(axis=0) - n * p) <= 5 * se + 1e-12)
        cov = np.cov(x.T)
        want = n * (np.diag(p) - np.outer(p, p))
        assert np.allclose(cov, want, atol=0.05 * n * 0.25 + 0.02)


def test_collapsed_move_ratio_equals_the_full_difference() -> None:
    """The Metropolis ratio computed from the changed terms only equals the difference of the full
    collapsed log-densities, for every class, random states and steps of both signs."""
    from cifranegra.estimation import lcmcr_kernels as kern

    rng = np.random.default_rng(9)
    for k, n_lists in ((1, 3), (4, 5), (10, 6)):
        for _ in range(20):
            n_obs_k = rng.integers(0, 300, k)
            m0 = rng.integers(0, 500, k)
            s_jk = np.stack([rng.integers(0, x + 1, n_lists) for x in n_obs_k], axis=1)
            n_obs, n0 = int(n_obs_k.sum()), int(m0.sum())
            alpha = float(rng.gamma(1.0, 1.0))
            for c in range(k):
                new = max(0, int(m0[c]) + int(rng.integers(-40, 41)))
                old = int(m0[c])
                full = kern._log_f(c, new, n_obs, n0 - old, n_obs_k, m0, s_jk, alpha, k, n_lists) - kern._log_f(
                    c, old, n_obs, n0 - old, n_obs_k, m0, s_jk, alpha, k, n_lists
                )
                fast = kern.log_ratio(c, old, new, n_obs, n0, n_obs_k, m0, s_jk, alpha, k, n_lists)
                assert fast == pytest.approx(full, rel=1e-9, abs=1e-7)


# ------------------------------------------------------------ label swaps and the Hamiltonian move
def _stick_log_density_via_sticks(pi: np.ndarray, alpha: float) -> float:
    """log p(pi) under truncated stick-breaking computed the long way: Beta(1, alpha) densities of
    the sticks V_c = pi_c / (1 - pi_1 - ... - pi_{c-1}) times |det dV/dpi| by central differences."""
    from scipy.stats import beta

    def sticks(free: np.ndarray) -> np.ndarray:
        full = np.append(free, 1.0 - free.sum())
        tails = 1.0 - np.concatenate([[0.0], np.cumsum(full)[:-1]])
        return (full / tails)[:-1]

    jac = _central_jacobian(sticks, pi[:-1], 1e-7)
    return float(beta.logpdf(sticks(pi[:-1]), 1.0, alpha).sum() + np.log(abs(np.linalg.det(jac))))


@pytest.mark.parametrize("k", [3, 5, 8])
def test_stick_prior_density_on_the_simplex(k: int) -> None:
    """The label swaps accept on the ratio of the stick-breaking prior density of pi,
    (alpha - 1) log pi_K - sum_{c=2}^{K-1} log(pi_c + ... + pi_K) (derived by hand); checked here,
    as differences between random weight vectors, against Beta densities of the sticks times a
    finite-difference Jacobian."""
    from cifranegra.estimation import lcmcr_kernels as kern

    rng = np.random.default_rng(k)
    alpha = 0.6
    pis = [rng.dirichlet(np.ones(k)) for _ in range(4)]
    ours = [kern.log_stick_prior(np.log(p), k, alpha) for p in pis]
    long_way = [_stick_log_density_via_sticks(p, alpha) for p in pis]
    for i in range(1, 4):
        assert ours[i] - ours[0] == pytest.approx(long_way[i] - long_way[0], abs=1e-5)


def test_label_swaps_keep_the_stick_breaking_prior() -> None:
    """With no data the swaps alone must leave the prior invariant: weights drawn exactly from
    truncated stick-breaking (K = 5, alpha = 0.7), 25 swaps each, keep E[pi_c] =
    (1/(1+alpha)) (alpha/(1+alpha))^c (last class (alpha/(1+alpha))^4): 0.588, 0.242, 0.100,
    0.041, 0.029, within 4 standard errors."""
    from cifranegra.estimation import lcmcr_kernels as kern

    k, alpha, n = 5, 0.7, 20_000
    rng = np.random.default_rng(1)
    v = rng.beta(1.0, alpha, size=(n, k))
    v[:, -1] = 1.0
    log_pi = np.log(v) + np.concatenate([np.zeros((n, 1)), np.cumsum(np.log1p(-v[:, :-1]), axis=1)], axis=1)
    lam = np.tile(np.arange(k, dtype=float)[None, :] / 10 + 0.05, (2, 1))
    rs = kern.seed_state(5)
    stats = np.zeros(2, dtype=np.int64)
    out = np.empty_like(log_pi)
    for i in range(n):
        lp = log_pi[i].copy()
        lam_i = lam.copy()
        kern._swap_moves(k, alpha, 25, lam_i, lp, rs, stats)
        # the capture probabilities travel with their class
        assert sorted(zip(lp.round(12), lam_i[0], strict=True)) == sorted(zip(log_pi[i].round(12), lam[0], strict=True))
        out[i] = lp
    exact = np.array(
        [(1 / (1 + alpha)) * (alpha / (1 + alpha)) ** c for c in range(k - 1)] + [(alpha / (1 + alpha)) ** (k - 1)]
    )
    pi = np.exp(out)
    se = pi.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(pi.mean(axis=0) - exact) < 4 * se)
    assert 0.2 < stats[1] / stats[0] < 0.8


@pytest.mark.parametrize(
    ("name", "k"),
    [
        ("MultipleSystemsEstimation_Kosovo.csv", 10),
        ("MultipleSystemsEstimation_Korea.csv", 1),
        ("SparseMSE_UKdat_5.csv", 3),
    ],
)
def test_hamiltonian_gradient_is_the_gradient(name: str, k: int) -> None:
    """The gradient of the Hamiltonian target (hand-derived) against central differences of its log
    density at random points."""
    from cifranegra.estimation import lcmcr_kernels as kern

    h = load(name)
    pat = np.ascontiguousarray(h.pattern_matrix()).astype(np.int8)
    cnt = h.counts[h.masks()].astype(np.int64)
    n_lists = pat.shape[1]
    d = n_lists * k + k - 1
    rng = np.random.default_rng(7)
    scratch = (np.empty((n_lists, k)), np.empty((n_lists, k)), np.empty((5, k)))
    for _ in range(3):
        x = rng.normal(0.0, 1.5, d)
        g = np.empty(d)
        kern.hmc_logp_grad(pat, cnt, int(cnt.sum()), k, 0.7, x, g, *scratch, True)
        num = np.empty(d)
        for i in range(d):
            step = np.zeros(d)
            step[i] = 1e-6
            up = kern.hmc_logp_grad(pat, cnt, int(cnt.sum()), k, 0.7, x + step, np.empty(d), *scratch, True)
            down = kern.hmc_logp_grad(pat, cnt, int(cnt.sum()), k, 0.7, x - step, np.empty(d), *scratch, True)
            num[i] = (up - down) / 2e-6
        assert np.allclose(g, num, rtol=1e-5, atol=1e-4 * max(1.0, np.abs(g).max()) * 1e-2)


#: a small three-list table (21 people; index = sum of 2^j over the lists j that hold the pattern),
#: where the priors of lam and of the sticks move the posterior of N visibly
SMALL = CaptureHistories(("a", "b", "c"), np.array([0, 5, 6, 2, 4, 1, 2, 1]))


@pytest.mark.parametrize("k", [1, 3])
def test_hamiltonian_trajectories_alone_target_the_posterior(k: int) -> None:
    """Trajectories alone (no Gibbs step to mask an error), alpha fixed at 0.5, on a small table
    where the priors matter: K = 1 gives the exact one-class posterior of N (grid sum above); K = 3
    gives the quantiles of the paper's Gibbs sampler with the same fixed alpha; both within 4 Monte
    Carlo standard errors (+1 for integer quantiles). Checked to fail when the target drops the
    logit Jacobian of lam or the sticks' Beta(1, alpha) term."""
    from cifranegra.estimation import lcmcr_kernels as kern
    from cifranegra.estimation.diagnostics import mcse_quantile

    h = SMALL
    pat = np.ascontiguousarray(h.pattern_matrix()).astype(np.int8)
    cnt = h.counts[h.masks()].astype(np.int64)
    chains = []
    for seed in range(4):
        lam = np.full((pat.shape[1], k), 0.3)
        log_pi = np.log(np.full(k, 1.0 / k))
        n, acc = kern.hmc_only_chain(pat, cnt, k, 0.5, lam, log_pi, 2000, 20000, 20, seed)
        assert 0.6 < acc < 0.95
        chains.append(n)
    ours = np.stack(chains).astype(float)
    qs = (0.1, 0.5, 0.9)
    if k == 1:
        exact = _exact_one_class_posterior(h, qs)
        for q, e in zip(qs, exact, strict=True):
            assert abs(np.quantile(ours, q) - e) <= 4 * mcse_quantile(ours, q) + 1.0, q
        return
    gibbs = LCMCR(max_classes=k, alpha=0.5, chains=4, samples=20000, burn_in=2000, thin=2, **PLAIN).fit(h, rng=1)
    ref = np.asarray(draws(gibbs)).reshape(4, -1)
    for q in qs:
        tol = 4 * np.hypot(mcse_quantile(ref, q), mcse_quantile(ours, q)) + 1.0
        assert abs(np.quantile(ref, q) - np.quantile(ours, q)) <= tol, q


def test_hamiltonian_move_default_depends_on_the_table_size() -> None:
    """On by default on small tables (Korea: 6 patterns × 3 lists), off on large ones (Colombia: 103
    patterns × 20 lists, where a leapfrog step costs about a sweep); an explicit setting wins. The
    setting used is recorded."""
    korea = load("MultipleSystemsEstimation_Korea.csv")
    colombia = load("colombia_reclutamiento_hombre_1999_verdata_R1.csv")
    assert LCMCR().resolved_hmc_steps(korea) == 40
    # the largest reference tables: New Orleans 19 patterns × 8 lists, UK 6 lists 25 × 6
    assert LCMCR().resolved_hmc_steps(load("SparseMSE_NewOrl.csv")) == 40
    assert LCMCR().resolved_hmc_steps(load("SparseMSE_UKdat.csv")) == 40
    assert LCMCR().resolved_hmc_steps(colombia) == 0
    assert LCMCR(hmc_steps=10).resolved_hmc_steps(colombia) == 10
    assert LCMCR(hmc_steps=0).resolved_hmc_steps(korea) == 0
    res = LCMCR(**FAST).fit(korea, rng=1)
    assert res.settings["hmc_steps"] == 40 and res.diagnostics["acceptance_hmc"] is not None
    with pytest.raises(InputError, match="hmc_every"):
        LCMCR(hmc_every=0)
    with pytest.raises(InputError, match="hmc_steps"):
        LCMCR(hmc_steps=-1)


# ------------------------------------------------------------------ option messages
#: one refused value per option (a count too small or a word, a number out of range)
REFUSED: dict[str, Any] = {
    "max_classes": 0,
    "a_alpha": -1,
    "b_alpha": 0,
    "preset": "stan",
    "chains": "four",
    "samples": 5,
    "burn_in": -1,
    "thin": 0,
    "collapsed_moves": 1.5,
    "scale_moves": -1,
    "swap_moves": True,
    "hmc_steps": -1,
    "hmc_every": 0,
    "temperatures": 0,
    "hottest": 1.0,
    "init": "random",
    "workers": 0,
    "alpha": 0,
    "n_cap_factor": 0.5,
    "level": 1.5,
}


def test_every_refused_option_is_named_in_the_callers_spelling() -> None:
    """Each clause of a refusal starts with the bare option name, so check_estimator rewrites it into
    the caller's spelling (a CLI flag, a project-file key): with labels <name>, every clause starts
    with its label and no Python spelling ("(chains in Python)") is left. Failed when the messages
    began "--option a_alpha=... (a_alpha in Python)" or "a_alpha and b_alpha must be ..."."""
    from cifranegra.estimation.api import check_estimator, option_names

    assert set(REFUSED) == set(option_names("lcmcr"))
    labels = {name: f"<{name}>" for name in REFUSED}
    for name, value in REFUSED.items():
        with pytest.raises(InputError) as exc:
            check_estimator("lcmcr", {name: value}, labels=labels)
        text = str(exc.value)
        assert text.startswith(f"<{name}> "), text
        assert "in Python" not in text, text
    with pytest.raises(InputError) as exc:
        check_estimator("lcmcr", {"a_alpha": -1, "init": "random", "chains": 0}, labels=labels)
    clauses = str(exc.value).split("; ")
    assert len(clauses) == 3 and all(c.startswith("<") for c in clauses), clauses


@pytest.mark.parametrize(
    ("value", "bound"),
    [
        ({"max_classes": 5000}, "max_classes must be a whole number from 1 to 1,000"),
        ({"burn_in": 1e300}, "burn_in must be a whole number from 0 to 1,000,000,000"),
        ({"samples": 10**6, "chains": 1000}, "samples × chains (draws of N kept in memory) must be at most"),
    ],
)
def test_sizes_the_sampler_cannot_run_are_refused(value: dict[str, Any], bound: str) -> None:
    """A count too large for the compiled sampler's 64-bit counters or for memory is refused when the
    spec is built (it used to reach the kernel: an OverflowError reported as a sampler defect, or an
    allocation failure)."""
    with pytest.raises(InputError, match=re.escape(bound)):
        LCMCR(**value)


def test_cli_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """`cifranegra estimate X --method lcmcr --chains four` (argparse) and `--chains 0` (the spec)
    both name --chains, with no Python spelling; --option values are named as --option NAME=."""
    from cifranegra.cli import main

    korea = "MultipleSystemsEstimation_Korea"
    with pytest.raises(SystemExit) as stop:
        main(["estimate", korea, "--method", "lcmcr", "--chains", "four"])
    assert stop.value.code == 2 and "--chains" in capsys.readouterr().err
    assert main(["estimate", korea, "--method", "lcmcr", "--chains", "0"]) == 2
    err = capsys.readouterr().err
    assert "--chains must be a whole number ≥ 1, got 0" in err and "in Python" not in err
    assert main(["estimate", korea, "--method", "lcmcr", "--option", "a_alpha=-1", "--option", "init=x"]) == 2
    err = capsys.readouterr().err
    assert "--option a_alpha= (shape of the Gamma prior" in err and "--option init= must be one of" in err
    assert "Traceback" not in err and "in Python" not in err


def test_hmc_target_rejects_a_saturated_probability_in_a_negligible_class() -> None:
    """The Hamiltonian move's target at a point where one class has weight below 1e-280 and one of its
    capture probabilities is 1 in floating point (logit 800): the odds lam / (1 - lam) would divide by
    zero. It must reject the point (-inf), not raise: on ordinary 4-list tables this raised
    ZeroDivisionError in about one run in ten (issue 14's estimator study, bench/bench_default_estimator.py)."""
    from cifranegra.estimation.lcmcr_kernels import hmc_logp_grad

    patterns = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]], dtype=np.int8)
    pcounts = np.array([40, 30, 5], dtype=np.int64)
    k, n_lists = 2, 3
    x = np.zeros(n_lists * k + k - 1)
    x[n_lists * k] = 700.0  # stick logit: class 2's weight 1 - V is about 1e-304
    x[0 * k + 1] = 800.0  # class 2's capture probability on list 1 saturates to 1.0
    args = (np.zeros(x.size), np.zeros((n_lists, k)), np.zeros((n_lists, k)), np.zeros((5, k)))
    assert hmc_logp_grad(patterns, pcounts, 75, k, 0.5, x, *args, True) == -np.inf
    x[0 * k + 1] = 3.0  # the same point with an ordinary probability has a finite target
    assert np.isfinite(hmc_logp_grad(patterns, pcounts, 75, k, 0.5, x, *args, True))


def test_a_table_that_made_the_sampler_divide_by_zero_is_estimated() -> None:
    # replicate 58 of design K4-homogeneous in bench/bench_default_estimator.py (seed 14006): before the
    # fix above, ModelError "the LCMCR sampler failed numerically (division by zero)"
    h = CaptureHistories.from_counts([0, 291, 95, 50, 36, 32, 5, 5, 81, 69, 11, 12, 3, 8, 1, 0], list("abcd"))
    seed = int(np.random.SeedSequence([14006, 0, 58]).spawn(3)[2].generate_state(1)[0])
    r = LCMCR(workers=1).fit(h, rng=seed)
    assert h.observed < r.estimate < 3 * h.observed
