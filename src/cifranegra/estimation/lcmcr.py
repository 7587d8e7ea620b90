"""Latent-class multiple-recapture model (LCMCR; Manrique-Vallier 2016, Biometrics 72(3)).

The population is a mixture of latent classes; within a class the lists capture independently, with
class-specific probabilities ``λ_jk ~ Beta(1, 1)``. Class weights follow a Dirichlet process
truncated at ``max_classes`` classes (stick-breaking ``V_k ~ Beta(1, α)``,
``α ~ Gamma(a_alpha, b_alpha)``), and ``p(N) ∝ 1/N``. Heterogeneity of capture between people
is what the classes absorb; list dependence that is not heterogeneity is not modelled.

The Gibbs sampler is the paper's: latent classes of the observed, the number never seen and their
classes (negative binomial given the parameters), capture probabilities, stick-breaking weights and
α. These differ from the R package, none changing the target distribution:

* people with the same capture pattern are updated together (one multinomial per pattern), so a
  sweep costs patterns × classes × lists whatever the number of people;
* by default each sweep starts with a Metropolis–Hastings *scale move* (``scale_moves``): the
  capture odds of one class scaled by a common factor and its weight rescaled so that its share of
  the seen is unchanged, accepted on the posterior of (capture probabilities, weights) with classes
  and N summed out; the classes and N are then redrawn from their conditionals (a partially
  collapsed step, van Dyk & Park 2008). The plain sampler updates N and the capture probabilities
  of a rarely seen class one given the other, which is what makes R LCMCR chains crawl; the scale
  move travels along that ridge. Optional ``collapsed_moves`` (0 by default) are Metropolis moves
  on the unobserved count of each class with its capture probabilities and the sticks integrated
  out;
* by default two *label swaps* a sweep (``swap_moves``): two classes exchange parameters, accepted
  on the stick-breaking prior's ratio (the likelihood is symmetric), so the order of the classes,
  which the truncated prior does not treat alike, no longer drifts over tens of thousands of sweeps
  (Papaspiliopoulos & Roberts 2008; Hastie, Liverani & Richardson 2015);
* by default one Hamiltonian Monte Carlo trajectory (Neal 2011) every ``hmc_every`` (8) sweeps of
  ``hmc_steps`` (40; off by default on tables of more than 500 observed patterns × lists) leapfrog
  steps on the same collapsed posterior (logits of capture probabilities
  and sticks; step size and diagonal mass adapted in burn-in): it moves many classes together,
  which the split of the observed between a rarely caught class and the others needs.
  ``scale_moves=0, swap_moves=0, hmc_steps=0, collapsed_moves=0`` gives the paper's sampler exactly.
* optionally (``temperatures`` > 1) each chain carries data-tempered replicas: replica r samples
  the posterior of the same table with counts scaled by ``hottest^(r/(R-1))`` and neighbours swap
  parameters by Metropolis after every sweep, so chains can cross between posterior modes (the
  Netherlands table has two); only the untempered replica is reported.

Several chains run in parallel threads (compiled kernel, GIL released); chain ``i`` always uses
child seed ``i`` of the seed, so results do not depend on the number of workers. R-hat and
effective sample sizes (:mod:`.diagnostics`) are reported for N, with a warning when chains
disagree.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cifranegra._random import as_seed_sequence, spawn_seeds
from cifranegra.errors import ModelError
from cifranegra.estimation import specs
from cifranegra.estimation.diagnostics import (
    RHAT_THRESHOLD,
    ess,
    ess_tail,
    mcse_quantile,
    require_usable,
    rhat,
)
from cifranegra.estimation.histories import MAX_LISTS, CaptureHistories
from cifranegra.estimation.result import EstimateResult, Interval, percentile_interval
from cifranegra.estimation.wording import option

#: The R LCMCR settings of the reference runs (K* = 10, a_alpha = b_alpha = 0.25) and HRDAG's
#: production choice for the number of classes.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {"max_classes": 10, "a_alpha": 0.25, "b_alpha": 0.25},
    "hrdag": {"max_classes": None, "a_alpha": 0.25, "b_alpha": 0.25},  # K = min(2^J - 1, 15)
}


#: default leapfrog steps of the Hamiltonian move, and the table size (observed patterns × lists)
#: above which it is off unless asked for
HMC_STEPS = 40
HMC_MAX_WORK = 500


_ARITHMETIC = {ZeroDivisionError: "division by zero", OverflowError: "overflow", FloatingPointError: "floating point"}


def hrdag_classes(n_lists: int) -> int:
    """HRDAG's production number of classes: ``min(2^J - 1, 15)`` (CEV Colombia, verdata)."""
    return int(min(2**n_lists - 1, 15))


#: chains sit in different modes when their medians of N differ by more than this ratio and by more
#: than ``MODE_MCSE`` Monte Carlo standard errors of the difference
MODE_RATIO = 1.10
MODE_MCSE = 6.0
#: R LCMCR redraws the unseen count until n0 <= 20 n, i.e. N <= 21 n (``sam_n0``, not documented)
R_CAP_FACTOR = 21.0
#: posterior share above R's cap from which the result warns that R's interval would be shorter
R_CAP_WARN = 0.025
_FLAGGED = {"chains", "samples", "burn_in", "thin", "max_classes", "preset", "level", "workers"}
#: whole-number options and their least values
_COUNTS = {
    "max_classes": 1, "chains": 1, "samples": 10, "burn_in": 0, "thin": 1, "collapsed_moves": 0,
    "scale_moves": 0, "swap_moves": 0, "hmc_steps": 0, "hmc_every": 1, "temperatures": 1, "workers": 1,
}  # fmt: skip
#: the largest value of a whole-number option (the compiled sampler's counters are 64-bit; a run of
#: 10^9 sweeps takes hours), with tighter ones where memory grows with the value
MAX_COUNT = 10**9
_COUNT_LIMIT = {"max_classes": 1000, "chains": 10_000, "temperatures": 1000, "workers": 10_000}
#: draws of N kept in memory (8 bytes each)
MAX_DRAWS = 10**8


def _opt(name: str, value: str = "...") -> str:
    """How a user sets option ``name``: its CLI flag, or ``--option name=value``, and the Python name."""
    if name in _FLAGGED:
        return option(name)
    return (
        f"--option {name}={value} ({name}={value} in Python)"
        if value != "..."
        else f"--option {name}=... ({name} in Python)"
    )


def chain_modes(n: np.ndarray) -> list[dict[str, Any]]:
    """Group chains (rows of ``n``) whose medians of N agree: sorted by median, a new group starts
    where the next median exceeds the last by more than ``MODE_RATIO`` and by more than
    ``MODE_MCSE`` Monte Carlo standard errors of the difference (each chain's own, from its ESS).
    One group when chains agree; each group gives its location (median of its draws), chains and
    share of the draws."""
    n = np.asarray(n, dtype=float)
    med = [float(np.median(row)) for row in n]
    se = [float(mcse_quantile(row[None, :], 0.5)) if row.size >= 20 else math.inf for row in n]
    order = sorted(range(len(med)), key=lambda i: med[i])
    groups: list[list[int]] = []
    for i in order:
        if groups:
            last = groups[-1][-1]
            gap = med[i] - med[last]
            if not (med[i] > MODE_RATIO * med[last] and gap > MODE_MCSE * math.hypot(se[i], se[last])):
                groups[-1].append(i)
                continue
        groups.append([i])
    total = n.size
    return [
        {
            "median": float(np.median(n[g].ravel())),
            "chains": sorted(g),
            "share": float(n[g].size / total),
        }
        for g in groups
    ]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__} of {len(text)} characters"


def _chain_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class LCMCR:
    """Bayesian latent-class capture–recapture (Manrique-Vallier 2016).

    Settings: ``max_classes`` (K*, truncation of the Dirichlet process; default 10 as R LCMCR),
    ``a_alpha``/``b_alpha`` (Gamma prior of the concentration; 0.25/0.25 as R), ``preset``
    (``"default"`` or ``"hrdag"``: K* = min(2^J-1, 15)), ``chains`` (4), ``samples`` kept per chain
    (1000), ``burn_in`` sweeps per chain (10000), ``thin`` (20), ``scale_moves`` per sweep (1),
    ``swap_moves`` label swaps per sweep (2), ``hmc_steps`` leapfrog steps of one Hamiltonian
    trajectory every ``hmc_every`` sweeps (8; steps default to 40 on tables of at most 500
    observed patterns × lists, off above: :meth:`resolved_hmc_steps`) and ``collapsed_moves``
    (Metropolis sweeps on the unobserved counts; 0) — all four 0 is the paper's plain Gibbs sampler,
    ``temperatures`` replicas per chain for data tempering (1 = off) down to data scale ``hottest``
    (0.25), ``init`` (``"alternate"``, the default: even chains start crowded (all classes), odd
    chains sparse (few), over-dispersed so that chains that settle in different modes say so;
    ``"crowded"``; ``"sparse"``), ``n_cap_factor`` (None: the prior p(N) ∝ 1/N as the paper and
    its documentation state; a number c >= 1: N ≤ c·n, R LCMCR's undocumented cap being 20),
    ``workers`` (threads; default one per core up to ``chains``), ``alpha`` (a fixed concentration
    instead of its prior), ``level`` of the reported interval.
    """

    max_classes: int | None = None
    a_alpha: float | None = None
    b_alpha: float | None = None
    preset: str = "default"
    chains: int = 4
    samples: int = 1000
    burn_in: int = 10000
    thin: int = 20
    collapsed_moves: int = 0
    scale_moves: int = 1
    swap_moves: int = 2
    hmc_steps: int | None = None
    hmc_every: int = 8
    temperatures: int = 1
    hottest: float = 0.25
    init: str = "alternate"
    workers: int | None = None
    alpha: float | None = None
    n_cap_factor: float | None = None
    level: float = 0.95

    min_lists: ClassVar[int] = 3
    max_lists: ClassVar[int] = MAX_LISTS
    lists_limit_reason: ClassVar[str] = (
        f"the sampler works on observed patterns, but the capture-history table it reads holds all "
        f"2^K patterns (128 MiB at {MAX_LISTS} lists)"
    )

    def __post_init__(self) -> None:
        problems: list[str | None] = [specs.choice("preset", self.preset, PRESETS)]
        base = PRESETS.get(self.preset, PRESETS["default"]) if isinstance(self.preset, str) else PRESETS["default"]
        for name in ("max_classes", "a_alpha", "b_alpha"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, base[name])
        problems += [
            specs.positive("a_alpha", self.a_alpha, what="shape of the Gamma prior of the concentration"),
            specs.positive("b_alpha", self.b_alpha, what="rate of the Gamma prior of the concentration"),
            specs.positive("alpha", self.alpha, optional=True, what="a fixed concentration"),
            specs.level("level", self.level),
            specs.choice("init", self.init, ("alternate", "crowded", "sparse")),
        ]
        if not (specs.is_number(self.hottest) and 0 < self.hottest < 1):
            problems.append(
                f"hottest (data scale of the hottest tempered replica) must be a number between 0 and 1, "
                f"got {_shown(self.hottest)}"
            )
        if self.n_cap_factor is not None and not (specs.is_number(self.n_cap_factor) and 1 <= self.n_cap_factor <= 1e6):
            problems.append(
                "n_cap_factor (N at most this many times the observed) must be a number from 1 to 1,000,000 "
                f"(R LCMCR's undocumented cap is 21), got {_shown(self.n_cap_factor)}"
            )
        optional = {"max_classes", "hmc_steps", "workers"}
        for name, low in _COUNTS.items():
            value = getattr(self, name)
            found = specs.whole(name, value, low, optional=name in optional)
            if found is None and value is not None and value > _COUNT_LIMIT.get(name, MAX_COUNT):
                high = _COUNT_LIMIT.get(name, MAX_COUNT)
                found = f"{name} must be a whole number from {low} to {high:,}, got {_shown(value)}"
            problems.append(found)
        counted = specs.whole("chains", self.chains, 1) is None and specs.whole("samples", self.samples, 10) is None
        if counted and self.chains * self.samples > MAX_DRAWS:
            problems.append(
                f"samples × chains (draws of N kept in memory) must be at most {MAX_DRAWS:,}, got "
                f"{self.samples:,} × {self.chains:,}; keep fewer samples and raise thin instead"
            )
        specs.raise_problems(*problems)
        for name in _COUNTS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, int(value))
        for name in ("a_alpha", "b_alpha", "hottest", "level"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("alpha", "n_cap_factor"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    def settings(self, k_lists: int) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "max_classes": self._classes(k_lists),
            "a_alpha": self.a_alpha,
            "b_alpha": self.b_alpha,
            "alpha_fixed": self.alpha,
            "chains": self.chains,
            "samples": self.samples,
            "burn_in": self.burn_in,
            "thin": self.thin,
            "collapsed_moves": self.collapsed_moves,
            "scale_moves": self.scale_moves,
            "swap_moves": self.swap_moves,
            "hmc_steps": self.hmc_steps,
            "hmc_every": self.hmc_every,
            "temperatures": self.temperatures,
            "init": self.init,
            "hottest": self.hottest if self.temperatures > 1 else None,
            "n_cap_factor": self.n_cap_factor,
            "prior_N": "1/N",
            "level": self.level,
        }

    def resolved_hmc_steps(self, histories: CaptureHistories) -> int:
        """Leapfrog steps of the Hamiltonian move: ``hmc_steps`` if set, else ``HMC_STEPS`` when
        a leapfrog step is cheap against a sweep (observed patterns × lists ≤ ``HMC_MAX_WORK``: all
        the reference tables, 56–152) and 0 (off) on larger tables, where a step costs a large share
        of a sweep (20-list Colombia stratum: 2,060; the move there multiplied the time 2.4× and did
        not resolve its modes; docs/notes/issue-3.md)."""
        if self.hmc_steps is not None:
            return self.hmc_steps
        work = len(histories.masks()) * histories.n_lists  # observed patterns × lists
        return HMC_STEPS if work <= HMC_MAX_WORK else 0

    def _crowded(self, index: int) -> bool:
        """Start of chain ``index``: even chains crowded (all classes), odd chains sparse (few)."""
        if self.init == "alternate":
            return index % 2 == 0
        return self.init == "crowded"

    def _classes(self, k_lists: int) -> int:
        return int(self.max_classes) if self.max_classes is not None else hrdag_classes(k_lists)

    def sample(self, histories: CaptureHistories, rng: Any = None) -> dict[str, Any]:
        """Run the chains; returns the draws of N (chains × samples) and sampler statistics."""
        require_usable(
            histories,
            "lcmcr",
            min_lists=3,
            alternatives="with 2 lists a latent-class model is not identifiable: use 'chapman' or 'petersen'",
        )
        from cifranegra.estimation.lcmcr_kernels import run_chain

        masks = histories.masks()
        patterns = np.ascontiguousarray(histories.pattern_matrix()).astype(np.int8)
        pcounts = histories.counts[masks].astype(np.int64)
        # data tempering ladder: replica r sees the counts scaled by hottest^(r / (R - 1))
        rows = [pcounts]
        for r in range(1, self.temperatures):
            scale = self.hottest ** (r / (self.temperatures - 1))
            rows.append(np.round(pcounts * scale).astype(np.int64))
        counts = np.ascontiguousarray(np.stack(rows))
        k = self._classes(histories.n_lists)
        root = as_seed_sequence(rng)
        seeds = [_chain_seed(s) for s in spawn_seeds(root, self.chains)]
        alpha_fixed = float(self.alpha) if self.alpha is not None else 0.0
        hmc_steps = self.resolved_hmc_steps(histories)

        a_alpha, b_alpha = float(self.a_alpha or 0.0), float(self.b_alpha or 0.0)  # resolved at init

        def one(task: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            index, seed = task
            return run_chain(
                patterns,
                counts,
                k,
                a_alpha,
                b_alpha,
                self.burn_in,
                self.samples,
                self.thin,
                seed,
                alpha_fixed,
                self.collapsed_moves,
                self._crowded(index),
                self.scale_moves,
                self.swap_moves,
                hmc_steps,
                self.hmc_every,
                float(self.n_cap_factor or 0.0),
            )

        workers = self.workers or max(1, min(self.chains, os.cpu_count() or 1))
        t0 = time.perf_counter()
        try:
            if workers == 1 or self.chains == 1:
                out = [one(t) for t in enumerate(seeds)]
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    out = list(pool.map(one, enumerate(seeds)))
        except (ZeroDivisionError, OverflowError, FloatingPointError) as exc:
            # the compiled sampler's arithmetic failed (seen on tables of millions of people)
            raise ModelError(
                f"the LCMCR sampler failed numerically ({_ARITHMETIC.get(type(exc), 'arithmetic error')}) on "
                f"{histories.source or 'this table'} ({histories.observed:,} people observed); this is a "
                "defect of the sampler, not of the data: use --method loglinear, sample-coverage or dga, "
                "and report it with the seed"
            ) from None
        elapsed = time.perf_counter() - t0
        return {
            "n": np.stack([o[0] for o in out]).astype(float),
            "alpha": np.stack([o[1] for o in out]),
            "occupied": np.stack([o[2] for o in out]),
            "acceptance": [float(o[3][0]) for o in out],
            "swap_rate": [float(o[3][1]) for o in out],
            "scale_acceptance": [float(o[3][2]) for o in out],
            "label_swap_acceptance": [float(o[3][3]) for o in out],
            "hmc_acceptance": [float(o[3][4]) for o in out],
            "hmc_step": [float(o[3][5]) for o in out],
            "elapsed_s": elapsed,
            "classes": k,
            "hmc_steps": hmc_steps,
            "entropy": root.entropy,
            "spawn_key": tuple(int(x) for x in root.spawn_key),
            "workers": workers,
        }

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        s = self.sample(histories, rng)
        n = s["n"]
        flat = n.ravel()
        median = float(np.median(flat))
        r = rhat(n) if self.chains > 1 else math.nan
        e_bulk = ess(n)
        e_tail = ess_tail(n)
        chain_medians = [float(x) for x in np.median(n, axis=1)]
        modes = chain_modes(n) if self.chains > 1 else []
        warns: list[str] = []
        if self.chains > 1 and r > RHAT_THRESHOLD:
            warns.append(
                f"R-hat of N is {r:.3f} (> {RHAT_THRESHOLD}): the chains have not converged to one "
                "distribution; run longer chains (--burn-in, --samples, --thin; burn_in=, samples=, thin= "
                "in Python) before using this estimate"
            )
        if len(modes) > 1:
            warns.append(
                f"chains started apart disagree: they sit in {len(modes)} modes of N: "
                + "; ".join(
                    f"N ≈ {m['median']:,.0f} ({len(m['chains'])} of {self.chains} chains, {m['share']:.0%} of draws)"
                    for m in modes
                )
                + ". The posterior is multimodal or the sampler is stuck, and the shares are those of the "
                f"chains, not the modes' posterior mass; run data-tempered chains ({_opt('temperatures')}, "
                "e.g. 4) with more --chains and a longer --burn-in, compare with other model families "
                "(cifranegra compare), and do not publish one number from this fit"
            )
        r_cap = R_CAP_FACTOR * histories.observed
        above_r_cap = float(np.mean(flat > r_cap))
        if self.n_cap_factor is None and above_r_cap > R_CAP_WARN:
            warns.append(
                f"{above_r_cap:.1%} of the posterior of N lies above {r_cap:,.0f} (21 × the observed), "
                "where R LCMCR silently caps N (it redraws the unseen count until it is at most 20 × the "
                f"observed): R's interval would end lower; {_opt('n_cap_factor', '21')} reproduces it"
            )
        if e_bulk < 100 * self.chains / 4:
            warns.append(
                f"effective sample size of N is only {e_bulk:.0f}; increase --samples or --thin "
                "(samples=, thin= in Python)"
            )
        occ_max = int(s["occupied"].max())
        if float(s["occupied"].mean()) >= s["classes"] - 0.5:
            warns.append(
                f"nearly all {s['classes']} latent classes are in use: the truncation binds, raise "
                f"{_opt('max_classes')}"
            )
        levels = [
            self.level,
            *[lv for lv in (0.5, 0.8, 0.9, 0.95, 0.99) if abs(lv - self.level) > 1e-12],
        ]
        intervals = tuple(Interval(*percentile_interval(flat, lv), lv, "posterior") for lv in levels)
        # an integer seed reproduces the run; a spawned seed sequence (e.g. from compare) is recorded as
        # entropy + spawn key in the settings instead
        plain_seed = isinstance(s["entropy"], (int, np.integer)) and not s["spawn_key"]
        seed = int(s["entropy"]) if plain_seed else None
        return EstimateResult(
            method="lcmcr",
            estimate=median,
            observed=histories.observed,
            lists=histories.lists,
            model=f"latent classes (truncated Dirichlet process, K*={s['classes']})",
            intervals=intervals,
            settings={
                **self.settings(histories.n_lists),
                "hmc_steps": s["hmc_steps"],
                "seed_entropy": s["entropy"],
                "seed_spawn_key": list(s["spawn_key"]),
            },
            diagnostics={
                "rhat": r,
                "ess_bulk": e_bulk,
                "ess_tail": e_tail,
                "mcse_median": mcse_quantile(n, 0.5),
                "chain_medians": chain_medians,
                "modes": modes,
                "n_cap": math.floor(self.n_cap_factor * histories.observed) if self.n_cap_factor else None,
                "r_cap": r_cap,
                "share_above_r_cap": above_r_cap,
                "acceptance_collapsed": s["acceptance"],
                "acceptance_scale": s["scale_acceptance"] if self.scale_moves > 0 else None,
                "acceptance_label_swap": s["label_swap_acceptance"] if self.swap_moves > 0 else None,
                "acceptance_hmc": s["hmc_acceptance"] if s["hmc_steps"] > 0 else None,
                "hmc_step_size": s["hmc_step"] if s["hmc_steps"] > 0 else None,
                "swap_rate": s["swap_rate"] if self.temperatures > 1 else None,
                "elapsed_s": s["elapsed_s"],
                "ess_per_second": e_bulk / s["elapsed_s"] if s["elapsed_s"] > 0 else math.nan,
                "workers": s["workers"],
                "alpha_mean": float(s["alpha"].mean()),
                "occupied_classes_mean": float(s["occupied"].mean()),
                "occupied_classes_max": occ_max,
            },
            details={"posterior_mean": float(flat.mean()), "posterior_sd": float(flat.std(ddof=1))},
            draws=tuple(float(x) for x in flat),
            interval_method="posterior",
            seed=seed,
            input_fingerprint=histories.fingerprint(),
            warnings=tuple(warns),
        )
