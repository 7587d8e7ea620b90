"""Benchmark the Bayesian families against the R timings in tests/reference/reference_estimates.csv.

    /work/venv/bin/python bench/bench_bayes.py            # LCMCR, dga and Colombia, markdown tables
    /work/venv/bin/python bench/bench_bayes.py --only dga
    /work/venv/bin/python bench/bench_bayes.py --only sweep   # CPU microseconds per Gibbs sweep

LCMCR: our posterior median and 95% interval next to R LCMCR's, R-hat, bulk effective sample size of
N with the defaults (4 chains x 1000 draws, burn-in 10,000, thin 20), per CPU second (process time,
all threads; the fair clock on this shared machine) and per wall second (chains run in parallel
threads), against R LCMCR's elapsed seconds (single-threaded, 100,000 burn-in + 10,000 x 100
sweeps = 1.1 M sweeps). Two views of R's effective sample size, which R did not record:

* "max": 10,000 kept draws counted as independent, an upper bound, so our ratio is a lower bound;
* "est.": R runs the paper's plain Gibbs sampler, which is ours with every added move off
  (``PLAIN``: no scale, label-swap, Hamiltonian or collapsed moves). Its
  integrated autocorrelation time (IAT) of N, in sweeps, is measured on 16 chains x 400,000 sweeps
  (after 10,000 burn-in, thinned by 5; ``--iat-chains``, ``--iat-sweeps``) as total sweeps / (sum
  over chains of each chain's own bulk ESS), i.e. within chains, as R's single chain sees it (on
  the Netherlands table chains may sit in different modes: within-mode figure). R's ESS ≈
  min(10,000, 1,000,000 / IAT): its 10^6 post-burn-in sweeps, thinned by 100 (which loses
  nothing beyond that when IAT >> 100); R's seconds include its 100,000 burn-in sweeps (9%).
  Without the label swaps the measured IATs grow with the run length (a slow drift of the class
  order; session 3 measured Korea's scale-move IAT at 23 after 100,000 sweeps per chain and 60
  after 800,000): compare ratios at one
  ``--iat-sweeps`` and read the IATs as lower bounds.

The same IAT measure for our default sampler (scale move, two label swaps a sweep, a 40-step
Hamiltonian trajectory every 8 sweeps) gives our steady-state ESS per CPU
second, 10^6 / (IAT x microseconds per sweep), burn-in excluded, and per wall second (the chains run
in parallel threads on all cores, as in a default fit; R LCMCR runs one chain on one core): the
figures to set against R's estimate, since one default run's ESS (4 x 1000 draws) varies
several-fold between seeds on the slowly mixing tables. Both are printed.

dga: our time next to R dga's (bma.cr) for the same tables.
"""

from __future__ import annotations

import argparse
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
#: session 3's default: scale moves only
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


def bench_sweep() -> None:
    rows = REF[REF["source"].str.startswith("R LCMCR")]
    print("\n## LCMCR: CPU microseconds per sweep (K*=10; best of 3 x 21,000 sweeps, process time)\n")
    print(
        "| table | K | patterns | observed | plain (R's algorithm) | scale moves only (session 3) "
        "| default (scale, 2 swaps, HMC 40 steps / 8 sweeps) | R s / 1.1 M |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows.to_dict(orient="records"):
        h = load(r["file"])
        print(
            f"| {r['file']} | {h.n_lists} | {h.pattern_matrix().shape[0]} | {h.observed} "
            f"| {sweep_cost(h, PLAIN):.1f} | {sweep_cost(h, SCALE_ONLY):.1f} | {sweep_cost(h, {}):.1f} "
            f"| {r['elapsed_s'] / 1.1:.1f} |"
        )


def bench_lcmcr(seed: int, chains: int, samples: int, iat_chains: int, iat_sweeps: int) -> None:
    rows = REF[REF["source"].str.startswith("R LCMCR")]
    LCMCR(chains=1, samples=10, burn_in=10, thin=1).fit(load(rows.iloc[0]["file"]), rng=0)  # compile
    print(f"\n## LCMCR (ours: {chains} chains x {samples} draws, defaults otherwise; seed {seed})\n")
    print(
        "| table | K | R median [95%] | ours median [95%] | diff | R-hat | ESS | CPU s | wall s "
        "| ESS/CPU s | ESS/wall s | R s | R ESS/s (max) | ratio CPU (min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    iat_rows = []
    for r in rows.to_dict(orient="records"):
        h = load(r["file"])
        c0 = time.process_time()
        res = LCMCR(chains=chains, samples=samples).fit(h, rng=seed)
        cpu = time.process_time() - c0
        d = res.diagnostics
        iv = ci(res)
        r_max = 10000 / r["elapsed_s"]
        ours = d["ess_bulk"] / cpu
        ours_wall = d["ess_bulk"] / d["elapsed_s"]
        print(
            f"| {r['file']} | {h.n_lists} "
            f"| {r['estimate']:.0f} [{r['lower']:.0f}, {r['upper']:.0f}] "
            f"| {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] "
            f"| {res.estimate / r['estimate'] - 1:+.1%} "
            f"| {d['rhat']:.3f} | {d['ess_bulk']:.0f} | {cpu:.1f} | {d['elapsed_s']:.1f} "
            f"| {ours:.0f} | {ours_wall:.0f} "
            f"| {r['elapsed_s']:.1f} | {r_max:.0f} | {ours / r_max:.2f} |",
            flush=True,
        )
        tau_plain, se_plain, us_plain, _ = chain_tau(h, seed, PLAIN, iat_chains, iat_sweeps)
        tau_ours, se_ours, us_ours, us_wall = chain_tau(h, seed, {}, iat_chains, iat_sweeps)
        r_ess = min(10000.0, 1e6 / tau_plain)
        r_est = r_ess / r["elapsed_s"]
        ours_iat = 1e6 / (tau_ours * us_ours)
        ours_wall = 1e6 / (tau_ours * us_wall)
        # relative standard error of the ratio (both IATs; R's capped ESS has no error)
        rse = math.hypot(se_ours, se_plain if r_ess < 10000.0 else 0.0)
        iat_rows.append(
            f"| {r['file']} | {tau_plain:.0f} ±{se_plain:.0%} | {us_plain:.1f} | {r_ess:.0f} | {r['elapsed_s']:.1f} "
            f"| {r_est:.0f} | {tau_ours:.0f} ±{se_ours:.0%} | {us_ours:.1f} | {ours_iat:.0f} "
            f"| {ours_iat / r_est:.2f} ±{rse:.0%} | {us_wall:.1f} | {ours_wall:.0f} | {ours_wall / r_est:.2f} |"
        )
    print(
        f"\n### ESS of N per second from integrated autocorrelation times ({iat_chains} chains x {iat_sweeps:,} "
        f"sweeps each, seed {seed}; ± = relative standard error over chains)\n"
    )
    print(
        "| table | IAT plain (sweeps) | plain us/sweep | R ESS (est.) | R s | R ESS/s (est.) | IAT ours "
        "| ours CPU us/sweep | ours ESS/CPU s | ratio CPU | ours wall us/sweep | ours ESS/wall s | ratio wall |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for line in iat_rows:
        print(line)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only", choices=["lcmcr", "sweep", "dga", "colombia", "netherlands", "netherlands-alpha", "tuning"]
    )
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--iat-chains", type=int, default=16, help="chains for the autocorrelation-time table")
    ap.add_argument("--iat-sweeps", type=int, default=400_000, help="post-burn-in sweeps per chain for it")
    args = ap.parse_args()
    if args.only in (None, "dga"):
        bench_dga()
    if args.only in (None, "sweep"):
        bench_sweep()
    if args.only in (None, "lcmcr"):
        bench_lcmcr(args.seed, args.chains, args.samples, args.iat_chains, args.iat_sweeps)
    if args.only in (None, "colombia"):
        bench_colombia(args.seed)
    if args.only in (None, "netherlands"):
        bench_netherlands(args.seed)
    if args.only in (None, "netherlands-alpha"):
        bench_netherlands_alpha(args.seed)
    if args.only in (None, "tuning"):
        bench_tuning(args.seed)


if __name__ == "__main__":
    main()
