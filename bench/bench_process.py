"""Whole-process timings of the `cifranegra estimate` command against R's (issue #17, item 7).

Users call the CLI, so the clock starts before the interpreter and stops after it exits: start-up,
imports, reading the table, the fit, the output. Each case is `python -m cifranegra estimate
SparseMSE_UKdat_5 ... --seed S --json` in its own process; the cases run round-robin (case 1, 2, ...,
then again), so that a change in the machine's load falls on every case alike, and the ratios to R
are measured in one run. Reported per case: median wall seconds over the runs (with min-max), median
CPU seconds of the process and of every process it started (`RUSAGE_CHILDREN`, user + system), and
R's whole-process seconds over ours. The machine's load (``/proc/loadavg``) is printed before and after:
on a shared machine wall time is CPU time stretched by the queue, so read the CPU column too.

LCMCR is also measured as effective draws of N (the sampler's own bulk ESS, from `--json`) per CPU
second of the whole process, against R LCMCR's measured ones (bench/reference/r_lcmcr_ess.csv: coda
effective size of N over 1.1 M sweeps, per CPU second of R's process).

    python bench/bench_process.py                 # 5 runs per case, the markdown table
    python bench/bench_process.py --runs 7 --cases bic dga
    PYTHONPATH=/other/checkout/src python bench/bench_process.py   # time another tree

The first run of each case is a warm-up, not counted (it also fills numba's on-disk cache, which a
user's second call finds too). Targets (issue #17): at least 10x R where R takes over 5 s, under 0.5 s
whole-process where R is faster than that.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLE = "SparseMSE_UKdat_5"

#: R's whole-process seconds on this machine kind (issue #17; bench/reference/SOURCES.md)
R_WHOLE_PROCESS = {
    "bic": ("MultipleSystemsEstimation, all-model BIC, no interval", 12.9),
    "bic-bca": ("MultipleSystemsEstimation, BIC + BCa 1000", 103.7),
    "bic-parametric": ("no R peer; set against MultipleSystemsEstimation's BIC + BCa 1000", 103.7),
    "lcmcr": ("LCMCR, 1.1 M sweeps", 13.4),
    "dga": ("dga", 1.65),
    "mh-poisson2": ("Rcapture closedp.t: 0.07 s in session; whole process not measured", None),
    "mth-poisson2": ("Rcapture closedp.t: 0.07 s in session; whole process not measured", None),
}


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]


CASES = (
    Case("bic", ("--select", "bic", "--interval", "none")),
    Case("bic-bca", ("--select", "bic", "--interval", "bootstrap", "--bootstrap-interval", "bca", "--n-boot", "1000")),
    Case("bic-parametric", ("--select", "bic", "--interval", "parametric", "--n-boot", "1000")),
    Case("lcmcr", ("--method", "lcmcr")),
    Case("dga", ("--method", "dga")),
    Case("mh-poisson2", ("--method", "mh-poisson2")),
    Case("mth-poisson2", ("--method", "mth-poisson2")),
)


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    ess: list[float] = field(default_factory=list)
    failed: str | None = None


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_once(case: Case, seed: int) -> tuple[float, float, dict]:
    """One whole process: (wall seconds, CPU seconds of it and its children, its JSON output)."""
    cmd = [sys.executable, "-m", "cifranegra", "estimate", TABLE, *case.argv, "--seed", str(seed), "--json"]
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:])}: exit {done.returncode}: {done.stderr.strip()[-400:]}")
    return wall, cpu, json.loads(done.stdout)


def r_lcmcr(table: str = TABLE) -> dict[str, float]:
    with (HERE / "reference" / "r_lcmcr_ess.csv").open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["dataset"] == table)
    return {k: float(row[k]) for k in ("ess_N", "elapsed_s", "cpu_s", "ess_per_cpu_s", "median")}


def measure(cases: list[Case], runs: int) -> dict[str, Timings]:
    out = {c.name: Timings() for c in cases}
    for rnd in range(runs + 1):  # round 0: warm-up
        for case in cases:
            t = out[case.name]
            if t.failed:
                continue
            try:
                wall, cpu, result = run_once(case, seed=rnd + 1)
            except RuntimeError as exc:
                t.failed = str(exc)
                continue
            if rnd == 0:
                continue
            t.wall.append(wall)
            t.cpu.append(cpu)
            ess = (result.get("diagnostics") or {}).get("ess_bulk")
            if ess is not None:
                t.ess.append(float(ess))
            print(f"  round {rnd} {case.name}: {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr)
    return out


def _target(r_seconds: float | None) -> tuple[str, float]:
    if r_seconds is None or r_seconds <= 5.0:
        return "< 0.5 s", 0.5
    return ">= 10x R", r_seconds / 10.0


def report(cases: list[Case], timings: dict[str, Timings], runs: int, load: tuple[str, str]) -> str:
    lines = [
        f"`python bench/bench_process.py --runs {runs}` — {platform.node() or 'machine'}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"load average (1/5/15 min) before: {load[0]}, after: {load[1]}",
        "",
        "| case | flags | R whole process (s) | ours, wall median (min-max) s | ours, CPU median s "
        "| R / ours (wall) | R / ours (CPU) | target | met (wall / CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for case in cases:
        t = timings[case.name]
        what, r_s = R_WHOLE_PROCESS.get(case.name, ("", None))
        flags = " ".join(case.argv)
        if t.failed or not t.wall:
            lines.append(f"| {case.name} | `{flags}` | {r_s or '-'} | failed: {t.failed} | | | | | |")
            continue
        wall, cpu = statistics.median(t.wall), statistics.median(t.cpu)
        target, limit = _target(r_s)
        ratio_w = f"{r_s / wall:.1f}x" if r_s else "-"
        ratio_c = f"{r_s / cpu:.1f}x" if r_s else "-"
        met = f"{'yes' if wall <= limit else 'no'} / {'yes' if cpu <= limit else 'no'}"
        lines.append(
            f"| {case.name} | `{flags}` | {r_s if r_s else '-'} ({what}) | {wall:.2f} ({min(t.wall):.2f}-"
            f"{max(t.wall):.2f}) | {cpu:.2f} | {ratio_w} | {ratio_c} | {target} | {met} |"
        )
    lc = timings.get("lcmcr")
    if lc and lc.ess and lc.cpu:
        r = r_lcmcr()
        per_cpu = [e / c for e, c in zip(lc.ess, lc.cpu, strict=True)]
        per_wall = [e / w for e, w in zip(lc.ess, lc.wall, strict=True)]
        ours_cpu, ours_wall = statistics.median(per_cpu), statistics.median(per_wall)
        lines += [
            "",
            "LCMCR, effective draws of N per second of the whole process (ours: bulk ESS from `--json`; "
            "R: coda effective size over 1.1 M sweeps, bench/reference/r_lcmcr_ess.csv):",
            "",
            "| | ESS of N | CPU s | wall s | ESS per CPU s | ESS per wall s |",
            "|---|---:|---:|---:|---:|---:|",
            f"| R LCMCR (1.1 M sweeps, seed 12345) | {r['ess_N']:.0f} | {r['cpu_s']:.2f} | {r['elapsed_s']:.2f} "
            f"| {r['ess_per_cpu_s']:.0f} | {r['ess_N'] / r['elapsed_s']:.0f} |",
            f"| cifranegra `--method lcmcr` (median of {len(lc.ess)}) | {statistics.median(lc.ess):.0f} "
            f"| {statistics.median(lc.cpu):.2f} | {statistics.median(lc.wall):.2f} | {ours_cpu:.0f} "
            f"| {ours_wall:.0f} |",
            f"| ours / R | | | | {ours_cpu / r['ess_per_cpu_s']:.1f}x "
            f"| {ours_wall / (r['ess_N'] / r['elapsed_s']):.1f}x |",
        ]
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs per case (default 5; >= 5 for a median)")
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES], help="default: all")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.cases or c.name in args.cases]
    before = _loadavg()
    timings = measure(cases, args.runs)
    print(report(cases, timings, args.runs, (before, _loadavg())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
