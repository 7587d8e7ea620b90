"""Benchmark the Bayesian families against R's measured figures.

    /work/venv/bin/python bench/bench_bayes.py --only lcmcr      # ESS of N per CPU s, ours vs R (~1-2 min)
    /work/venv/bin/python bench/bench_bayes.py --only lcmcr --seeds 1 2 3 4 5
    /work/venv/bin/python bench/bench_bayes.py --only dga
    /work/venv/bin/python bench/bench_bayes.py --only sweep      # CPU microseconds per Gibbs sweep
    /work/venv/bin/python bench/bench_bayes.py --only iat        # autocorrelation times, plain vs default (long)

LCMCR (``--only lcmcr``): effective draws of N per CPU second of our default sampler against R
LCMCR's **measured** ones, on every public table of bench/reference/r_lcmcr_ess.csv (R LCMCR 0.4.14,
K = 10, a_alpha = b_alpha = 0.25, seed 12345, 1.1 M sweeps: coda effective size of N, R's CPU
seconds). Ours: the default fit (4 chains x 1,000 draws, burn-in 10,000, thin 20, scale moves, label
swaps, Hamiltonian trajectories) in this process after one compiling fit, its bulk effective sample
size of N (rank-normalized, Vehtari et al. 2021) over its CPU seconds (process time, all threads),
pooled over ``--seeds`` (sum of ESS / sum of CPU s; the range over seeds beside it). Both columns
are measured, ours in this run; R's ESS estimator (coda's spectral one on a single chain) and ours
(split-chain, rank-normalized) differ, and coda's can overstate a slowly drifting chain. Whole
processes (start-up included) are bench/bench_process.py's.

``--only iat``: integrated autocorrelation times of N of our plain sampler (the paper's, R's
algorithm) and our default, in sweeps, from ``--iat-chains`` chains x ``--iat-sweeps`` sweeps: what
the added moves buy per sweep; a model, not the comparison with R.

dga: our time next to R dga's (bma.cr) for the same tables (tests/reference/reference_estimates.csv).
"""

from __future__ import annotations

import argparse
import itertools
import math
import pathlib
import time
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.estimation.dga import DGA
from cifranegra.estimation.diagnostics import ess
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.lcmcr import LCMCR
from cifranegra.estimation.result import EstimateResult, Interval

ROOT = pathlib.Path(__file__).resolve().parents[1]
REF = pd.read_csv(ROOT / "tests" / "reference" / "reference_estimates.csv")


def ci(res: EstimateResult) -> Interval:
    iv = res.interval(0.95)
    assert iv is not None
    return iv


def load(name: str) -> CaptureHistories:
    with (resources.files("cifranegra.datasets") / "data" / name).open() as fh:
        return CaptureHistories.from_frame(pd.read_csv(fh), source=name)


#: the paper's plain Gibbs sampler (R LCMCR's algorithm): every added move off
PLAIN: dict[str, int] = {"collapsed_moves": 0, "scale_moves": 0, "swap_moves": 0, "hmc_steps": 0}
#: scale moves only (the default of an earlier version)
SCALE_ONLY: dict[str, int] = {"swap_moves": 0, "hmc_steps": 0}


def chain_tau(
    h: CaptureHistories,
    seed: int,
    moves: dict[str, int],
    chains: int = 16,
    sweeps: int = 400_000,
) -> tuple[float, float, float, float]:
    """Within-chain integrated autocorrelation time of N, in sweeps, its relative standard error,
    and CPU and wall microseconds per sweep: ``chains`` chains of ``sweeps`` post-burn-in sweeps each
    (burn-in 10,000, thinned by 5; the chains run in parallel threads, as in a default fit); IAT =
    total sweeps / sum of the chains' own bulk ESS; the standard error is that of the mean per-chain
    ESS (chains are independent). ``moves`` are LCMCR settings (``PLAIN``: the paper's plain Gibbs
    sampler, the algorithm of R LCMCR; ``{}``: our defaults)."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = LCMCR(
        chains=chains,
        samples=sweeps // 5,
        burn_in=10_000,
        thin=5,
        **moves,
    ).fit(h, rng=seed)
    us = (time.process_time() - c0) / (chains * (sweeps + 10_000)) * 1e6
    us_wall = (time.perf_counter() - t0) / (chains * (sweeps + 10_000)) * 1e6
    n = np.asarray(res.draws).reshape(chains, -1)
    each = np.array([max(float(ess(n[i : i + 1])), 1.0) for i in range(chains)])
    rel_se = float(each.std(ddof=1) / math.sqrt(chains) / each.mean())
    return chains * sweeps / float(each.sum()), rel_se, us, us_wall


def sweep_cost(h: CaptureHistories, moves: dict[str, int], sweeps: int = 20_000, reps: int = 3) -> float:
    """CPU microseconds per sweep (K* = 10, one chain, best of ``reps``; process time), the
    Hamiltonian trajectories (one every ``hmc_every`` sweeps) included."""
    from cifranegra.estimation.lcmcr_kernels import run_chain

    m = LCMCR(**moves)
    args = (m.collapsed_moves, False, m.scale_moves, m.swap_moves, m.resolved_hmc_steps(h), m.hmc_every)
    pat = np.ascontiguousarray(h.pattern_matrix()).astype(np.int8)
    counts = np.ascontiguousarray(h.counts[h.masks()].astype(np.int64)[None, :])
    run_chain(pat, counts, 10, 0.25, 0.25, 10, 10, 1, 1, 0.0, *args)  # compile
    best = math.inf
    for rep in range(reps):
        c0 = time.process_time()
        run_chain(pat, counts, 10, 0.25, 0.25, 1000, sweeps, 1, 11 + rep, 0.0, *args)
        best = min(best, (time.process_time() - c0) / (sweeps + 1000) * 1e6)
    return best


def r_lcmcr_measured() -> pd.DataFrame:
    """R LCMCR's measured effective sample size of N and seconds on the public tables
    (bench/reference/r_lcmcr_ess.csv; source in bench/reference/SOURCES.md), one row per table."""
    return pd.read_csv(ROOT / "bench" / "reference" / "r_lcmcr_ess.csv").set_index("dataset")


def bench_sweep() -> None:
    """CPU microseconds per sweep of our three samplers against R LCMCR's measured CPU seconds per
    iteration (r_lcmcr_ess.csv: CPU seconds / 1.1 M sweeps)."""
    ref = r_lcmcr_measured()
    print("\n## LCMCR: CPU microseconds per sweep (K*=10; best of 3 x 21,000 sweeps, process time)\n")
    print(
        "| table | K | patterns | observed | plain (R's algorithm) | scale moves only "
        "| default (scale, 2 swaps, HMC 40 steps / 8 sweeps) | R CPU us / iteration |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in ref.iterrows():
        h = load(f"{name}.csv")
        print(
            f"| {name} | {h.n_lists} | {h.pattern_matrix().shape[0]} | {h.observed} "
            f"| {sweep_cost(h, PLAIN):.1f} | {sweep_cost(h, SCALE_ONLY):.1f} | {sweep_cost(h, {}):.1f} "
            f"| {r['cpu_s'] / 1.1:.1f} |",
            flush=True,
        )


def bench_ess(seeds: list[int]) -> None:
    """Effective draws of N per CPU second: our default LCMCR (4 chains x 1,000 draws, burn-in
    10,000, thin 20, every default move; in process, after one compiling fit) against R LCMCR's
    measured ones (coda effective size of N over its 1.1 M sweeps / R's CPU seconds), each public
    table of r_lcmcr_ess.csv, all in this one run. Ours is pooled over ``seeds`` (sum of bulk ESS /
    sum of CPU seconds, process time of all threads), with the range over seeds, because one default
    run's ESS moves between seeds on the slowly mixing tables."""
    ref = r_lcmcr_measured()
    LCMCR(chains=1, samples=10, burn_in=10, thin=1).fit(load(ref.index[0] + ".csv"), rng=0)  # compile
    print(
        f"\n## LCMCR: effective draws of N per CPU second, ours (default, seeds {', '.join(map(str, seeds))}) "
        "against R LCMCR's measured ones (bench/reference/r_lcmcr_ess.csv)\n"
    )
    print(
        "| table | K | n | R median [95%] | ours median [95%] (first seed) | R-hat (max) | ours ESS (per seed) "
        "| ours CPU s (per seed) | ours ESS/CPU s (range) | R ESS | R CPU s | R ESS/CPU s | ours / R |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in ref.iterrows():
        h = load(f"{name}.csv")
        ess_s, cpu_s, rhats = [], [], []
        first: EstimateResult | None = None
        for seed in seeds:
            c0 = time.process_time()
            res = LCMCR().fit(h, rng=seed)
            cpu_s.append(time.process_time() - c0)
            ess_s.append(float(res.diagnostics["ess_bulk"]))
            rhats.append(float(res.diagnostics["rhat"]))
            first = first or res
        assert first is not None
        iv = ci(first)
        ours = sum(ess_s) / sum(cpu_s)
        each = [e / c for e, c in zip(ess_s, cpu_s, strict=True)]
        print(
            f"| {name} | {h.n_lists} | {h.observed:,} "
            f"| {r['median']:,.0f} [{r['lower95']:,.0f}, {r['upper95']:,.0f}] "
            f"| {first.estimate:,.0f} [{iv.lower:,.0f}, {iv.upper:,.0f}] | {max(rhats):.3f} "
            f"| {', '.join(f'{e:.0f}' for e in ess_s)} | {', '.join(f'{c:.1f}' for c in cpu_s)} "
            f"| {ours:,.0f} ({min(each):,.0f}-{max(each):,.0f}) "
            f"| {r['ess_N']:,.0f} | {r['cpu_s']:.1f} | {r['ess_per_cpu_s']:,.0f} | {ours / r['ess_per_cpu_s']:.1f}x |",
            flush=True,
        )


def bench_iat(seed: int, iat_chains: int, iat_sweeps: int) -> None:
    """Integrated autocorrelation times of N, our plain sampler (R's algorithm) against our default:
    what each move buys per sweep. A model of R's speed, not a measurement of it: the comparison with
    R is :func:`bench_ess`."""
    rows = REF[REF["source"].str.startswith("R LCMCR")]
    LCMCR(chains=1, samples=10, burn_in=10, thin=1).fit(load(rows.iloc[0]["file"]), rng=0)  # compile
    print(
        f"\n## LCMCR: integrated autocorrelation time of N ({iat_chains} chains x {iat_sweeps:,} sweeps each, "
        f"seed {seed}; ± = relative standard error over chains)\n"
    )
    print(
        "| table | IAT plain (sweeps) | plain CPU us/sweep | IAT default | default CPU us/sweep "
        "| default wall us/sweep |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows.to_dict(orient="records"):
        h = load(r["file"])
        tau_plain, se_plain, us_plain, _ = chain_tau(h, seed, PLAIN, iat_chains, iat_sweeps)
        tau_ours, se_ours, us_ours, us_wall = chain_tau(h, seed, {}, iat_chains, iat_sweeps)
        print(
            f"| {r['file']} | {tau_plain:.0f} ±{se_plain:.0%} | {us_plain:.1f} | {tau_ours:.0f} ±{se_ours:.0%} "
            f"| {us_ours:.1f} | {us_wall:.1f} |",
            flush=True,
        )


def bench_colombia(seed: int) -> None:
    name = "colombia_reclutamiento_hombre_1999_verdata_R1.csv"
    h = load(name)
    print(f"\n## Colombia, 20 lists, {h.observed} people (HRDAG verdata: 2068 [1396, 3061])\n")
    for preset in ("hrdag", "default"):
        c0 = time.process_time()
        res = LCMCR(preset=preset).fit(h, rng=seed)
        cpu = time.process_time() - c0
        d = res.diagnostics
        iv = ci(res)
        print(
            f"- preset {preset}: {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}], "
            f"R-hat {d['rhat']:.3f}, "
            f"ESS {d['ess_bulk']:.0f}, wall {d['elapsed_s']:.1f} s, CPU {cpu:.1f} s, chain medians "
            + ", ".join(f"{x:.0f}" for x in d["chain_medians"])
        )


def bench_netherlands(seed: int) -> None:
    """What the chains do on the Netherlands table: modes, switches between them, R-hat."""
    h = load("SparseMSE_Ned.csv")
    print("\n## Netherlands (R LCMCR seeds: 144176 / 144019 / 54307 / 143857)\n")
    print(
        "| sampler | chains | median [95%] | R-hat | modes (median, chains) | mode switches per chain "
        "| share of draws < 90,000 |"
    )
    print("|---|---|---|---|---|---|---|")
    configs: list[tuple[str, dict[str, Any]]] = [
        ("plain Gibbs (R's algorithm)", {**PLAIN, "chains": 8}),
        ("collapsed moves (session 1-2 default)", {**PLAIN, "collapsed_moves": 1, "chains": 8}),
        ("scale moves only (session 3 default)", {**SCALE_ONLY, "chains": 8}),
        ("default (scale, label swaps, HMC)", {"chains": 8}),
        (
            "plain + tempering (6 replicas, hottest 0.05)",
            {**PLAIN, "chains": 8, "temperatures": 6, "hottest": 0.05, "burn_in": 5000},
        ),
        (
            "scale moves only + tempering",
            {**SCALE_ONLY, "chains": 8, "temperatures": 6, "hottest": 0.05, "burn_in": 5000},
        ),
        (
            "default + tempering (6 replicas, hottest 0.05)",
            {"chains": 8, "temperatures": 6, "hottest": 0.05, "burn_in": 5000},
        ),
        (
            "default + tempering, K*=5",
            {"chains": 8, "temperatures": 6, "hottest": 0.05, "burn_in": 5000, "max_classes": 5},
        ),
    ]
    for label, kw in configs:
        res = LCMCR(**kw).fit(h, rng=seed)
        d = res.diagnostics
        n = np.asarray(res.draws).reshape(kw["chains"], -1)
        low = n < 90000
        switches = [int((np.diff(c.astype(int)) != 0).sum()) for c in low]
        iv = ci(res)
        modes = ", ".join(f"({m['median']:.0f}, {len(m['chains'])})" for m in d["modes"])
        print(
            f"| {label} | {kw['chains']} | {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] "
            f"| {d['rhat']:.2f} | {modes} | {switches} | {low.mean():.3f} |"
        )


def bench_netherlands_alpha(seed: int) -> None:
    """Netherlands with alpha held fixed: each sampler's chains (4, alternating crowded/sparse starts)."""
    h = load("SparseMSE_Ned.csv")
    print("\n## Netherlands, alpha fixed (4 chains x 2,000 draws, thin 10, burn-in 5,000)\n")
    print("| alpha | sampler | 10/50/90% quantiles | R-hat | chain medians | share < 90,000 |")
    print("|---|---|---|---|---|---|")
    samplers: list[tuple[str, dict[str, int]]] = [
        ("plain", PLAIN),
        ("scale only", SCALE_ONLY),
        ("plain + swaps", {**PLAIN, "swap_moves": 2}),
        ("plain + HMC", {**PLAIN, "hmc_steps": 40}),
        ("default", {}),
    ]
    for a in (26.0, 3.0, 0.3):
        for label, m in samplers:
            res = LCMCR(alpha=a, chains=4, samples=2000, burn_in=5000, thin=10, init="alternate", **m).fit(h, rng=seed)
            n = np.asarray(res.draws).reshape(4, -1)
            q = ", ".join(f"{x:,.0f}" for x in np.quantile(n, [0.1, 0.5, 0.9]))
            meds = ", ".join(f"{x:,.0f}" for x in res.diagnostics["chain_medians"])
            rh = res.diagnostics["rhat"]
            print(f"| {a} | {label} | {q} | {rh:.2f} | {meds} | {(n < 90000).mean():.3f} |", flush=True)


def bench_tuning(seed: int) -> None:
    """Cost per effective draw of N (CPU µs) for a few Hamiltonian settings (16 chains x 200,000 sweeps)."""
    print("\n## LCMCR: Hamiltonian settings (CPU us per effective draw of N; 16 chains x 200,000 sweeps)\n")
    configs: list[dict[str, int]] = [
        {},
        {"hmc_every": 16},
        {"hmc_steps": 80, "hmc_every": 16},
        {"hmc_steps": 20, "hmc_every": 8},
    ]
    print("| table | " + " | ".join(str(c or "default (40 steps / 8 sweeps)") for c in configs) + " |")
    print("|---" * (len(configs) + 1) + "|")
    tables = ("modslavmse_UKdat_4.csv", "MultipleSystemsEstimation_Kosovo.csv", "MultipleSystemsEstimation_Korea.csv")
    for name in tables:
        h = load(name)
        cells = []
        for m in configs:
            tau, se, us, _ = chain_tau(h, seed, m, 16, 200_000)
            cells.append(f"{tau * us:.0f} (IAT {tau:.1f} ±{se:.0%}, {us:.1f} us)")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def bench_dga() -> None:
    rows = REF[REF["source"].str.startswith("R dga")]
    print("\n## dga\n")
    print("| table | K | graphs | R median [95%] | ours median [95%] | R s | ours s |")
    print("|---|---|---|---|---|---|---|")
    DGA().fit(load("conting_spina.csv"))  # compile
    for r in rows.to_dict(orient="records"):
        h = load(r["file"])
        try:
            t0 = time.perf_counter()
            res = DGA().fit(h)
            el = time.perf_counter() - t0
        except Exception as exc:  # report and go on
            print(f"| {r['file']} | {h.n_lists} | - | - | {type(exc).__name__}: {exc} | - | - |")
            continue
        iv = ci(res)
        rtxt = "n/a" if pd.isna(r["estimate"]) else f"{r['estimate']:.0f} [{r['lower']:.0f}, {r['upper']:.0f}]"
        rs = "n/a" if pd.isna(r["elapsed_s"]) else f"{r['elapsed_s']:.3f}"
        print(
            f"| {r['file']} | {h.n_lists} | {res.diagnostics['n_graphs']} | {rtxt} "
            f"| {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] | {rs} | {el:.3f} |"
        )
    for name, keep in (
        ("colombia_reclutamiento_hombre_1999_verdata_R1.csv", 7),
        ("SparseMSE_NewOrl.csv", 7),
    ):
        h = load(name)
        top = list(h.list_sizes().sort_values().index[-keep:])
        h7 = h.select_lists(top)
        t0 = time.perf_counter()
        res = DGA().fit(h7)
        el = time.perf_counter() - t0
        iv = ci(res)
        print(
            f"| {name} (largest {keep} lists) | 7 | {res.diagnostics['n_graphs']} "
            "| n/a (R: 3-5 lists) "
            f"| {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] | n/a | {el:.2f} |"
        )


def latent_class_mle(h: CaptureHistories, k: int, rng: np.random.Generator, iters: int = 20_000) -> tuple[float, float]:
    """One EM run of the k-class latent class model with the unseen count as missing data (each
    E-step fills the all-zero cell with n p0 / (1 - p0)); returns the conditional log-likelihood of
    the observed patterns, sum n_h log(p_h / (1 - p0)), and N = n / (1 - p0) at convergence."""
    x = h.pattern_matrix().astype(float)
    n_h = h.counts[h.masks()].astype(float)
    n = n_h.sum()
    x0 = np.vstack([np.zeros(x.shape[1]), x])
    pi = rng.dirichlet(np.ones(k))
    lam = rng.uniform(0.02, 0.6, (k, x.shape[1]))
    prev, ll, n0 = -np.inf, -np.inf, 0.0
    for it in range(iters):
        lp = np.log(pi)[None, :] + x0 @ np.log(lam).T + (1 - x0) @ np.log1p(-lam).T
        top = lp.max(1, keepdims=True)
        w = np.exp(lp - top)
        p_pattern = w.sum(1) * np.exp(top[:, 0])
        p0 = p_pattern[0]
        ll = float((n_h * np.log(p_pattern[1:] / (1 - p0))).sum())
        n0 = n * p0 / (1 - p0)
        resp = w / w.sum(1, keepdims=True) * np.concatenate([[n0], n_h])[:, None]
        nk = resp.sum(0)
        pi = np.clip(nk / nk.sum(), 1e-300, None)
        lam = np.clip((resp.T @ x0) / nk[:, None], 1e-12, 1 - 1e-12)
        if ll - prev < 1e-10 and it > 50:
            break
        prev = ll
    return ll, n + n0


def bench_netherlands_em(seed: int, starts: int = 150) -> None:
    """Where the Netherlands likelihood puts N, class by class: the best EM fit of the k-class latent
    class model (``starts`` random starts) overall and within bands of N, with BIC (d = k lists + k - 1)."""
    h = load("SparseMSE_Ned.csv")
    rng = np.random.default_rng(seed)
    bands = (0, 20_000, 40_000, 70_000, 120_000, 200_000, math.inf)
    print(f"\n## Netherlands: latent class maximum likelihood by number of classes ({starts} EM starts, seed {seed})\n")
    print("| classes | best log-likelihood | N there | BIC | best within bands of N (starts ending there) |")
    print("|---|---:|---:|---:|---|")
    for k in range(1, 6):
        fits = [latent_class_mle(h, k, rng) for _ in range(1 if k == 1 else starts)]
        ll, n_at = max(fits)
        bic = -2 * ll + (k * h.n_lists + k - 1) * math.log(h.observed)
        cells = []
        for lo, hi in itertools.pairwise(bands):
            inside = [f for f in fits if lo <= f[1] < hi]
            if inside:
                b = max(inside)
                cells.append(f"[{lo / 1000:.0f}k, {hi / 1000:.0f}k): {b[0]:,.1f} at {b[1]:,.0f} ({len(inside)})")
        print(f"| {k} | {ll:,.1f} | {n_at:,.0f} | {bic:,.1f} | " + "; ".join(cells) + " |", flush=True)


def capped_shares(
    h: CaptureHistories, below: int, cap: int | None, seed: int, samples: int, **moves: int
) -> np.ndarray:
    """Per chain, the share of draws of N at most ``below`` in a default LCMCR run (8 chains,
    ``samples`` draws thinned by 20 after 10,000 sweeps) whose prior on N is truncated at ``cap``."""
    factor = cap / h.observed if cap else None
    n = LCMCR(chains=8, samples=samples, thin=20, burn_in=10_000, n_cap_factor=factor, **moves).sample(h, rng=seed)["n"]
    return np.asarray((n <= below).mean(axis=1))


def netherlands_low_mass(
    seed: int, samples: int = 2000, steps: tuple[int, ...] = (90_000, 110_000, 130_000), **moves: int
) -> dict[str, Any]:
    """Posterior mass of the Netherlands' low region, N <= steps[0], by a bridge over caps on N.

    P(N <= s_0) = P(N <= s_0 | N <= s_1) · P(N <= s_1 | N <= s_2) · … · P(N <= s_last), each factor the
    share of draws of a default LCMCR run (8 chains, ``samples`` draws thinned by 20 after 10,000
    sweeps) whose prior on N is truncated at the next step (``n_cap_factor``; exact truncation, see
    'R's cap on N'). Each capped posterior has its low region next to a slice of the main one, so
    chains can cross and agree where an uncapped run never visits; returns the factors, the chains'
    shares for each and the product. ``moves``: other sampler options (e.g. PLAIN's)."""
    h = load("SparseMSE_Ned.csv")
    caps: list[int | None] = [*steps[1:], None]
    shares = [capped_shares(h, below, cap, seed, samples, **moves) for below, cap in zip(steps, caps, strict=True)]
    factors = [float(np.mean(c)) for c in shares]
    per_chain = [[float(x) for x in c] for c in shares]
    return {"steps": list(steps), "factors": factors, "per_chain": per_chain, "mass": float(np.prod(factors))}


def bench_netherlands_bridge(seeds: list[int], samples: int) -> None:
    print(f"\n## Netherlands: posterior mass below 90,000 by a bridge over caps on N ({samples} draws x 8 chains)\n")
    print(
        "| seed | P(N <= 90k \\| N <= 110k) (chains' range) | P(N <= 110k \\| N <= 130k) | P(N <= 130k) | P(N <= 90k) "
        "| plain sampler: P(N <= 90k \\| N <= 110k) by chain |"
    )
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        r = netherlands_low_mass(seed, samples)
        plain = capped_shares(load("SparseMSE_Ned.csv"), 90_000, 110_000, seed, samples, **PLAIN)
        cells = [f"{f:.4f} ({min(c):.3f}-{max(c):.3f})" for f, c in zip(r["factors"], r["per_chain"], strict=True)]
        print(
            f"| {seed} | " + " | ".join(cells) + f" | {r['mass']:.1e} | " + ", ".join(f"{x:.2f}" for x in plain) + " |",
            flush=True,
        )


def bench_netherlands_r_length(seed: int) -> None:
    """The Netherlands median with R's cap, chains as long as R's (100,000 + 1,000,000 sweeps, one
    draw per 100), sparse starts (R LCMCR starts from the lists' marginal frequencies and spread class
    weights): our plain sampler (R's algorithm) and the default, 8 chains each."""
    h = load("SparseMSE_Ned.csv")
    print(f"\n## Netherlands, R's cap and run length, sparse starts (seed {seed})\n")
    print("| sampler | chain medians | pooled median | R-hat |")
    print("|---|---|---:|---:|")
    for label, moves in (("plain (R's algorithm)", PLAIN), ("default", {})):
        model = LCMCR(chains=8, samples=10_000, thin=100, burn_in=100_000, n_cap_factor=21, init="sparse", **moves)
        res = model.fit(h, rng=seed)
        meds = ", ".join(f"{m:,.0f}" for m in res.diagnostics["chain_medians"])
        print(f"| {label} | {meds} | {res.estimate:,.0f} | {res.diagnostics['rhat']:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only",
        choices=[
            "lcmcr",
            "iat",
            "sweep",
            "dga",
            "colombia",
            "netherlands",
            "netherlands-alpha",
            "netherlands-em",
            "netherlands-bridge",
            "netherlands-r-length",
            "tuning",
        ],
    )
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of the ESS table (--only lcmcr)")
    ap.add_argument("--bridge-samples", type=int, default=2000, help="draws per chain (--only netherlands-bridge)")
    ap.add_argument("--iat-chains", type=int, default=16, help="chains for the autocorrelation-time table")
    ap.add_argument("--iat-sweeps", type=int, default=400_000, help="post-burn-in sweeps per chain for it")
    args = ap.parse_args()
    if args.only in (None, "dga"):
        bench_dga()
    if args.only in (None, "sweep"):
        bench_sweep()
    if args.only in (None, "lcmcr"):
        bench_ess(args.seeds)
    if args.only == "iat":  # long (16 chains x 400,000 sweeps per table and sampler): asked for only
        bench_iat(args.seed, args.iat_chains, args.iat_sweeps)
    if args.only in (None, "colombia"):
        bench_colombia(args.seed)
    if args.only in (None, "netherlands"):
        bench_netherlands(args.seed)
    if args.only in (None, "netherlands-alpha"):
        bench_netherlands_alpha(args.seed)
    if args.only in (None, "netherlands-em"):
        bench_netherlands_em(args.seed)
    if args.only in (None, "netherlands-bridge"):
        bench_netherlands_bridge(args.seeds, args.bridge_samples)
    if args.only in (None, "netherlands-r-length"):
        bench_netherlands_r_length(args.seed)
    if args.only in (None, "tuning"):
        bench_tuning(args.seed)


if __name__ == "__main__":
    main()
