"""``cifranegra simulate DIR``: synthetic Mexican victims, agencies' lists and the truth."""

from __future__ import annotations

import datetime as dt
import json
import sys

from cifranegra.datasets.synthetic import simulate
from cifranegra.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="write a synthetic population's agency lists and the truth",
        description="Simulate victims with Mexican names, dates, states and CURPs, K agencies "
        "that record them with heterogeneous probabilities, referrals and recording errors, and "
        "write each agency's file in its own format with truth.csv and truth_by_stratum.csv.",
    )
    p.add_argument("directory", metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--persons", type=int, default=5000, help="true N (default 5000)")
    p.add_argument("--agencies", type=int, default=6, help="number of agencies K (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--error-scale",
        type=float,
        default=1.0,
        help="multiply every recording-error rate (default 1; 0 for none)",
    )
    p.add_argument(
        "--period",
        nargs=2,
        metavar=("START", "END"),
        default=("2023-01-01", "2023-12-31"),
        help="registration period, ISO dates (default the year 2023)",
    )
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.persons < 1 or args.agencies < 1:
        raise InputError("--persons and --agencies must be at least 1")
    if args.error_scale < 0:
        raise InputError("--error-scale must not be negative")
    try:
        period = (dt.date.fromisoformat(args.period[0]), dt.date.fromisoformat(args.period[1]))
    except ValueError:
        raise InputError("--period takes two ISO dates, e.g. 2023-01-01 2023-12-31") from None
    if period[1] < period[0]:
        raise InputError("--period: the end is before the start")
    sim = simulate(
        n_persons=args.persons,
        n_agencies=args.agencies,
        seed=args.seed,
        error_scale=args.error_scale,
        period=period,
    )
    manifest = sim.write(args.directory)
    if args.json:
        json.dump(manifest, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"true N {sim.n_persons}, recorded by at least one agency {sim.n_observed}")
    for entry in manifest["lists"]:  # type: ignore[attr-defined]
        extra = f" (mapping {entry['mapping']})" if "mapping" in entry else ""
        print(f"  {entry['source']:20s} {entry['n_records']:>8d} records  {entry['file']}{extra}")
    print(f"truth: {args.directory}/truth.csv, {args.directory}/truth_by_stratum.csv")
    return 0
