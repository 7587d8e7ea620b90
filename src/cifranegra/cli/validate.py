"""``cifranegra validate FILE... [--mapping M] [--unrecognised error|unknown] [--json]``: every
problem of agency lists at once, identifiers never shown.

Exit codes: 0 clean or warnings only, 1 errors found, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys


def _count(text: str) -> int:
    """``--max-problems``: a whole number ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 0, got {text[:20]!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 0, got {value}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check agency lists and report every problem (identifiers masked)",
        description="Read agency lists (CSV, XLSX, Parquet), map their columns and report every "
        "problem found, each with file, row, column, reason and fix; a value is quoted only when "
        "it is a known code or a number of at most three digits (else masked), so no name, CURP or birth "
        "date is ever printed. "
        "Exit codes: 0 clean or warnings only, 1 errors found, 2 unusable input.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="agency list(s)")
    p.add_argument("--mapping", metavar="M",
                   help="mapping file (JSON or CSV column,field) for every FILE; without it, "
                   "FILE's own <name>.mapping.json next to it is used if present")
    p.add_argument("--source", help="agency id for files without a source column")
    p.add_argument(
        "--unrecognised",
        choices=("error", "unknown"),
        default="error",
        help="a sex, state or form of exploitation that no code list recognises: "
        "'error' (default; the record is refused) or 'unknown' (read as unknown, the record "
        "kept, one warning per file and column with the count); an unrecognised nationality is "
        "always a warning, the record kept",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with 'problems'")
    p.add_argument(
        "--max-problems",
        type=_count,
        default=200,
        metavar="N",
        help="list at most N problems in text output (default 200; all with --json)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from cifranegra.ingest import validate_files  # here, not at the top: `validate --help` stays light

    report = validate_files(
        args.files, mapping=args.mapping, source=args.source, on_unrecognised=args.unrecognised
    )
    if args.json:
        json.dump(report.to_dict(), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return report.exit_code
    problems = report.problems
    for prob in problems[: args.max_problems]:
        print(f"{prob.severity}: [{prob.code}] {prob}")
    if len(problems) > args.max_problems:
        print(f"... {len(problems) - args.max_problems} more (use --json for all)")
    summary = report.summary()
    if summary:
        print("\nproblems by kind:")
        for kind, count in summary.items():
            print(f"  {kind:45s} {count:>8d}")
    for rep in report.files:
        prov = rep.provenance
        enc = f", {prov.encoding}" if prov and prov.encoding else ""
        print(
            f"{rep.file}: {rep.n_records} records, source {rep.source!r}{enc}, "
            f"{len(rep.errors)} error(s), {len(rep.warnings)} warning(s)"
        )
    verdict = {0: "OK", 1: "errors found", 2: "unusable input"}[report.exit_code]
    print(f"{verdict}: {report.n_errors} error(s), {report.n_warnings} warning(s)")
    return report.exit_code
