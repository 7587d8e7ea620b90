"""Linkage imputation on simulated lists with known truth: the single-threshold estimate, the
imputation estimate (M linkages, combined) and the oracle (true linkage), with timings, the size of
the kept pairs (and its extrapolation to 1M records) and the calibration of the pair probabilities.

    /work/venv/bin/python bench/bench_imputation.py --persons 2000 --agencies 4 --seed 1 --M 20

Prints one JSON object per line.

    /work/venv/bin/python bench/bench_imputation.py demo --M 20

times the bundled demo run (`cifranegra demo` without writing files) with linkage imputation off
and with M imputations ([linkage.uncertainty]), CPU seconds (this process and its workers) and wall
seconds, and prints both runs' overall estimates.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import simulated_records, truth_entities
from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation.combine import impute_and_estimate
from cifranegra.linkage import LinkageSettings, link_records
from cifranegra.linkage.uncertainty import (
    ImputationSettings,
    brier_score,
    calibrate,
    impute_linkage,
    pair_truth_labels,
    reliability_table,
)


def _row(res):
    iv = res.interval()
    return {"estimate": round(res.estimate, 1), "lower": round(iv.lower, 1) if iv else None,
            "upper": round(iv.upper, 1) if iv else None}


def _timed_run(project):
    import resource

    from cifranegra.pipeline import run_project

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    c0, t0 = cpu(), time.perf_counter()
    result = run_project(project, write=False)
    return result, cpu() - c0, time.perf_counter() - t0


def demo(m: int, sampler: str) -> None:
    """The demo run with linkage imputation off, then on with ``m`` imputations."""
    import dataclasses

    from cifranegra.pipeline import demo_project, load_project
    from cifranegra.pipeline.imputation import LinkageUncertainty

    base = load_project(demo_project())
    out = {}
    for name, setting in (("off", LinkageUncertainty(enabled=False)),
                          (f"M={m}", LinkageUncertainty(enabled=True, imputations=m, sampler=sampler))):
        result, cpu_s, wall_s = _timed_run(dataclasses.replace(base, linkage_uncertainty=setting))
        row = next(r for r in result.estimates if r["stratum"] == "all")
        out[name] = {"cpu_s": round(cpu_s, 1), "wall_s": round(wall_s, 1), "estimate": round(row["estimate"], 1),
                     "lower": round(row["lower"], 1), "upper": round(row["upper"], 1),
                     "interval_includes": row["interval_includes"], "linkage_share": row["linkage_share"]}
        print(json.dumps({"what": "demo_run", "linkage_imputation": name, **out[name]}), flush=True)
    on = out[f"M={m}"]
    print(json.dumps({"what": "demo_ratio", "cpu": round(on["cpu_s"] / out["off"]["cpu_s"], 2),
                      "wall": round(on["wall_s"] / out["off"]["wall_s"], 2)}))


def main() -> None:
    if sys.argv[1:2] == ["demo"]:
        ap = argparse.ArgumentParser(prog="bench_imputation.py demo")
        ap.add_argument("--M", type=int, default=20)
        ap.add_argument("--sampler", default="gibbs")
        a = ap.parse_args(sys.argv[2:])
        warnings.simplefilter("ignore")
        demo(a.M, a.sampler)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=2000)
    ap.add_argument("--agencies", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--error-scale", type=float, default=1.0)
    ap.add_argument("--M", type=int, default=20)
    ap.add_argument("--method", default="loglinear")
    ap.add_argument("--sampler", default="gibbs")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    records, truth, n_true = simulated_records(a.persons, a.agencies, a.seed, a.error_scale)
    lists = sorted(records["source"].astype(str).unique())
    t0 = time.perf_counter()
    result = link_records(records, LinkageSettings(seed=a.seed))
    t_link = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = estimate(CaptureHistories.from_entities(result.entities, lists=lists), a.method, seed=a.seed)
    t_est = time.perf_counter() - t0
    true_entities = truth_entities(records, truth)
    oracle = estimate(CaptureHistories.from_entities(true_entities, lists=lists), a.method, seed=a.seed)
    t0 = time.perf_counter()
    imp = impute_linkage(result, ImputationSettings(n_imputations=a.M, sampler=a.sampler), seed=a.seed)
    t_draw = time.perf_counter() - t0
    combined, _ = impute_and_estimate(imp, a.method, lists=lists, seed=a.seed, workers=a.workers)
    t_imp = time.perf_counter() - t0
    pairs = result.pairs
    size = int(pairs.memory_usage(deep=True).sum())
    per_record = len(pairs) / len(records)
    print(json.dumps({
        "what": "estimates", "persons": a.persons, "agencies": a.agencies, "seed": a.seed,
        "error_scale": a.error_scale, "M": a.M, "method": a.method, "sampler": a.sampler, "true_N": n_true,
        "oracle": _row(oracle), "single_threshold": _row(single), "imputation": _row(combined),
        "linkage_share_of_variance": round(combined.diagnostics["linkage_share_of_variance"], 3),
        "persons_drawn": [int(imp.diagnostics["persons_min"]), int(imp.diagnostics["persons_max"])],
        "persons_at_threshold": imp.diagnostics["persons_at_threshold"],
    }))
    print(json.dumps({
        "what": "time_s", "link": round(t_link, 2), "estimate": round(t_est, 2), "draw_M": round(t_draw, 2),
        "draw_and_estimate_M": round(t_imp, 2),
        "ratio_to_one_link_and_estimate": round((t_link + t_est + t_imp) / (t_link + t_est), 2),
    }))
    print(json.dumps({
        "what": "pairs", "records": len(records), "pairs_kept": len(pairs),
        "pairs_below_threshold": int((pairs["match_probability"] < result.settings.threshold).sum()),
        "bytes": size, "bytes_per_pair": round(size / max(len(pairs), 1), 1),
        "estimated_bytes_at_1M_records": int(size / len(records) * 1_000_000),
        "pairs_per_record": round(per_record, 3),
    }))
    labels = pair_truth_labels(pairs, truth.astype({"record_id": str}), entity="person_id")
    weights = pairs["match_weight"].fillna(np.inf).to_numpy(float)
    half = np.arange(len(pairs)) % 2 == 0  # calibrate on half, report on the other half
    cal = calibrate(weights[half], labels[half])
    raw = pairs["match_probability"].to_numpy(float)
    table = reliability_table(cal.predict(weights[~half]), labels[~half], bins=5)
    print(json.dumps({
        "what": "calibration", "pairs_held_out": int((~half).sum()),
        "brier_raw": round(brier_score(raw[~half], labels[~half]), 5),
        "brier_calibrated": round(brier_score(cal.predict(weights[~half]), labels[~half]), 5),
        "reliability_raw": reliability_table(raw[~half], labels[~half], bins=5)[
            ["pairs", "mean_probability", "observed_share"]].round(3).to_dict(orient="list"),
        "reliability_calibrated": table[["pairs", "mean_probability", "observed_share"]]
        .round(3).to_dict(orient="list"),
    }))


if __name__ == "__main__":
    main()
