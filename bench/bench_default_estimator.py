"""Which estimator should `cifranegra run` use by default? Coverage of the true N by every family,
on the synthetic Mexican population with true linkage (issue 14, item 6).

Each replicate draws a population of N victims (``draw_population``) and which agencies record
whom (``draw_captures``, the simulator's own capture model: logit p_ik = logit(rate_k) +
heterogeneity_k · z_i + log focus_k[stratum], z_i ~ N(0, 1) shared by all agencies, then
referrals between agencies). Linkage is taken as known (the capture table is tabulated from the
persons), so what is measured is the estimator alone. Designs:

- ``K4-independent``: the first four default agencies (capture rates .30, .10, .06, .08), heterogeneity
  0, no stratum focus, no referrals: every person equally catchable, lists independent — every
  family's assumptions hold (the check that the study itself is right);
- ``K4-homogeneous``: as K4-independent with the default referrals (fiscalía → refugios .15, DIF →
  fiscalía .30, fiscalía → FGR .05): persons equally catchable, lists directly dependent;
- ``K4-strata``: heterogeneity 0, the agencies' stratum focus kept (capture depends on sex, age
  group, nationality): heterogeneity by observed strata;
- ``K4-default``: the simulator's default agencies (issue 14's example, true 1,500);
- ``K6-default``: the six default agencies, 5,000 victims (the demo's design).

Estimators: the pooled table with ``loglinear`` (run's default options), ``lcmcr``, ``dga``,
``sample-coverage``, Rcapture's ``mth-darroch``, ``mth-gamma3.5`` and ``mth-chao`` (a lower
bound by construction), and ``loglinear`` stratified by sex × age group (the stratified total with
its joint interval, ``stratified_total``). For each: relative bias, RMSE / N, 95% coverage of N
(an interval that cannot be computed counts as a miss) with its binomial standard error, and the
median interval width / N.

    nice -n 5 python bench/bench_default_estimator.py --reps 200 --reps-for K6-default=100 --processes 2 \
        --out default_estimator.csv

(``--summarise default_estimator.csv`` prints the table again from the saved rows.)

Seeds: replicate r of design d uses SeedSequence([SEED, d, r]); SEED = 14006. Prints one JSON object per
design × estimator and writes every replicate's row to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

SEED = 14006
LEVEL = 0.95
PERIOD = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
POOLED = ("loglinear", "lcmcr", "dga", "sample-coverage", "mth-darroch", "mth-gamma3.5", "mth-chao")
STRATIFIED = ("loglinear-by-sex-age",)
ESTIMATORS = POOLED + STRATIFIED
#: the replicates run in parallel, so each estimator uses one worker (their results do not depend on it)
ONE_WORKER = {"loglinear": {"workers": 1}, "lcmcr": {"workers": 1}}


@dataclass(frozen=True)
class Design:
    name: str
    n_persons: int
    n_lists: int
    heterogeneity: bool = True
    focus: bool = True
    referrals: bool = True


DESIGNS = (
    Design("K4-homogeneous", 1500, 4, heterogeneity=False, focus=False),
    Design("K4-strata", 1500, 4, heterogeneity=False, focus=True),
    Design("K4-default", 1500, 4),
    Design("K6-default", 5000, 6),
    Design("K4-independent", 1500, 4, heterogeneity=False, focus=False, referrals=False),
)


def _profiles(design: Design):
    from cifranegra.datasets.synthetic.profiles import default_profiles

    out = []
    for p in default_profiles()[: design.n_lists]:
        if not design.heterogeneity:
            p = replace(p, heterogeneity=0.0)
        if not design.focus:
            p = replace(p, focus={})
        out.append(p)
    return out


def _interval(result):
    iv, _ = result.reported_interval(LEVEL)  # none, or one of zero width, is no interval
    return (iv.lower, iv.upper) if iv is not None else (math.nan, math.nan)


def one_replicate(job: tuple[int, int] | tuple[int, int, tuple[str, ...]]) -> list[dict[str, object]]:
    """Every estimator's row on replicate ``rep`` of design ``d_index`` (or only the estimators named
    in the job's third item)."""
    d_index, rep = job[0], job[1]
    only = set(job[2]) if len(job) > 2 else set(ESTIMATORS)  # type: ignore[misc]
    warnings.simplefilter("ignore")
    from cifranegra.datasets.synthetic.capture import draw_captures
    from cifranegra.datasets.synthetic.population import draw_population
    from cifranegra.datasets.synthetic.profiles import default_referrals
    from cifranegra.estimation import CaptureHistories, estimate
    from cifranegra.estimation.stratified import stratified_total

    design = DESIGNS[d_index]
    ss = np.random.SeedSequence([SEED, d_index, rep])
    s_pop, s_cap, s_est = ss.spawn(3)
    people = draw_population(design.n_persons, np.random.default_rng(s_pop), PERIOD)
    profiles = _profiles(design)
    referrals = default_referrals() if design.referrals else []
    captured, _, _ = draw_captures(people, profiles, referrals, np.random.default_rng(s_cap))
    lists = [p.id for p in profiles]
    weights = 1 << np.arange(len(lists))
    seen = captured.any(axis=1)
    observed = int(seen.sum())
    est_seed = int(s_est.generate_state(1)[0])
    rows: list[dict[str, object]] = []

    def record(name: str, fit) -> None:
        t0 = time.process_time()
        try:
            value, (lo, hi) = fit()
        except Exception as exc:  # an estimator that fails counts as a miss, with its reason
            value, lo, hi = math.nan, math.nan, math.nan
            err = type(exc).__name__
        else:
            err = ""
        rows.append({"design": design.name, "rep": rep, "estimator": name, "N": design.n_persons,
                     "observed": observed, "estimate": value, "lower": lo, "upper": hi, "error": err,
                     "cpu_s": round(time.process_time() - t0, 3)})

    counts = np.bincount((captured[seen] * weights).sum(axis=1), minlength=2 ** len(lists))
    table = CaptureHistories.from_counts(counts, lists)
    for method in [m for m in POOLED if m in only]:
        def fit(method=method):
            r = estimate(table, method, seed=est_seed, **ONE_WORKER.get(method, {}))
            return r.estimate, _interval(r)
        record(method, fit)

    def fit_stratified():
        key = people["sex"].astype(str) + "|" + people["age_group"].astype(str)
        results = {}
        for label in sorted(key[seen].unique()):
            inside = seen & (key == label).to_numpy()
            c = np.bincount((captured[inside] * weights).sum(axis=1), minlength=2 ** len(lists))
            results[label] = estimate(CaptureHistories.from_counts(c, lists), "loglinear", seed=est_seed,
                                      **ONE_WORKER["loglinear"])
        total = stratified_total(results, level=LEVEL, seed=est_seed)
        iv = total.interval
        return total.estimate, ((iv.lower, iv.upper) if iv is not None else (math.nan, math.nan))

    if "loglinear-by-sex-age" in only:
        record("loglinear-by-sex-age", fit_stratified)
    return rows


def _f(value: object) -> float:
    """A number from a row (a saved CSV writes a missing one as an empty cell)."""
    return math.nan if value in ("", None) else float(value)  # type: ignore[arg-type]


def summarise(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for design in DESIGNS:
        for name in ESTIMATORS:
            sel = [r for r in rows if r["design"] == design.name and r["estimator"] == name]
            if not sel:
                continue
            n_true = design.n_persons
            est = np.array([_f(r["estimate"]) for r in sel])
            lo = np.array([_f(r["lower"]) for r in sel])
            hi = np.array([_f(r["upper"]) for r in sel])
            ok = np.isfinite(est)
            cover = np.isfinite(lo) & (lo <= n_true) & (n_true <= hi)
            cov = float(cover.mean())
            width = (hi - lo)[np.isfinite(lo)] / n_true
            out.append({
                "design": design.name, "estimator": name, "N": n_true, "reps": len(sel),
                "failed": int((~ok).sum()),
                "mean_observed": round(float(np.mean([float(r["observed"]) for r in sel])), 1),
                "relative_bias": round(float(np.mean(est[ok]) / n_true - 1), 4) if ok.any() else None,
                "rmse_over_N": (round(float(np.sqrt(np.mean((est[ok] - n_true) ** 2)) / n_true), 4)
                                if ok.any() else None),
                "coverage": round(cov, 3), "coverage_se": round(math.sqrt(cov * (1 - cov) / len(sel)), 3),
                "below": round(float((np.isfinite(hi) & (hi < n_true)).mean()), 3),
                "median_width_over_N": round(float(np.median(width)), 3) if width.size else None,
                "mean_cpu_s": round(float(np.mean([float(r["cpu_s"]) for r in sel])), 3),
            })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--designs", default=",".join(d.name for d in DESIGNS))
    ap.add_argument("--reps-for", default="", help="other replicate counts by design, e.g. K6-default=100")
    ap.add_argument("--summarise", default=None, help="summarise a saved CSV instead of running")
    ap.add_argument("--out", default=None, help="CSV of every replicate's row")
    a = ap.parse_args()
    if a.summarise:
        with open(a.summarise, newline="") as saved:
            for line in summarise(list(csv.DictReader(saved))):
                print(json.dumps(line))
        return
    chosen = [i for i, d in enumerate(DESIGNS) if d.name in a.designs.split(",")]
    reps = dict(part.split("=") for part in a.reps_for.split(",")) if a.reps_for else {}
    jobs = [(i, r) for i in chosen for r in range(int(reps.get(DESIGNS[i].name, a.reps)))]
    t0 = time.perf_counter()
    rows: list[dict[str, object]] = []
    fh = open(a.out, "w", newline="") if a.out else None  # noqa: SIM115 - rows written as they come
    writer = None
    with ProcessPoolExecutor(a.processes) as pool:
        for part in pool.map(one_replicate, jobs):
            rows.extend(part)
            if fh is not None:
                if writer is None:
                    writer = csv.DictWriter(fh, fieldnames=list(part[0]))
                    writer.writeheader()
                writer.writerows(part)
                fh.flush()
    if fh is not None:
        fh.close()
    for s in summarise(rows):
        print(json.dumps(s))
    print(json.dumps({"what": "time", "wall_s": round(time.perf_counter() - t0, 1), "replicates": len(jobs),
                      "seed": SEED}))


if __name__ == "__main__":
    main()
