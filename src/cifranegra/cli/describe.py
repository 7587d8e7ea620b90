"""`cifranegra describe FILE`: list sizes, overlaps and capture patterns.

Works from the observed patterns only, so it summarizes tables with more lists than any estimator
takes (up to 62; docs/estimation.md, 'Limits'), without a 2^K table.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cifranegra.cli._inputs import add_input_arguments, load_descriptions


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="list sizes, pairwise overlaps and capture patterns of a table",
                       description="Describe a capture-history table: list sizes, pairwise overlaps (pairs "
                                   "that never overlap are flagged), people by number of lists, patterns. "
                                   "Reads tables of up to 62 lists.")
    add_input_arguments(p, strata_help="stratum columns: one description per stratum")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _text(d: dict[str, Any]) -> str:
    lists = d["lists"]
    lines = [f"{d['source'] or 'table'}: {len(lists)} lists, {d['observed']} people observed", "", "list sizes:"]
    for name, size in d["list_sizes"].items():
        lines.append(f"  {name:<12} {size:>8}")
    lines += ["", "pairwise overlaps:"]
    for i, a in enumerate(lists):
        for b in lists[i + 1 :]:
            n = d["overlaps"][f"{a}&{b}"]
            flag = "   <- no overlap" if n == 0 else ""
            lines.append(f"  {a + ' & ' + b:<24} {n:>8}{flag}")
    lines += ["", "people by number of lists:"]
    for m, c in d["by_number_of_lists"].items():
        lines.append(f"  on {m:>2} list(s) {c:>8}")
    lines += ["", "patterns (" + " ".join(lists) + "):"]
    for pattern, c in d["patterns"].items():
        lines.append(f"  {pattern} {c:>8}")
    if d["notes"]:
        lines += ["", *("note: " + n for n in d["notes"])]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    tables = load_descriptions(args)
    if not args.strata:
        (_, d), = tables
        print(json.dumps(d, indent=2) if args.json else _text(d))
        return 0
    from cifranegra.schema.records import stratum_labels

    shown = stratum_labels(args.strata, [k for k, _ in tables])
    if args.json:
        out = {"strata": [{"stratum": shown[k], **d} for k, d in tables]}
        print(json.dumps(out, indent=2, default=str))
    else:
        print("\n\n".join(
            "== stratum " + ", ".join(f"{c}={v}" for c, v in shown[k].items()) + "\n" + _text(d) for k, d in tables
        ))
    return 0
