"""``cifranegra compare FILE [--json]``: every model family on one capture-history table, side by
side, plus the estimates with each list left out and with chosen lists merged.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from cifranegra.cli._inputs import add_input_arguments, seed_arg
from cifranegra.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="estimate with every model family and show the results side by side",
        description="Fit log-linear (lowest BIC, stepwise; bootstrap intervals), independence, "
        "Chao, Rcapture's Mth heterogeneity models (Poisson2, Darroch, Gamma3.5), "
        "sample coverage, latent classes (LCMCR) and decomposable-graph averaging (dga) to one "
        "capture-history table (0/1 column per list plus 'count', or one row per person with --per-person), "
        "then re-estimate with each list "
        "left out and with the --merge groups merged. A family that cannot apply says why.",
    )
    add_input_arguments(p, strata_help="not taken: compare works on one table; select a stratum's rows and run "
                        "it once per stratum (estimate --strata estimates every stratum)")
    p.add_argument("--json", action="store_true", help="print one JSON object (table, sensitivity, settings)")
    p.add_argument("--seed", type=seed_arg, default=None,
                   help="seed for every random step, a whole number ≥ 0 (default: fresh)")
    p.add_argument("--n-boot", type=int, default=200, metavar="B", help="bootstrap replicates (default 200)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument(
        "--methods",
        default=None,
        metavar="LIST",
        help="comma-separated families (default: all but m0 and mh-*, and chapman unless the table has two "
        "lists): loglinear-bic, loglinear-stepwise, "
        "independence, chao, sample-coverage, sample-coverage-low, lcmcr, dga, mth-poisson2, mth-darroch, "
        "mth-gamma3.5, m0, mh-chao, mh-poisson2, mh-darroch, mh-gamma3.5, chapman",
    )
    p.add_argument(
        "--merge",
        action="append",
        default=[],
        metavar="A,B",
        help="also estimate with these lists merged into one (repeatable)",
    )
    p.add_argument("--no-sensitivity", action="store_true", help="skip the drop-one-list and merge rows")
    p.add_argument("--chains", type=int, default=None, help="LCMCR chains")
    p.add_argument("--samples", type=int, default=None, help="LCMCR draws kept per chain")
    p.add_argument("--burn-in", type=int, default=None, help="LCMCR burn-in sweeps per chain")
    p.set_defaults(func=run)


def _read(args):
    from cifranegra.cli._inputs import load

    h = load(args)
    if isinstance(h, dict):
        raise InputError(
            "compare works on one capture-history table; with --strata, run it once per stratum "
            "(select the stratum's rows first)"
        )
    return h


def run(args) -> int:
    from cifranegra.estimation.compare import compare
    from cifranegra.report.rows import comparison_text

    h = _read(args)
    families = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    lc: dict[str, Any] = {}
    if args.chains is not None:
        lc["chains"] = args.chains
    if args.samples is not None:
        lc["samples"] = args.samples
    if args.burn_in is not None:
        lc["burn_in"] = args.burn_in
    merges = [[x.strip() for x in m.split(",") if x.strip()] for m in args.merge]
    result = compare(
        h,
        families=families,
        seed=args.seed,
        n_boot=args.n_boot,
        level=args.level,
        options={"lcmcr": lc},
        sensitivity=not args.no_sensitivity,
        merges=merges,
    )
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(comparison_text(result, f"{h.source or args.file}: {h.n_lists} lists, {h.observed:,} people observed"))
    return 0
