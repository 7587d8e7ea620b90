"""``cifranegra demo``: the whole pipeline on the bundled synthetic Mexican agency lists."""

from __future__ import annotations

from cifranegra.cli.run import add_display_options, execute


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the pipeline on bundled synthetic Mexican agency lists",
        description="Link the bundled synthetic agency lists (fictitious people, known truth), "
        "tabulate and estimate, exactly as `cifranegra run` does with a real project; the results "
        "go to ./cifranegra-demo/internal/ and the disclosure-controlled report to "
        "./cifranegra-demo/publish/ (or --output).",
    )
    p.add_argument("--output", "-o", metavar="DIR", default="cifranegra-demo",
                   help="output folder (default: ./cifranegra-demo)")
    add_display_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from cifranegra.pipeline import demo_project  # here, not at the top: `demo --help` stays light

    return execute(demo_project(), args.output, args)
