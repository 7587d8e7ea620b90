"""Benchmark the log-linear core against the R timings in tests/reference/reference_estimates.csv.

The R packages were timed on a 2-core machine of our kind (column `elapsed_s`); this script times the
same tasks here, side by side, and prints the ratios. Run:

    python bench/bench_estimation.py            # median of 3 runs per task (after one warm-up)
    python bench/bench_estimation.py --quick    # one run each

Timings are wall-clock on whatever else the machine is doing: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import pandas as pd

from cifranegra.datasets.reference import load_reference
from cifranegra.estimation import estimate

REF = Path(__file__).resolve().parents[1] / "tests" / "reference" / "reference_estimates.csv"

TASKS = [
    # (label, table, estimate kwargs, R row: (source substring, method))
    ("all-model BIC, UK 5 lists (6,212 models)", "SparseMSE_UKdat_5",
     {"select": "bic", "interval": "none"}, ("MultipleSystemsEstimation", "bic (min-BIC hierarchical model)")),
    ("all-model BIC, Netherlands 6 lists, order 2 (32,768 models)", "SparseMSE_Ned",
     {"select": "bic", "interval": "none"}, ("MultipleSystemsEstimation", "bic (min-BIC hierarchical model)")),
    ("all-model BIC, UK 6 lists, order 2 (32,768 models)", "SparseMSE_UKdat",
     {"select": "bic", "interval": "none"}, ("MultipleSystemsEstimation", "bic (min-BIC hierarchical model)")),
    ("BIC + BCa bootstrap (1000), UK 5 lists", "SparseMSE_UKdat_5",
     {"select": "bic", "interval": "bootstrap", "n_boot": 1000, "seed": 1},
     ("MultipleSystemsEstimation", "bic + BCa bootstrap")),
    ("BIC + BCa bootstrap (1000), Kosovo 4 lists", "MultipleSystemsEstimation_Kosovo",
     {"select": "bic", "interval": "bootstrap", "n_boot": 1000, "seed": 1},
     ("MultipleSystemsEstimation", "bic + BCa bootstrap")),
    ("stepwise + BCa bootstrap (1000), UK 5 lists", "SparseMSE_UKdat_5",
     {"select": "stepwise", "interval": "bootstrap", "n_boot": 1000, "seed": 1},
     ("SparseMSE", "estimatepopulation (stepwise + BCa bootstrap)")),
    ("stepwise + BCa bootstrap (1000), Netherlands 6 lists", "SparseMSE_Ned",
     {"select": "stepwise", "interval": "bootstrap", "n_boot": 1000, "seed": 1},
     ("SparseMSE", "estimatepopulation (stepwise + BCa bootstrap)")),
]


def r_time(table: str, source: str, method: str) -> float:
    df = pd.read_csv(REF)
    row = df[(df["file"] == f"{table}.csv") & df["source"].str.contains(source, regex=False) & (df["method"] == method)]
    return float(row["elapsed_s"].iloc[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one timed run per task")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    repeats = 1 if args.quick else 3
    print(f"cores: {os.cpu_count()}; repeats: {repeats} (median)")
    print(f"{'task':<58} {'ours (s)':>9} {'R (s)':>8} {'R / ours':>9}")
    out = []
    warmed: set[str] = set()
    for label, name, kw, (src, method) in TASKS:
        h = load_reference(name)
        if name not in warmed:  # imports, first-call costs
            estimate(h, "loglinear", select="stepwise", interval="none")
            warmed.add(name)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            r = estimate(h, "loglinear", **kw)
            times.append(time.perf_counter() - t)
        ours = statistics.median(times)
        theirs = r_time(name, src, method)
        print(f"{label:<58} {ours:>9.2f} {theirs:>8.1f} {theirs / ours:>8.1f}x   N̂={r.estimate:,.0f} {r.model}")
        out.append({"task": label, "ours_s": ours, "r_s": theirs, "ratio": theirs / ours, "estimate": r.estimate,
                    "model": r.model})
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
