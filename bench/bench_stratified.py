"""Stratified total vs pooled estimate when capture depends on sex (issue #17, item 3).

Each population has 1,500 women and 1,500 men; three lists, independent within each sex, women
listed 3x as often as men on lists A and B (0.30 vs 0.10) and equally on list C (0.20). Both
estimates use the independence log-linear model (Mt) with its profile interval: it is the true
model within each sex, and the pooled table is a mixture of two such tables, in which lists A and
B appear positively dependent. The stratified total is the sum of the two sexes' estimates with the
simulated joint interval (cifranegra.estimation.stratified); the pooled estimate fits one table.

    python bench/bench_stratified.py [--populations 200] [--seed 2017]

prints, for each, the mean relative bias with its standard error, and the 95% interval's coverage and
mean width. tests/estimation/test_stratified_slow.py asserts the same design with the same seeds.
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np

from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation.stratified import stratified_total, stratum_seed

SIZES = {"female": 1500, "male": 1500}
CAPTURE = {"female": (0.30, 0.30, 0.20), "male": (0.10, 0.10, 0.20)}
LISTS = ("A", "B", "C")


def population(rng: np.random.Generator) -> dict[str, CaptureHistories]:
    """One simulated population: the observed capture-history table of each sex."""
    out = {}
    for sex, n in SIZES.items():
        caught = rng.random((n, len(LISTS))) < np.asarray(CAPTURE[sex])
        masks = caught.astype(np.int64) @ (1 << np.arange(len(LISTS)))
        counts = np.bincount(masks, minlength=2 ** len(LISTS)).astype(np.int64)
        counts[0] = 0
        out[sex] = CaptureHistories(LISTS, counts)
    return out


def one(seed: int) -> dict[str, float]:
    """Stratified total and pooled estimate (with 95% intervals) for the population of ``seed``."""
    tables = population(np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {f"sex={s}": estimate(h, "independence", seed=stratum_seed(seed, f"sex={s}"))
                for s, h in tables.items()}
        pooled_h = CaptureHistories(LISTS, sum(h.counts for h in tables.values()))
        pooled = estimate(pooled_h, "independence", seed=seed)
    total = stratified_total(fits, level=0.95, seed=seed)
    piv = pooled.interval(0.95)
    assert total.estimate is not None and total.interval is not None and piv is not None
    return {"stratified": total.estimate, "stratified_lower": total.interval.lower,
            "stratified_upper": total.interval.upper, "pooled": pooled.estimate,
            "pooled_lower": piv.lower, "pooled_upper": piv.upper}


def study(populations: int = 200, seed: int = 2017) -> dict[str, dict[str, float]]:
    """Mean relative bias (and its standard error), coverage and mean width over ``populations``."""
    truth = float(sum(SIZES.values()))
    seeds = np.random.SeedSequence(seed).generate_state(populations, np.uint32)
    runs = [one(int(s)) for s in seeds]
    out = {}
    for name in ("stratified", "pooled"):
        rel = np.array([r[name] / truth - 1 for r in runs])
        lo = np.array([r[f"{name}_lower"] for r in runs])
        hi = np.array([r[f"{name}_upper"] for r in runs])
        out[name] = {"bias": float(rel.mean()), "bias_se": float(rel.std(ddof=1) / math.sqrt(len(rel))),
                     "coverage": float(np.mean((lo <= truth) & (truth <= hi))), "width": float(np.mean(hi - lo)),
                     "populations": len(runs)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--populations", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2017)
    a = ap.parse_args()
    res = study(a.populations, a.seed)
    print(f"{a.populations} populations of {sum(SIZES.values()):,} (seed {a.seed}); independence model, 95% intervals")
    print(f"{'estimate':<12}{'mean rel. bias':>16}{'(s.e.)':>10}{'coverage':>10}{'mean width':>12}")
    for name, r in res.items():
        print(f"{name:<12}{r['bias']:>+16.2%}{r['bias_se']:>10.2%}{r['coverage']:>10.1%}{r['width']:>12,.0f}")


if __name__ == "__main__":
    main()
