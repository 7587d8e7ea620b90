"""Benchmark: simulate 1,000,000 persons and six agencies' lists (target ≤ 60 s).

    /work/venv/bin/python bench/bench_simulate.py [--persons 1000000] [--write]

Reports wall and CPU seconds of ``simulate()`` (and of ``write()`` with ``--write``), the number
of records produced and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="also time writing the files")
    ap.add_argument("--rates", action="store_true",
                    help="print realized capture and recording-error rates against the parameters")
    args = ap.parse_args()
    from cifranegra.datasets.synthetic import simulate

    t0, c0 = time.perf_counter(), time.process_time()
    sim = simulate(n_persons=args.persons, n_agencies=6, seed=args.seed)
    result: dict[str, object] = {
        "persons": args.persons,
        "records": len(sim.truth),
        "observed_persons": sim.n_observed,
        "simulate_seconds": round(time.perf_counter() - t0, 2),
        "simulate_cpu_seconds": round(time.process_time() - c0, 2),
    }
    if args.write:
        with tempfile.TemporaryDirectory() as tmp:
            t1 = time.perf_counter()
            sim.write(tmp)
            result["write_seconds"] = round(time.perf_counter() - t1, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))
    if args.rates:
        print_rates(sim)


def print_rates(sim) -> None:  # type: ignore[no-untyped-def]
    """Realized against expected rates, per agency (markdown table)."""
    print("| agency | P(capture) expected | realized | referred | records | error | rate "
          "| realized |")
    print("|---|---|---|---|---|---|---|---|")
    t = sim.truth
    for k, prof in enumerate(sim.profiles):
        direct = sim.captured[:, k] & ~sim.referred[:, k]
        sub = t[t["source"] == prof.id]
        flags = sub["errors"].str.split("|")
        for j, kind in enumerate(("typo", "missing_curp", "missing_second_surname",
                                  "wrong_state", "unknown_exploitation")):
            rate = getattr(prof.errors, kind)
            realized = flags.map(lambda f, kind=kind: kind in f).mean()
            head = (f"| {prof.id} | {sim.capture_probability[:, k].mean():.4f} | "
                    f"{direct.mean():.4f} | {int(sim.referred[:, k].sum())} | {len(sub)} "
                    if j == 0 else "| | | | | ")
            print(f"{head}| {kind} | {rate:.3f} | {realized:.3f} |")


if __name__ == "__main__":
    main()
