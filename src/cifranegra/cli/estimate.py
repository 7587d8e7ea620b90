"""`cifranegra estimate FILE`: estimate the total number of people from a capture-history table."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from typing import TYPE_CHECKING, Any

from cifranegra.cli._inputs import (
    add_input_arguments,
    load,
    option_value,
    progress_printer,
    seed_arg,
)
from cifranegra.errors import CifranegraError, InputError
from cifranegra.estimation import api
from cifranegra.estimation.wording import flag

if TYPE_CHECKING:  # imported in run(): `estimate --help` loads neither pandas nor scipy
    from cifranegra.estimation.histories import CaptureHistories
    from cifranegra.estimation.result import EstimateResult

# CLI option → keyword of the estimator spec (every flag is the keyword with dashes)
_OPTIONS = (
    "select",
    "max_order",
    "pthresh",
    "model",
    "interval",
    "n_boot",
    "level",
    "ntop",
    "bootstrap_interval",
    "workers",
    "variant",
    "prior",
    "delta",
    "max_n",
    "chains",
    "samples",
    "burn_in",
    "thin",
    "max_classes",
    "preset",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "estimate",
        help="estimate the number of people, seen and unseen, from overlapping lists",
        description="Multiple systems estimation from a capture-history table. Default: log-linear models "
                    "selected by BIC (≤5 lists) or stepwise (more lists), with a bootstrap interval that "
                    "re-selects the model in every replicate. Each method accepts a number of lists "
                    "(docs/estimation.md, 'Limits'); an option the method does not take is an error, while an option "
                    "of a selection rule or interval that is not the one chosen (e.g. --pthresh with --select "
                    "bic) has no effect.",
    )
    add_input_arguments(p)
    p.add_argument("--method", default="loglinear", choices=sorted(api.METHODS),
                   help="estimator family (default: loglinear)")
    g = p.add_argument_group("log-linear models (--method loglinear; --interval also for other methods)")
    g.add_argument("--select", choices=["bic", "aic", "stepwise", "auto"], help="model selection (default: auto)")
    g.add_argument("--max-order", type=int, help="highest interaction order considered by bic/aic")
    g.add_argument("--pthresh", type=float, help="p-value threshold of stepwise selection (default 0.02)")
    g.add_argument("--model", help='fixed model as a generating class, e.g. "[12,13,4]" (lists numbered from 1)')
    g.add_argument("--interval", choices=["none", "profile", "wald", "bootstrap", "parametric"],
                   help="interval (loglinear's default: parametric bootstrap when the model is selected, profile "
                        "when it is fixed by --model); independence, saturated, chao and Rcapture's models take "
                        "the ones they offer (profile or wald)")
    g.add_argument("--ntop", type=int, help="models kept in the bootstrap (default: as MultipleSystemsEstimation)")
    g.add_argument("--bootstrap-interval", choices=["bca", "percentile", "pivot", "lognormal"],
                   help="how the replicates are read: bootstrap: bca|percentile; parametric: pivot|percentile|"
                        "lognormal (default: the first)")
    g = p.add_argument_group("shared")
    g.add_argument("--n-boot", type=int, help="bootstrap replicates (loglinear, sample-coverage; default 1000)")
    g.add_argument("--level", type=float, help="interval level (default 0.95)")
    g.add_argument("--workers", type=int, help="loglinear: processes for the fits and the bootstrap (default: one "
                   "per core, at most 8); lcmcr: threads (default: one per chain)")
    g = p.add_argument_group("sample coverage (sample-coverage)")
    g.add_argument("--variant", choices=["high", "low", "independence"],
                   help="Chao-Tsay estimator: high (default), low (one step, for low coverage), independence")
    g = p.add_argument_group("decomposable-graph averaging (dga)")
    g.add_argument("--prior", choices=["1/N", "rissanen", "uniform"], help="prior on N (default 1/N)")
    g.add_argument("--delta", type=float, help="hyper-Dirichlet prior count per cell (default 2^-K)")
    g.add_argument("--max-n", type=int, help="upper end of the grid for N (default: grown until the tail is empty)")
    g = p.add_argument_group("latent classes (lcmcr)")
    g.add_argument("--chains", type=int, help="MCMC chains (default 4)")
    g.add_argument("--samples", type=int, help="posterior samples kept per chain (default 1000)")
    g.add_argument("--burn-in", type=int, help="burn-in sweeps per chain (default 10000)")
    g.add_argument("--thin", type=int, help="thinning (default 20)")
    g.add_argument("--max-classes", type=int, help="truncation of the latent classes (default 10)")
    g.add_argument("--preset", choices=["default", "hrdag"], help="prior preset (hrdag: K* = min(2^J-1, 15))")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", type=option_value,
                   help="any other option of the method, by its name in docs/estimation.md and docs/bayesian.md "
                        "(repeatable), e.g. --option hottest=0.3")
    p.add_argument("--seed", type=seed_arg, default=None, help="random seed, a whole number ≥ 0 "
                                                              "(default: fresh; recorded in --json)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _labels(method: str) -> dict[str, str]:
    """How the CLI spells each option of ``method``: its flag, or ``--option NAME=``."""
    return {name: flag(name) if name in _OPTIONS else f"--option {name}=" for name in api.option_names(method)}


def _options(args: argparse.Namespace) -> dict[str, Any]:
    accepted = set(api.option_names(args.method, plumbing=True))
    opts: dict[str, Any] = {}
    ignored = []
    for kw in _OPTIONS:
        val = getattr(args, kw, None)
        if val is None:
            continue
        if kw in accepted:
            opts[kw] = val
        else:
            ignored.append(flag(kw))
    if ignored:
        raise InputError(
            f"{', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to --method {args.method}; "
            f"its options are: {', '.join(sorted(_labels(args.method).values()))}"
        )
    for name, value in args.option:
        if name in opts:
            raise InputError(f"{flag(name)} given twice (once as --option {name}=)")
        opts[name] = value
    api.check_estimator(args.method, opts, labels=_labels(args.method))
    if "progress" in accepted:  # drawn on stderr, so it never mixes with --json output
        opts["progress"] = progress_printer("bootstrap")
    return opts


def _payload(r: EstimateResult, seed: int | None) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("replicates", None)
    d.pop("draws", None)
    iv, note = r.reported_interval()
    d["interval"] = iv.to_dict() if iv else None
    if not iv and not note and r.settings.get("interval") == "none":
        note = "no interval was asked for (--interval none)"
    if note:
        d["interval_note"] = note
    d["at_observed_count"] = r.at_observed_count
    d["seed"] = seed if seed is not None else d.get("seed")
    return d


def run(args: argparse.Namespace) -> int:
    import warnings

    from cifranegra.estimation.histories import CaptureDataWarning, CaptureHistories, TooManyListsError
    from cifranegra.report.rows import result_text

    opts = _options(args)  # before reading the data: a wrong option fails fast
    try:
        with warnings.catch_warnings():
            if not args.json:  # the text prints the table's notes (summed duplicates): not twice
                warnings.simplefilter("ignore", CaptureDataWarning)
            data = load(args)
    except TooManyListsError as exc:
        api.check_lists(args.method, exc.n_lists)  # the method's own, lower limit says more
        raise
    if isinstance(data, CaptureHistories):
        api.check_lists(args.method, data.n_lists)
        r = api.estimate(data, args.method, seed=args.seed, **opts)
        if args.json:
            print(json.dumps(_payload(r, args.seed)))
        else:
            print(result_text(r))
            for w in data.notes:
                print(f"  note: {w}")
        return 0
    return _run_strata(args, data, opts)


def _run_strata(args: argparse.Namespace, data: dict[tuple[Any, ...], CaptureHistories], opts: dict[str, Any]) -> int:
    """One estimate per stratum, each with its own seed derived from ``--seed``; the stratified
    total with its joint interval; the pooled fit next to it."""
    from cifranegra.estimation.stratified import is_unknown, stratified_total, stratum_seed
    from cifranegra.report.rows import result_text, stratified_total_text
    from cifranegra.schema.records import stratum_labels

    base_seed = args.seed if args.seed is not None else secrets.randbits(62)
    skipped: dict[tuple[Any, ...], str] = getattr(data, "skipped", {})
    shown = stratum_labels(args.strata, [*data.keys(), *skipped.keys()])

    def text_of(key: tuple[Any, ...]) -> str:
        return ", ".join(f"{k}={v}" for k, v in shown[key].items())

    out: list[dict[str, Any]] = []
    texts: list[str] = []
    done: dict[str, EstimateResult] = {}
    failed: dict[str, int | None] = {}
    unknown: dict[str, int] = {}
    for key, h in data.items():
        label = text_of(key)
        seed = stratum_seed(base_seed, label)
        if any(is_unknown(v) for v in key):
            unknown[label] = int(h.observed)
        try:
            r = api.estimate(h, args.method, seed=seed, **opts)
        except CifranegraError as exc:
            out.append({"stratum": shown[key], "error": str(exc)})
            texts.append(f"{label}: cannot estimate: {exc}")
            if label not in unknown:
                failed[label] = int(h.observed)
            continue
        out.append({"stratum": shown[key], **_payload(r, seed)})
        texts.append(result_text(r, label=label))
        texts.extend(f"  note: {n}" for n in h.notes)
        if label not in unknown:
            done[label] = r
    seen_in: dict[tuple[Any, ...], int] = getattr(data, "skipped_observed", {})
    for key, why in skipped.items():
        label = text_of(key)
        out.append({"stratum": shown[key], "error": why})
        texts.append(f"{label}: cannot estimate: {why}")
        if any(is_unknown(v) for v in key):
            unknown[label] = int(seen_in.get(key, 0))
        else:
            failed[label] = seen_in.get(key)
    level = float(opts.get("level", 0.95))
    total = stratified_total(done, not_estimated=failed, unknown=unknown, level=level, seed=base_seed)
    pooled, pooled_error = _pooled(data, args, opts, base_seed)
    if args.json:
        from cifranegra._version import __version__

        # what made these numbers, once for the whole output (each stratum's entry has its own settings)
        body: dict[str, Any] = {"cifranegra_version": __version__, "method": args.method, "seed": base_seed,
                                "strata": out, "stratified_total": total.to_dict()}
        body["pooled"] = _payload(pooled, base_seed) if pooled is not None else {"error": pooled_error}
        body["comparison"] = total.comparison(None if pooled is None else pooled.estimate)
        print(json.dumps(body, default=str))
    else:
        print("\n\n".join([*texts, stratified_total_text(total, pooled, pooled_error)]))
    if all("error" in o for o in out):
        print("cifranegra: error: no stratum could be estimated", file=sys.stderr)
        return 2
    return 0


def _pooled(
    data: dict[tuple[Any, ...], CaptureHistories], args: argparse.Namespace, opts: dict[str, Any], seed: int
) -> tuple[EstimateResult | None, str | None]:
    """The pooled fit: every row of the file in one table, estimated with ``--seed`` itself (the
    same numbers as `estimate FILE` without --strata)."""
    whole = getattr(data, "pooled", None)
    if whole is None:
        return None, getattr(data, "pooled_error", None) or "the whole table could not be built"
    try:
        api.check_lists(args.method, whole.n_lists)
        return api.estimate(whole, args.method, seed=seed, **opts), None
    except CifranegraError as exc:
        return None, str(exc)
