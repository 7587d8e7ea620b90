"""``cifranegra simulate DIR``: synthetic Mexican victims, agencies' lists, a ready project file and
the truth (docs/synthetic.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

from cifranegra.errors import InputError

# the simulator (numpy, pandas, name tables) is imported when a simulation runs, not for `--help`;
# its limits are quoted in the help from these copies, kept equal to the simulator's own
# (MAX_PERSONS, MAX_AGENCIES) by tests/test_import_laziness.py
_HELP_MAX_PERSONS = 2_000_000
_HELP_MAX_AGENCIES = 20
_LAZY = ("MAX_AGENCIES", "MAX_PERSONS", "prepare_folder", "simulate")


def __getattr__(name: str) -> Any:
    """The simulator's names, loaded on first use (and replaceable, e.g. by tests)."""
    if name in _LAZY:
        value = getattr(import_module("cifranegra.datasets.synthetic.simulate"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_self = sys.modules[__name__]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="write a synthetic population's agency lists, a ready project file and the truth",
        description="Simulate victims with Mexican names, dates, states and CURPs, K agencies "
        "that record them with heterogeneous probabilities, referrals and recording errors, and "
        "write DIR/project.toml, each agency's file in its own format under DIR/lists/, and the "
        "truth (truth.csv, truth_by_stratum.csv, persons.csv with every name) under DIR/truth/. "
        "Then: cifranegra run DIR/project.toml.",
    )
    p.add_argument("directory", metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--persons", type=int, default=5000,
                   help=f"true N, from 1 to {_HELP_MAX_PERSONS:,} (default 5000)")
    p.add_argument("--agencies", type=int, default=6,
                   help=f"number of agencies K, from 1 to {_HELP_MAX_AGENCIES} (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed, a whole number ≥ 0 (default 0)")
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
    p.add_argument("--no-persons", action="store_true",
                   help="do not write truth/persons.csv (the population with every name and CURP)")
    p.add_argument("--force", action="store_true", help="overwrite the files of an earlier simulation in DIR")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    """Every option checked before anything is drawn or allocated; returns the period."""
    MAX_PERSONS, MAX_AGENCIES = _self.MAX_PERSONS, _self.MAX_AGENCIES
    if not 1 <= args.persons <= MAX_PERSONS:
        raise InputError(
            f"--persons must be from 1 to {MAX_PERSONS:,}, not {args.persons:,}: every simulated person is "
            "held in memory (about 1.5 KB each), and the largest estimate of people in modern slavery in "
            "Mexico (about 850,000) fits below the limit"
        )
    if not 1 <= args.agencies <= MAX_AGENCIES:
        raise InputError(
            f"--agencies must be from 1 to {MAX_AGENCIES}, not {args.agencies}: K lists give 2^K capture "
            f"patterns, and {MAX_AGENCIES} lists is the largest real table the estimators are checked on"
        )
    if args.seed < 0:
        raise InputError(f"--seed must be a whole number of at least 0, not {args.seed}")
    if not math.isfinite(args.error_scale) or args.error_scale < 0:
        raise InputError("--error-scale must be a number of at least 0 (1 for the default rates, 0 for none)")
    try:
        period = (dt.date.fromisoformat(args.period[0]), dt.date.fromisoformat(args.period[1]))
    except ValueError:
        raise InputError("--period takes two ISO dates, e.g. 2023-01-01 2023-12-31") from None
    if period[1] < period[0]:
        raise InputError("--period: the end is before the start")
    return period


def run(args: argparse.Namespace) -> int:
    period = _check(args)
    # the folder is checked (and created) before anything is drawn: a large population takes minutes
    _self.prepare_folder(
        args.directory, overwrite=args.force, planned=("project.toml", "manifest.json", "lists", "truth")
    )
    sim = _self.simulate(
        n_persons=args.persons,
        n_agencies=args.agencies,
        seed=args.seed,
        error_scale=args.error_scale,
        period=period,
    )
    manifest = sim.write(args.directory, persons=not args.no_persons, layout="project", overwrite=args.force)
    if args.json:
        json.dump(manifest, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    d = Path(args.directory)
    print(f"true N {sim.n_persons}, recorded by at least one agency {sim.n_observed}")
    for entry in manifest["lists"]:
        extra = f" (mapping {d / entry['mapping']})" if "mapping" in entry else ""
        print(f"  {entry['source']:20s} {entry['n_records']:>8d} records  {d / entry['file']}{extra}")
    truth = [str(d / str(manifest[k])) for k in ("truth", "truth_by_stratum", "persons") if manifest[k]]
    print(f"truth: {', '.join(truth)}" + (" (persons.csv: every name)" if manifest["persons"] else ""))
    print(f"check the lists: {validate_command(d, manifest)}")
    print(f"then estimate:   cifranegra run {d / 'project.toml'}")
    return 0


def validate_command(directory: Path, manifest: dict[str, object]) -> str:
    """The `cifranegra validate` command line for the lists just written (one glob per format)."""
    suffixes = dict.fromkeys(str(e["file"]).rsplit(".", 1)[-1] for e in manifest["lists"])  # type: ignore[attr-defined]
    return "cifranegra validate " + " ".join(str(directory / "lists" / f"*.{s}") for s in suffixes)
