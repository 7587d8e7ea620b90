"""`cifranegra describe FILE`: list sizes, overlaps and capture patterns."""

from __future__ import annotations

import argparse
import json

from cifranegra.cli._inputs import add_input_arguments, load
from cifranegra.estimation.histories import CaptureHistories


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="list sizes, pairwise overlaps and capture patterns of a table",
                       description="Describe a capture-history table: list sizes, pairwise overlaps (pairs "
                                   "that never overlap are flagged), people by number of lists, patterns.")
    add_input_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _text(h: CaptureHistories) -> str:
    lines = [f"{h.source or 'table'}: {h.n_lists} lists, {h.observed} people observed", "", "list sizes:"]
    for name, size in h.list_sizes().items():
        lines.append(f"  {name:<12} {size:>8}")
    lines += ["", "pairwise overlaps:"]
    ov = h.overlaps().to_numpy()
    for i, a in enumerate(h.lists):
        for j in range(i + 1, h.n_lists):
            flag = "   <- no overlap" if ov[i, j] == 0 else ""
            lines.append(f"  {a + ' & ' + h.lists[j]:<24} {int(ov[i, j]):>8}{flag}")
    lines += ["", "people by number of lists:"]
    for m, c in h.counts_by_number_of_lists().items():
        lines.append(f"  on {m:>2} list(s) {c:>8}")
    lines += ["", "patterns (" + " ".join(h.lists) + "):"]
    for row in h.to_frame().itertuples(index=False):
        lines.append("  " + "".join(str(b) for b in row[:-1]) + f" {row[-1]:>8}")
    if h.notes:
        lines += ["", *("note: " + n for n in h.notes)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    data = load(args)
    if isinstance(data, CaptureHistories):
        print(json.dumps(data.describe(), indent=2) if args.json else _text(data))
        return 0
    if args.json:
        out = {"strata": [{"stratum": dict(zip(args.strata, k, strict=True)), **h.describe()} for k, h in data.items()]}
        print(json.dumps(out, indent=2, default=str))
    else:
        print("\n\n".join(f"== stratum {dict(zip(args.strata, k, strict=True))}\n" + _text(h) for k, h in data.items()))
    return 0
