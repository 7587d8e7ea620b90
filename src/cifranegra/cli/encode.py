"""`cifranegra encode LIST`: the agency side of private linkage.

Reads, validates and normalizes the agency's list on its own machine, then writes only encodings,
blocking keys and the agreed stratum fields (docs/private-linkage.md). The secret comes from a file
(``--secret-file``) or the environment (``CIFRANEGRA_SECRET``), never from the command line: the
parser takes no abbreviated options, so ``--secret VALUE`` is an error rather than a file name.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cifranegra.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode",
        help="encode an agency list for private linkage (only encodings leave the agency)",
        description="Validate and normalize an agency list, then write a Parquet file holding only "
        "the agency id (source), each record's id (as the list has it; --renumber replaces it with 1..n), "
        "keyed Bloom-filter encodings and the agreed stratum fields (and keyed blocking signatures where "
        "the encoding spec has them: the default, clk-mx-3, has none). "
        "The shared secret is read from --secret-file or the environment variable CIFRANEGRA_SECRET.",
        allow_abbrev=False,
    )
    p.add_argument("list", nargs="?", metavar="LIST", help="the agency list (CSV, XLSX or Parquet)")
    p.add_argument("--mapping", metavar="M", help="column mapping file for LIST (see docs/ingest.md)")
    p.add_argument("--source", metavar="NAME",
                   help="agency id, written on every record (it replaces the list's own source column); default: "
                        "the list's source column, else the mapping's, else the file name")
    p.add_argument("--secret-file", metavar="F", help="file holding the study's shared secret (hex)")
    p.add_argument("--project", metavar="NAME",
                   help="study name agreed by all agencies (the project salt; same as the project file's name)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="the encoded Parquet file to write, named *.parquet (its folder must exist)")
    p.add_argument("--renumber", action="store_true",
                   help="replace record ids by 1..n (when the ids themselves could identify someone)")
    p.add_argument("--unrecognised", choices=("error", "unknown"), default="error",
                   help="a sex, state or form of exploitation that is not recognised: 'error' refuses the list "
                        "(default), 'unknown' keeps the record with that field unknown and counts them")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--new-secret", metavar="FILE",
                   help="create FILE holding a fresh 256-bit secret (readable by its owner only; its folder "
                        "must exist) and stop")
    p.set_defaults(func=run)


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str] | None) -> bool:
    if b is None:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve() or (Path(b).exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _check_output(args: argparse.Namespace) -> Path:
    """OUT checked before the secret or the list is read: fail fast, never overwrite an input."""
    from cifranegra.ingest.encoded import check_output_path

    out = check_output_path(args.output, what="encoded file", option="-o/--output",
                            example="list.encoded.parquet")
    for flag, other in (("LIST", args.list), ("--mapping", args.mapping), ("--secret-file", args.secret_file)):
        if _same_file(out, other):
            raise InputError(f"-o/--output is the same file as {flag}; choose another name for the encoded file "
                             "(--force never overwrites an input)")
    if out.suffix.lower() != ".parquet":  # -o x.csv used to write Parquet bytes under a .csv name
        raise InputError(f"-o/--output {str(out)!r}: an encoded list is a Parquet file; name the output with "
                         f"the .parquet suffix, e.g. {str(out.with_name(out.stem + '.parquet'))!r}")
    if out.exists() and not args.force:
        raise InputError(f"{str(out)!r} exists; choose another -o/--output or pass --force")
    return out


def run(args: argparse.Namespace) -> int:
    from cifranegra.ingest.encoded import read_secret, write_encoded, write_new_secret

    if args.new_secret:
        write_new_secret(args.new_secret)
        print(f"wrote a new 256-bit secret to {args.new_secret}; share it with the other agencies "
              "through a secure channel, never by e-mail in clear", file=sys.stderr)
        return 0
    missing = [flag for flag, value in (("LIST", args.list), ("--project", args.project),
                                        ("-o/--output", args.output)) if not value]
    if missing:
        raise InputError(f"encode needs {', '.join(missing)}; see `cifranegra encode --help`")
    out = _check_output(args)
    secret = read_secret(args.secret_file)  # before reading the list: fail fast on a bad secret

    from cifranegra.ingest import read_list
    from cifranegra.linkage.private import encode_records

    records, report = read_list(args.list, args.mapping, args.source, on_unrecognised=args.unrecognised)
    encoded = encode_records(records, secret, args.project, source=args.source,
                             renumber=args.renumber, file=str(args.list))
    write_encoded(encoded, out)
    for prob in report.warnings:
        if prob.code == "unrecognised_as_unknown":
            print(f"warning: {prob}", file=sys.stderr)
    print(f"encoded {len(encoded)} records of {', '.join(encoded.sources)} into {out} "
          f"(spec {encoded.spec.version}, key check {encoded.key_check})", file=sys.stderr)
    return 0
