"""Benchmark the Bayesian families against the R timings in tests/reference/reference_estimates.csv.

    /work/venv/bin/python bench/bench_bayes.py            # LCMCR, dga and Colombia, markdown tables
    /work/venv/bin/python bench/bench_bayes.py --only dga

LCMCR: our posterior median and 95% interval next to R LCMCR's, R-hat, bulk effective sample size of
N, wall and CPU seconds, and ESS per CPU second against R. R's effective sample size was not
recorded; it cannot exceed its 10,000 kept draws, so ``R ESS/s <= 10000 / elapsed`` and the ratio we
print (ours / that bound) is a lower bound on the true speed-up. We also estimate R's ESS from the
autocorrelation of our own run of the paper's plain Gibbs sampler (``collapsed_moves=0``, the
algorithm of R LCMCR): R ESS ≈ min(10000, 10^6 post-burn-in sweeps / integrated autocorrelation
time, measured on one chain of 10^5 sweeps), and print the ratio against that estimate too. Within
one mode only where the posterior is multimodal (Netherlands). CPU seconds are the fair clock on a
shared machine (several processes compete for its cores); R ran single-threaded.
dga: our time next to R dga's (bma.cr) for the same tables.
"""

from __future__ import annotations

import argparse
import pathlib
import time
from importlib import resources

import numpy as np
import pandas as pd

from cifranegra.estimation.dga import DGA
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.lcmcr import LCMCR

ROOT = pathlib.Path(__file__).resolve().parents[1]
REF = pd.read_csv(ROOT / "tests" / "reference" / "reference_estimates.csv")


def load(name: str) -> CaptureHistories:
    with (resources.files("cifranegra.datasets") / "data" / name).open() as fh:
        return CaptureHistories.from_frame(pd.read_csv(fh), source=name)


def plain_tau(h: CaptureHistories, seed: int, sweeps: int = 100_000) -> float:
    """Integrated autocorrelation time of N (in sweeps) for one long chain of the paper's plain Gibbs
    sampler (``collapsed_moves=0``): the algorithm of R LCMCR, so R's ESS ≈ its sweeps / this."""
    res = LCMCR(chains=1, samples=sweeps // 5, burn_in=5000, thin=5, collapsed_moves=0).fit(h, rng=seed)
    return sweeps / max(res.diagnostics["ess_bulk"], 1.0)


def bench_lcmcr(seed: int, chains: int, samples: int) -> None:
    rows = REF[REF["source"].str.startswith("R LCMCR")]
    LCMCR(chains=1, samples=10, burn_in=10, thin=1).fit(load(rows.iloc[0]["file"]), rng=0)  # compile
    print(f"\n## LCMCR (ours: {chains} chains x {samples} draws, defaults otherwise; seed {seed})\n")
    print(
        "| table | K | R median [95%] | ours median [95%] | diff | R-hat | ESS | wall s | CPU s "
        "| ESS/CPU s | R s | R ESS/s (max) | ratio (min) | R ESS/s (est.) | ratio (est.) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows.to_dict(orient="records"):
        h = load(r["file"])
        c0 = time.process_time()
        res = LCMCR(chains=chains, samples=samples).fit(h, rng=seed)
        cpu = time.process_time() - c0
        d = res.diagnostics
        iv = res.interval(0.95)
        r_max = 10000 / r["elapsed_s"]
        ours = d["ess_bulk"] / cpu
        tau_plain = plain_tau(h, seed)
        r_est = min(10000.0, 1e6 / tau_plain) / r["elapsed_s"]
        print(
            f"| {r['file']} | {h.n_lists} "
            f"| {r['estimate']:.0f} [{r['lower']:.0f}, {r['upper']:.0f}] "
            f"| {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] "
            f"| {res.estimate / r['estimate'] - 1:+.1%} "
            f"| {d['rhat']:.3f} | {d['ess_bulk']:.0f} | {d['elapsed_s']:.1f} | {cpu:.1f} "
            f"| {ours:.0f} "
            f"| {r['elapsed_s']:.1f} | {r_max:.0f} | {ours / r_max:.2f} "
            f"| {r_est:.0f} | {ours / r_est:.1f} |"
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
        iv = res.interval(0.95)
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
    print("| sampler | chains | median [95%] | R-hat | modes (median, chains) | mode switches per chain |")
    print("|---|---|---|---|---|---|")
    configs = [
        ("plain Gibbs (R's algorithm)", {"collapsed_moves": 0, "chains": 8}),
        ("collapsed moves (default)", {"chains": 8}),
        (
            "collapsed + tempering (6 replicas, hottest 0.05)",
            {"chains": 8, "temperatures": 6, "hottest": 0.05, "burn_in": 5000},
        ),
        (
            "collapsed + tempering, K*=5",
            {"chains": 8, "temperatures": 6, "hottest": 0.05, "burn_in": 5000, "max_classes": 5},
        ),
    ]
    for label, kw in configs:
        res = LCMCR(**kw).fit(h, rng=seed)
        d = res.diagnostics
        n = np.asarray(res.draws).reshape(kw["chains"], -1)
        low = n < 90000
        switches = [int((np.diff(c.astype(int)) != 0).sum()) for c in low]
        iv = res.interval(0.95)
        modes = ", ".join(f"({m['median']:.0f}, {len(m['chains'])})" for m in d["modes"])
        print(
            f"| {label} | {kw['chains']} | {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] "
            f"| {d['rhat']:.2f} | {modes} | {switches} |"
        )


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
        iv = res.interval(0.95)
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
        iv = res.interval(0.95)
        print(
            f"| {name} (largest {keep} lists) | 7 | {res.diagnostics['n_graphs']} "
            "| n/a (R: 3-5 lists) "
            f"| {res.estimate:.0f} [{iv.lower:.0f}, {iv.upper:.0f}] | n/a | {el:.2f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["lcmcr", "dga", "colombia", "netherlands"])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    if args.only in (None, "dga"):
        bench_dga()
    if args.only in (None, "lcmcr"):
        bench_lcmcr(args.seed, args.chains, args.samples)
    if args.only in (None, "colombia"):
        bench_colombia(args.seed)
    if args.only in (None, "netherlands"):
        bench_netherlands(args.seed)


if __name__ == "__main__":
    main()
