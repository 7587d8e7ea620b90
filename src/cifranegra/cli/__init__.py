"""The ``cifranegra`` command line: thin; parse, call one application function, render.

Errors a user can cause (:class:`~cifranegra.errors.CifranegraError`) are translated here, in one
place, into a message on stderr and exit code 2 — never a traceback. Each sub-command lives in its
own module exposing ``register(subparsers)``; add new modules to ``_COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from cifranegra._version import __version__
from cifranegra.errors import CifranegraError

# sub-command modules, in the order `cifranegra --help` lists them
_COMMANDS: tuple[str, ...] = (
    "estimate",
    "compare",
    "describe",
    "run",
    "demo",
    "validate",
    "simulate",
    "encode",
)

EXIT_OK = 0
EXIT_FINDINGS = 1  # e.g. `validate` found errors in the data
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cifranegra",
        description="Estimate the hidden number of victims from overlapping agency lists "
        "(multiple systems estimation).",
    )
    parser.add_argument("--version", action="version", version=f"cifranegra {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"cifranegra.cli.{name}")
        module.register(sub)
    return parser


def _format_warning(message: Warning | str, category: type[Warning], *args: object, **kw: object) -> str:
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cifranegra`` command; returns the exit code."""
    warnings.formatwarning = _format_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        code = args.func(args)
    except CifranegraError as exc:
        print(f"cifranegra: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print("cifranegra: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return int(code or EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
