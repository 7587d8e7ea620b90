"""`cifranegra estimate FILE`: estimate the total number of people from a capture-history table."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import sys
from typing import Any

from cifranegra.cli._inputs import add_input_arguments, load, progress_printer
from cifranegra.errors import CifranegraError, InputError
from cifranegra.estimation import api
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult

# CLI option → keyword of the estimator spec
_OPTIONS = {
    "select": "select",
    "max_order": "max_order",
    "pthresh": "pthresh",
    "model": "model",
    "interval": "interval",
    "n_boot": "n_boot",
    "level": "level",
    "ntop": "ntop",
    "bootstrap_interval": "bootstrap_interval",
    "workers": "workers",
    "chains": "chains",
    "samples": "samples",
    "burn_in": "burn_in",
    "thin": "thin",
}


def register(sub: argparse._SubParsersAction) -> None:
    api._load_builtin()
    p = sub.add_parser(
        "estimate",
        help="estimate the number of people, seen and unseen, from overlapping lists",
        description="Multiple systems estimation from a capture-history table. Default: log-linear models "
                    "selected by BIC (≤5 lists) or stepwise (more lists), with a bootstrap interval that "
                    "re-selects the model in every replicate.",
    )
    add_input_arguments(p)
    p.add_argument("--method", default="loglinear", choices=sorted(api.METHODS),
                   help="estimator family (default: loglinear)")
    p.add_argument("--select", choices=["bic", "aic", "stepwise", "auto"], help="model selection (default: auto)")
    p.add_argument("--max-order", type=int, help="highest interaction order considered by bic/aic")
    p.add_argument("--pthresh", type=float, help="p-value threshold of stepwise selection (default 0.02)")
    p.add_argument("--model", help='fixed model as a generating class, e.g. "[12,13,4]" (lists numbered from 1)')
    p.add_argument("--interval", choices=["none", "profile", "wald", "bootstrap"],
                   help="interval (default: bootstrap when the model is selected, profile when fixed)")
    p.add_argument("--n-boot", type=int, help="bootstrap replicates (default 1000)")
    p.add_argument("--level", type=float, help="interval level (default 0.95)")
    p.add_argument("--ntop", type=int, help="models kept in the bootstrap (default: as MultipleSystemsEstimation)")
    p.add_argument("--bootstrap-interval", choices=["bca", "percentile"], help="bootstrap interval type (default bca)")
    p.add_argument("--workers", type=int, help="processes for the bootstrap/sampler (default: all cores)")
    p.add_argument("--chains", type=int, help="MCMC chains (Bayesian methods)")
    p.add_argument("--samples", type=int, help="posterior samples per chain (Bayesian methods)")
    p.add_argument("--burn-in", type=int, help="burn-in iterations (Bayesian methods)")
    p.add_argument("--thin", type=int, help="thinning (Bayesian methods)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fresh; recorded in --json)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _accepted(factory: Any) -> set[str]:
    if dataclasses.is_dataclass(factory):
        return {f.name for f in dataclasses.fields(factory)}
    return set(inspect.signature(factory).parameters)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    factory = api.METHODS[args.method]
    accepted = _accepted(factory)
    opts: dict[str, Any] = {}
    ignored = []
    for cli, kw in _OPTIONS.items():
        val = getattr(args, cli, None)
        if val is None:
            continue
        if kw in accepted:
            opts[kw] = val
        else:
            ignored.append("--" + cli.replace("_", "-"))
    if ignored:
        raise InputError(f"{', '.join(ignored)} do(es) not apply to --method {args.method}")
    if "progress" in accepted:  # drawn on stderr, so it never mixes with --json output
        opts["progress"] = progress_printer("bootstrap")
    return opts


def _payload(r: EstimateResult, seed: int | None) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("replicates", None)
    d.pop("draws", None)
    iv = r.interval()
    d["interval"] = iv.to_dict() if iv else None
    d["seed"] = seed if seed is not None else d.get("seed")
    return d


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "∞" if x > 0 else str(x)
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def _text(r: EstimateResult, label: str | None = None) -> str:
    iv = r.interval()
    head = f"{label}: " if label else ""
    lines = [
        f"{head}{r.method}" + (f" model {r.model}" if r.model else "")
        + f" on {r.n_lists} lists ({', '.join(r.lists)})",
        f"  observed        {r.observed:,}",
        f"  estimated total {_fmt(r.estimate)}",
        f"  never observed  {_fmt(r.dark_figure)}",
    ]
    if iv:
        lines.append(f"  {iv.level:.0%} interval    {_fmt(iv.lower)} – {_fmt(iv.upper)} ({iv.method})")
    for w in r.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    data = load(args)
    opts = _options(args)
    if isinstance(data, CaptureHistories):
        r = api.estimate(data, args.method, seed=args.seed, **opts)
        if args.json:
            print(json.dumps(_payload(r, args.seed)))
        else:
            print(_text(r))
            for w in data.notes:
                print(f"  note: {w}")
        return 0
    out = []
    texts = []
    for key, h in data.items():
        stratum = dict(zip(args.strata, key, strict=True))
        try:
            r = api.estimate(h, args.method, seed=args.seed, **opts)
        except CifranegraError as exc:
            out.append({"stratum": stratum, "error": str(exc)})
            texts.append(f"{', '.join(f'{k}={v}' for k, v in stratum.items())}: cannot estimate: {exc}")
            continue
        out.append({"stratum": stratum, **_payload(r, args.seed)})
        texts.append(_text(r, label=", ".join(f"{k}={v}" for k, v in stratum.items())))
        texts.extend(f"  note: {n}" for n in h.notes)
    for key, why in getattr(data, "skipped", {}).items():
        stratum = dict(zip(args.strata, key, strict=True))
        out.append({"stratum": stratum, "error": why})
        texts.append(f"{', '.join(f'{k}={v}' for k, v in stratum.items())}: cannot estimate: {why}")
    if args.json:
        print(json.dumps({"strata": out}, default=str))
    else:
        print("\n\n".join(texts))
    if all("error" in o for o in out):
        print("cifranegra: error: no stratum could be estimated", file=sys.stderr)
        return 2
    return 0
