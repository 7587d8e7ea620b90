"""BCa bootstrap parity with SparseMSE, as seed means: the table in docs/estimation.md.

R: tests/reference/r_bootstrap_seed_spread.csv (SparseMSE 2.0.1 ``estimatepopulation(zdat, nboot = 1000,
pthresh = 0.02, iseed = s)`` on the UK 5-list table, 20 seeds). Ours: ``--select stepwise --interval
bootstrap --n-boot 1000`` with seeds 1000, 1001, ... (those of tests/estimation/test_bootstrap_reference.py).

    python bench/bench_parity.py --seeds 20
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from cifranegra.datasets.reference import load_reference
from cifranegra.estimation.loglinear import LogLinear

R_CSV = Path(__file__).parents[1] / "tests" / "reference" / "r_bootstrap_seed_spread.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    a = ap.parse_args(argv)
    h = load_reference("SparseMSE_UKdat_5")
    lo, hi = [], []
    for s in range(a.seeds):
        iv = LogLinear(select="stepwise", interval="bootstrap", n_boot=1000).fit(h, rng=1000 + s).interval()
        assert iv is not None
        lo.append(iv.lower)
        hi.append(iv.upper)
    r = pd.read_csv(R_CSV)
    r = r[r["dataset"] == "SparseMSE_UKdat_5"]
    print("| end | ours: mean | sd | seeds | R: mean | sd | seeds | difference | its SE | difference / SE |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for end, ours_list in (("lower", lo), ("upper", hi)):
        ours = np.asarray(ours_list)
        theirs = r[f"{end}95"].to_numpy(dtype=float)
        d = float(ours.mean() - theirs.mean())
        se = math.sqrt(ours.var(ddof=1) / ours.size + theirs.var(ddof=1) / theirs.size)
        print(f"| {end} | {ours.mean():,.0f} | {ours.std(ddof=1):,.0f} | {ours.size} | {theirs.mean():,.0f} | "
              f"{theirs.std(ddof=1):,.0f} | {theirs.size} | {d:+,.0f} ({100 * d / theirs.mean():+.1f}%) | "
              f"{se:,.0f} | {d / se:+.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
