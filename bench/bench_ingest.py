"""Benchmark: read, validate and normalize 1,000,000 agency records (target ≤ 60 s, < 4 GB).

    /work/venv/bin/python bench/bench_ingest.py [--records 1000000] [--format csv|parquet]

Writes a synthetic fiscalía-style list (semicolon-separated CP1252 CSV, Spanish headers,
dd/mm/yyyy dates, the simulator's recording errors) once into a temporary folder, then reads it in
a fresh process with ``cifranegra.ingest.read_list(..., on_error="report")`` and reports the wall
time and the peak resident memory of that process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_file(n_records: int, directory: Path, fmt: str) -> Path:
    from cifranegra.datasets.synthetic import default_profiles, simulate

    prof = dataclasses.replace(
        default_profiles()[0],
        capture_rate=0.99999,
        heterogeneity=0.0,
        focus={},
        duplicate_rate=0.0,
        file_format=fmt,
    )
    sim = simulate(n_persons=n_records, n_agencies=1, seed=7, profiles=[prof], referrals=[])
    sim.write(directory, persons=False)
    return directory / f"{prof.id}.{'csv' if fmt == 'csv' else 'parquet'}"


def run(path: str) -> None:
    from cifranegra.ingest import read_list

    t0, c0 = time.perf_counter(), time.process_time()
    records, report = read_list(path, on_error="report")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "records": len(records),
                "seconds": round(elapsed, 2),
                "cpu_seconds": round(cpu, 2),
                "peak_rss_mb": round(peak_mb),
                "problems": len(report.problems),
                "errors": len(report.errors),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        run(args.run)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = make_file(args.records, Path(tmp), args.format)
        print(
            f"wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        out = subprocess.run(
            [sys.executable, __file__, "--run", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout)
        result["format"] = args.format
        print(json.dumps(result))


if __name__ == "__main__":
    main()
