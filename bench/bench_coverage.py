"""Coverage of every log-linear interval on simulated populations with known N.

Each population is N people, each on each list with given probabilities (a referral from list 1 to
list 2 makes the dependence that the model [12,...] represents; in the heterogeneous designs a third of
the people are 1.5 times as catchable, which no log-linear model here represents exactly). For every
population and every interval method we record whether the 95% interval covers N and its width, then
tabulate coverage (with its binomial standard error) and mean width per design × method.

Methods: ``profile`` and ``wald`` on the (fixed or selected) model; SparseMSE's nonparametric bootstrap
(``bootstrap-bca``, ``bootstrap-percentile``, the model re-selected in each replicate); and the parametric
bootstrap from the fitted model with the unseen count drawn (``parametric-pivot``,
``parametric-percentile``, ``parametric-lognormal``, re-selected in each replicate). An interval that
cannot be computed (e.g. a singular Wald) counts as not covering.

Two seed sets: ``--seeds choose`` (1) picked the defaults (500 populations, every design but the
hetero ones and bic-K5-dense); ``--seeds report`` (2) gives the table in
docs/estimation.md. One command reproduces either:

    nice -n 10 python bench/bench_coverage.py --seeds report --populations 500 --n-boot 200 --processes 2

(48 min on 2 cores of a loaded machine, 21 of them bic-K5-dense). ``--designs NAME,...`` runs a
subset; ``--out FILE`` writes every population's row as CSV.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from cifranegra.errors import CifranegraError
from cifranegra.estimation import loglinear as L  # noqa: N812
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.models import HierarchicalModel, default_max_order, default_ntop
from cifranegra.estimation.result import bca_interval, percentile_interval

SEED_SETS = {"choose": 1, "report": 2}
#: what counts as "no interval" for a population (recorded as not covering)
FAILURES = (CifranegraError, ArithmeticError, ValueError, np.linalg.LinAlgError)
LEVEL = 0.95
METHODS = (
    "profile",
    "wald",
    "bootstrap-bca",
    "bootstrap-percentile",
    "parametric-pivot",
    "parametric-percentile",
    "parametric-lognormal",
)


@dataclass(frozen=True)
class Design:
    name: str
    N: int
    p: tuple[float, ...]
    select: str = "fixed"  # fixed, bic, aic, stepwise
    model: str | None = None
    referral: float = 0.3
    hetero: float = 1.0  # catchability multiplier of the visible third (1 = homogeneous)
    options: dict[str, object] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.p)


DENSE4 = (0.25, 0.2, 0.3, 0.15)
SPARSE5 = (0.08, 0.06, 0.1, 0.05, 0.07)
DESIGNS = [
    Design("fixed-K3-dense", 1000, (0.3, 0.25, 0.35), model="[12,3]"),
    Design("fixed-K4-dense", 1500, DENSE4, model="[12,3,4]"),
    Design("fixed-K5-sparse", 2000, SPARSE5, model="[12,3,4,5]"),
    Design("fixed-K6-sparse", 2000, (0.08, 0.06, 0.1, 0.05, 0.07, 0.06), model="[12,3,4,5,6]"),
    Design("bic-K3-dense", 1000, (0.3, 0.25, 0.35), select="bic"),
    Design("bic-K4-dense", 1500, DENSE4, select="bic"),
    Design("aic-K4-dense", 1500, DENSE4, select="aic"),
    Design("stepwise-K5-sparse", 2000, SPARSE5, select="stepwise"),
    Design("stepwise-K6-dense", 1500, (0.2, 0.15, 0.25, 0.12, 0.18, 0.1), select="stepwise"),
    Design("bic-K4-hetero", 2000, DENSE4, select="bic", referral=0.0, hetero=1.5),
    Design("stepwise-K6-hetero", 2000, (0.1, 0.08, 0.12, 0.06, 0.09, 0.07), select="stepwise", referral=0.0,
           hetero=1.5),
    Design("bic-K5-dense", 1500, (0.25, 0.2, 0.3, 0.15, 0.2), select="bic"),
]


def simulate(rng: np.random.Generator, d: Design) -> CaptureHistories:
    """One population of ``d.N`` people and its observed capture-history table."""
    p = np.asarray(d.p)[None, :].repeat(d.N, axis=0)
    if d.hetero != 1.0:
        visible = rng.random(d.N) < 1 / 3
        p[visible] = np.minimum(p[visible] * d.hetero, 0.95)
    caps = rng.random((d.N, d.k)) < p
    if d.referral:
        caps[:, 1] |= caps[:, 0] & (rng.random(d.N) < d.referral)
    masks = (caps.astype(np.int64) << np.arange(d.k)).sum(axis=1)
    counts = np.bincount(masks, minlength=2**d.k)
    counts[0] = 0
    return CaptureHistories(tuple(f"L{i + 1}" for i in range(d.k)), counts)


def _select(d: Design, h: CaptureHistories) -> L.Selected:
    if d.select == "fixed":
        assert d.model is not None
        return L.select_fixed(h, HierarchicalModel.parse(d.model, h.lists))
    if d.select in ("bic", "aic"):
        return L.select_by_criterion(h, default_max_order(h.n_lists), criterion=d.select, workers=1)
    return L.select_stepwise(h)


def one_population(args: tuple[Design, int, int, int]) -> dict[str, object]:
    """Every method's interval on population ``i`` of design ``d`` (seeded by set, design, i).

    The model is selected once and every interval is computed from that selection with the functions
    ``LogLinear.fit`` calls (the same numbers as ``--interval ...`` on the table, at a quarter of the cost).
    """
    d, set_seed, i, n_boot = args
    index = [x.name for x in DESIGNS].index(d.name)
    ss = np.random.SeedSequence([set_seed, index, i])
    pop_seed, boot_seed, par_seed = ss.spawn(3)
    h = simulate(np.random.default_rng(pop_seed), d)
    row: dict[str, object] = {"design": d.name, "population": i, "observed": h.observed, "N": d.N}
    ivs: dict[str, tuple[float, float]] = {}
    chosen = None
    with contextlib.suppress(*FAILURES):
        chosen = _select(d, h)
    row["estimate"] = chosen.abundance if chosen else math.nan
    row["model"] = chosen.model.notation() if chosen else ""
    if chosen is not None:
        select = "fixed" if d.select == "fixed" else d.select
        common = dict(select=select, chosen=chosen, max_order=default_max_order(h.n_lists), pthresh=0.02,
                      n_boot=n_boot, ntop=default_ntop(h.n_lists), workers=1)
        with contextlib.suppress(*FAILURES):
            ivs["profile"] = L.profile_interval(h, chosen.fit, LEVEL)[:2]
        with contextlib.suppress(*FAILURES):
            ivs["wald"] = L.wald_interval(h, chosen.fit, LEVEL)
        with contextlib.suppress(*FAILURES):
            boot = L.bootstrap(h, seed=boot_seed, **common)  # type: ignore[arg-type]
            reps = np.asarray(boot["replicates"])
            ivs["bootstrap-bca"] = bca_interval(reps, chosen.abundance, float(boot["acceleration"]), LEVEL)
            ivs["bootstrap-percentile"] = percentile_interval(reps, LEVEL)
        with contextlib.suppress(*FAILURES):
            par = L.parametric_bootstrap(h, seed=par_seed, **common)  # type: ignore[arg-type]
            for kind in ("pivot", "percentile", "lognormal"):
                ivs[f"parametric-{kind}"] = L.parametric_interval(
                    par["replicates"], par["unseen"], par["population"], h.observed, chosen.abundance, LEVEL, kind
                )
    for m in METHODS:
        lo, hi = ivs.get(m, (math.nan, math.nan))
        row[f"{m}:lower"] = lo
        row[f"{m}:upper"] = hi
    return row


def summarize(rows: list[dict[str, object]], designs: list[Design]) -> list[dict[str, object]]:
    """Coverage, its binomial standard error, mean width (finite intervals) per design × method."""
    out = []
    for d in designs:
        rs = [r for r in rows if r["design"] == d.name]
        S = len(rs)
        if not S:
            continue
        est = np.array([float(r["estimate"]) for r in rs])  # type: ignore[arg-type]
        for m in METHODS:
            lo = np.array([float(r[f"{m}:lower"]) for r in rs])  # type: ignore[arg-type]
            hi = np.array([float(r[f"{m}:upper"]) for r in rs])  # type: ignore[arg-type]
            cover = (lo <= d.N) & (hi >= d.N)  # NaN (no interval) never covers
            w = hi - lo
            fin = np.isfinite(w)
            c = float(cover.mean())
            out.append({
                "design": d.name, "method": m, "populations": S, "coverage": c,
                "se": math.sqrt(c * (1 - c) / S), "mean_width": float(w[fin].mean()) if fin.any() else math.nan,
                "infinite_or_missing": int((~fin).sum()), "mean_estimate": float(np.nanmean(est)),
            })
    return out


def markdown(summary: list[dict[str, object]], designs: list[Design]) -> str:
    lines = ["| design | N | " + " | ".join(METHODS) + " |", "|---|---|" + "---|" * len(METHODS)]
    for d in designs:
        cells = []
        for m in METHODS:
            s = next((x for x in summary if x["design"] == d.name and x["method"] == m), None)
            if s is None:
                continue
            extra = f" ({s['infinite_or_missing']} ∞/–)" if s["infinite_or_missing"] else ""
            cells.append(f"{100 * float(s['coverage']):.1f} ± {100 * float(s['se']):.1f}; "  # type: ignore[arg-type]
                         f"{float(s['mean_width']):,.0f}{extra}")  # type: ignore[arg-type]
        if cells:
            lines.append(f"| {d.name} | {d.N:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", choices=sorted(SEED_SETS), default="report")
    ap.add_argument("--populations", type=int, default=500)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--designs", default="", help="comma-separated design names (default: all)")
    ap.add_argument("--out", default="", help="CSV of every population's intervals")
    a = ap.parse_args(argv)
    designs = [d for d in DESIGNS if not a.designs or d.name in a.designs.split(",")]
    set_seed = SEED_SETS[a.seeds]
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    print(f"seed set {a.seeds} ({set_seed}), {a.populations} populations per design, B = {a.n_boot}, "
          f"level {LEVEL}; coverage % ± binomial SE; mean width", flush=True)
    print(markdown([], []), flush=True)  # the header; each design's row follows when it is done
    with ProcessPoolExecutor(max_workers=a.processes) as pool:
        for d in designs:
            t = time.perf_counter()
            jobs = [(d, set_seed, i, a.n_boot) for i in range(a.populations)]
            done = list(pool.map(one_population, jobs, chunksize=10))
            rows.extend(done)
            print(markdown(summarize(done, [d]), [d]).splitlines()[-1], flush=True)
            print(f"{d.name}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
            if a.out:
                with open(a.out, "a" if len(rows) > len(done) else "w", newline="") as f:
                    wr = csv.DictWriter(f, fieldnames=list(done[0]))
                    if len(rows) == len(done):
                        wr.writeheader()
                    wr.writerows(done)
    print(f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
