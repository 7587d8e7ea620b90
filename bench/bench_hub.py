"""Load on the hub: many concurrent small uploads, and the latency of a 10,000-record file (issue #16).

Starts a real ``cifranegra hub serve HOME --workers N`` on a free loopback port (a fresh home in a
temporary folder), makes an agency, its submitter and a study through the API, then:

1. **small**: ``--uploads`` small encoded files (``--records`` records each; ``--distinct`` different
   files, each upload with its own Idempotency-Key, so each is a new submission) sent by one httpx
   async client with ``--in-flight`` requests at a time. Every answer must be 201; afterwards the
   database must hold exactly one submission per upload (rows counted, ids distinct) — nothing lost,
   nothing doubled;
2. **big**: a ``--big-records`` encoded file uploaded ``--big-uploads`` times, ``--big-in-flight`` at
   a time (target: p95 under 1 s with 2 workers).

Prints p50/p95/max latency and uploads per second for each, and the machine's load (CPU count, load
average before, during and after: the client runs on the same machine and competes with the server);
``--out FILE`` writes the same as JSON.

    python bench/bench_hub.py [--uploads 1000] [--in-flight 64] [--workers 2] [--out hub.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cifranegra.service.config import load_home  # noqa: E402
from cifranegra.service.db import Submission, make_engine, session_factory  # noqa: E402
from service.encoded_factory import encoded_bytes  # noqa: E402
from service.live_hub import API, LiveHub, StudyAccounts, init_home, setup_study  # noqa: E402

PARQUET = "application/vnd.apache.parquet"


class LoadSampler:
    """The 1-minute load average, sampled every second while the bench runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) by linear interpolation between order statistics."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def upload_many(url: str, acc: StudyAccounts, files: list[bytes], n: int, in_flight: int,
                      prefix: str) -> dict[str, Any]:
    """Send ``n`` uploads (``files`` in turn, key ``prefix-i``), ``in_flight`` at a time."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    ids: list[str] = []
    n_records: set[int] = set()
    failures: list[str] = []
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                start = time.perf_counter()
                try:
                    r = await client.post(
                        f"{API}/studies/{acc.study}/submissions", content=files[i % len(files)],
                        headers={"Authorization": f"Bearer {acc.submitter}", "Idempotency-Key": f"{prefix}-{i}",
                                 "Content-Type": PARQUET},
                    )
                    key = str(r.status_code)
                    if r.status_code == 201:
                        ids.append(r.json()["id"])
                        n_records.add(int(r.json()["n_records"]))
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                    failures.append(f"{prefix}-{i}: {key} after {time.perf_counter() - start:.3f} s ({exc})")
                latencies.append(time.perf_counter() - start)
                statuses[key] = statuses.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        wall = time.perf_counter() - t0
    return {
        "uploads": n, "in_flight": in_flight, "bytes_each": len(files[0]), "statuses": statuses,
        "errors": n - statuses.get("201", 0), "distinct_ids": len(set(ids)),
        "n_records_answered": sorted(n_records), "failures": failures, "wall_s": wall,
        "uploads_per_s": n / wall, "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies),
    }


def count_rows(home_dir: Path) -> int:
    engine = make_engine(load_home(home_dir).db_url)
    try:
        with session_factory(engine)() as session:
            return int(session.scalar(select(func.count()).select_from(Submission)) or 0)
    finally:
        engine.dispose()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()
    home_dir = init_home(workdir / "home")
    study = "benchstudy"
    small_files = [encoded_bytes(study, "Agency A", args.records, seed=i) for i in range(args.distinct)]
    big_file = encoded_bytes(study, "Agency A", args.big_records, seed=99)
    with LiveHub(home_dir, workers=args.workers) as hub, LoadSampler() as sampler:
        acc = setup_study(hub.url, study=study)
        warm = asyncio.run(upload_many(hub.url, acc, small_files, args.warmup, min(args.warmup, 8), "warm"))
        small = asyncio.run(upload_many(hub.url, acc, small_files, args.uploads, args.in_flight, "small"))
        rows_after_small = count_rows(home_dir)
        big = asyncio.run(upload_many(hub.url, acc, [big_file], args.big_uploads, args.big_in_flight, "big"))
        rows_after_big = count_rows(home_dir)
    small["rows_stored"] = rows_after_small - args.warmup
    big["rows_stored"] = rows_after_big - rows_after_small
    big["records_each"] = args.big_records
    small["records_each"] = args.records
    return {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_before": list(load_before), "load_after": list(os.getloadavg()),
                    "load_1min_during_mean": statistics.fmean(sampler.samples) if sampler.samples else None,
                    "load_1min_during_max": max(sampler.samples) if sampler.samples else None},
        "settings": {"workers": args.workers, "database": "sqlite (WAL, synchronous=FULL)"},
        "warmup_errors": warm["errors"],
        "small": small,
        "big": big,
        "ok": small["errors"] == 0 and big["errors"] == 0 and warm["errors"] == 0
        and small["rows_stored"] == small["distinct_ids"] == args.uploads
        and big["rows_stored"] == big["distinct_ids"] == args.big_uploads
        and big["n_records_answered"] == [args.big_records],
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"{'phase':<8}{'uploads':>9}{'in flight':>11}{'bytes':>11}{'errors':>8}{'stored':>8}"
          f"{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'uploads/s':>11}")
    for name in ("small", "big"):
        r = result[name]
        print(f"{name:<8}{r['uploads']:>9}{r['in_flight']:>11}{r['bytes_each']:>11,}{r['errors']:>8}"
              f"{r['rows_stored']:>8}{r['p50_s']:>9.3f}{r['p95_s']:>9.3f}{r['max_s']:>9.3f}{r['uploads_per_s']:>11.1f}")
    m = result["machine"]
    print(f"workers {result['settings']['workers']}; {m['cpus']} CPUs; load average before "
          f"{m['load_before'][0]:.2f}, during (1-min) mean {m['load_1min_during_mean'] or 0:.2f} max "
          f"{m['load_1min_during_max'] or 0:.2f}, after {m['load_after'][0]:.2f}; "
          f"{'OK: no error, nothing lost' if result['ok'] else 'FAILED: errors or lost uploads'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--uploads", type=int, default=1000, help="small uploads (default 1000)")
    parser.add_argument("--in-flight", type=int, default=64, help="small uploads in flight at once (default 64)")
    parser.add_argument("--records", type=int, default=5, help="records in each small file (default 5)")
    parser.add_argument("--distinct", type=int, default=50, help="different small files (default 50)")
    parser.add_argument("--warmup", type=int, default=16, help="uploads before measuring (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--big-records", type=int, default=10_000, help="records in the big file (default 10000)")
    parser.add_argument("--big-uploads", type=int, default=20, help="uploads of the big file (default 20)")
    parser.add_argument("--big-in-flight", type=int, default=1, help="big uploads in flight (default 1)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (the hub's home and logs)")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True)
        result = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
            result = run(args, Path(tmp))
    print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
