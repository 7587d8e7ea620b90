"""`cifranegra report RESULTS_DIR`: re-render the disclosure-safe publication of a run, without re-running it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "render the disclosure-safe report (HTML/PDF, es/en) and tables of a run's results"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help=HELP,
        description="Read a run's output folder (results.json, entities.csv: what `cifranegra run` or `demo` "
                    "wrote) and write what may be published: the report in Spanish and English as HTML and "
                    "PDF, disclosure-controlled tables (tables/*.csv), sdg_16_2_2.csv and metadata.json. "
                    "Counts from 1 to 10 are withheld, estimates rounded; nothing record-level is written.")
    p.add_argument("results_dir", metavar="RESULTS_DIR",
                   help="a run's output folder (OUTPUT or OUTPUT/internal: the one with results.json)")
    p.add_argument("--lang", default="es,en", help="languages, comma-separated: es, en (default es,en)")
    p.add_argument("--format", dest="formats", default="html,pdf",
                   help="formats, comma-separated: html, pdf (default html,pdf)")
    p.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="where to write (default: RESULTS_DIR/../publish when RESULTS_DIR is an internal/ "
                        "folder, else RESULTS_DIR/publish)")
    p.set_defaults(func=run)


def default_output(results_dir: Path) -> Path:
    """RESULTS_DIR/../publish beside an ``internal/`` folder, else RESULTS_DIR/publish."""
    resolved = results_dir.resolve()
    return resolved.parent / "publish" if resolved.name == "internal" else results_dir / "publish"


def run(args: argparse.Namespace) -> int:
    from cifranegra.report.render import publish

    results_dir = Path(args.results_dir)
    if not (results_dir / "results.json").exists() and (results_dir / "internal" / "results.json").is_file():
        results_dir = results_dir / "internal"  # the run's OUTPUT folder given: its results are in internal/
    out = Path(args.output) if args.output else default_output(results_dir)
    done = publish(results_dir, out, langs=args.lang, formats=args.formats,
                   progress=lambda m: print(f"  {m} ...", file=sys.stderr))
    print(f"published to {done.out_dir} (disclosure audit passed):")
    for path in done.files:
        print(f"  {path.relative_to(done.out_dir)}")
    print(f"rendered in {done.timings['total']:.1f} s")
    return 0
