"""The ``cifranegra`` command line: thin; parse, call one application function, render.

Errors are translated here, in one place, into one line on stderr and an exit code — never a
traceback, and never an exception's own message unless cifranegra wrote it (a library's message
may quote a cell of the data):

- :class:`~cifranegra.errors.CifranegraError` (the user's input or options): its message, exit 2;
- an operating-system error on a path the user gave (permission denied, no space left, a folder
  where a file is expected...): the path, the reason and the fix, exit 2;
- :class:`MemoryError`: what ran out and what to try, exit 2;
- anything else is a bug: its type and where it was raised, no message, exit 3.

``CIFRANEGRA_DEBUG=1`` lets unexpected exceptions propagate with their traceback (for developers,
on test data only: a traceback may show data values). Each sub-command lives in its own module
exposing ``register(subparsers)``; add new modules to ``_COMMANDS`` and their one-line help to
``_HELP``.

Start-up is part of every command's time: :func:`main` imports only the module of the command it
runs (the others are listed in ``--help`` from ``_HELP``, which a test keeps equal to what each
module registers), and this module imports nothing beyond the standard library, so that
``cifranegra --help`` imports neither numpy, pandas nor scipy (``tests/test_import_laziness.py``).
So is the exit: the installed command and ``python -m cifranegra`` go through :func:`console`,
which skips the interpreter's last full garbage collection (see there).
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import re
import sys
import sysconfig
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

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
    "report",
    "hub",
)

# each command's one-line help in `cifranegra --help`, shown without importing its module
_HELP: dict[str, str] = {
    "estimate": "estimate the number of people, seen and unseen, from overlapping lists",
    "compare": "estimate with every model family and show the results side by side",
    "describe": "list sizes, pairwise overlaps and capture patterns of a table",
    "run": "run a project file: link the agency lists and estimate the hidden number",
    "demo": "run the pipeline on bundled synthetic Mexican agency lists",
    "validate": "check agency lists and report every problem (identifiers masked)",
    "simulate": "write a synthetic population's agency lists, a ready project file and the truth",
    "encode": "encode an agency list for private linkage (only encodings leave the agency)",
    "report": "render the disclosure-safe report (HTML/PDF, es/en) and tables of a run's results",
    "hub": "run a hub: agencies submit encoded lists; an office links, estimates and releases",
}

EXIT_OK = 0
EXIT_FINDINGS = 1  # e.g. `validate` found errors in the data
EXIT_BAD_INPUT = 2  # the input, options or environment cannot be used as given
EXIT_INTERNAL = 3  # a bug in cifranegra: an exception nobody expected
EXIT_INTERRUPTED = 130

DEBUG_ENV_VAR = "CIFRANEGRA_DEBUG"

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../cifranegra
_STDLIB_DIR = Path(sysconfig.get_paths()["stdlib"])


_SECRET_LIKE = re.compile(r"[0-9a-fA-F]{32,}")


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error never echoes what looks like a secret (a long run of hex
    digits typed as an option's value) and says where the secret goes instead."""

    def error(self, message: str) -> NoReturn:
        if _SECRET_LIKE.search(message):
            message = _SECRET_LIKE.sub("<a secret-like value, not shown>", message)
            message += ("; never type the secret on the command line: give --secret-file FILE or set "
                        "the environment variable CIFRANEGRA_SECRET")
        super().error(message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``cifranegra`` parser with every command registered by its module; with ``only``, just
    that command's module is imported and the others are placeholders carrying their one-line help
    (enough for ``--help`` and for argparse's list of valid commands)."""
    parser = _Parser(
        prog="cifranegra",
        description="Estimate the hidden number of victims from overlapping agency lists "
        "(multiple systems estimation).",
        epilog="Exit codes: 0 done; 1 findings (validate found errors); 2 unusable input, options or "
        "environment (the message says what to change); 3 internal error (a bug: please report it "
        "with the command you ran, not your data); 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"cifranegra {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        if only is None or name == only:
            module = importlib.import_module(f"cifranegra.cli.{name}")
            module.register(sub)
        else:
            sub.add_parser(name, help=_HELP.get(name))
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The command ``argv`` names, or ``""`` when it names none (``--help``, ``--version``, nothing,
    or a word that is not a command: argparse then lists the valid ones). The top-level options take
    no value, so the command is the first word that is not an option."""
    for word in argv:
        if word == "--":
            break
        if not word.startswith("-"):
            return word if word in _COMMANDS else ""
    return ""


# --- warnings ---------------------------------------------------------------------------------------


def _in_package(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE_DIR)
    except (OSError, ValueError):
        return False


def _format_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    """One line per warning. cifranegra's own warnings are shown; a library's message is withheld
    (it may quote a value of the data) and only its kind and place are named."""
    ours = category.__module__.startswith("cifranegra") or (
        category is UserWarning and _in_package(filename)
    )
    if ours:
        return f"warning: {message}\n"
    return (
        f"warning: {category.__name__} at {_module_name(filename)}:{lineno} (a library's message, not "
        f"shown as it may quote data; set {DEBUG_ENV_VAR}=1 to see it on test data)\n"
    )


def _format_warning_debug(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    return f"warning: {category.__name__} at {_module_name(filename)}:{lineno}: {message}\n"


# --- where an exception was raised -----------------------------------------------------------------


def _module_name(filename: str) -> str:
    """A dotted module name for a source file (``cifranegra.ingest.lists``, ``pandas.core.frame``)."""
    path = Path(filename)
    parts = list(path.with_suffix("").parts)
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor) :]
            break
    else:
        if _in_package(filename):
            rel = path.resolve().with_suffix("").relative_to(_PACKAGE_DIR.parent)
            parts = list(rel.parts)
        elif path.is_relative_to(_STDLIB_DIR):
            parts = list(path.with_suffix("").relative_to(_STDLIB_DIR).parts)
        else:
            parts = parts[-2:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or path.name


def exception_location(exc: BaseException) -> str:
    """``module:line`` where ``exc`` was raised: the innermost cifranegra frame, followed by the
    innermost frame overall when that lies in a library (``... via pandas.core.frame:123``)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    ours = [f for f in frames if _in_package(f.filename)]
    last = frames[-1]
    if not ours:
        return f"{_module_name(last.filename)}:{last.lineno}"
    where = f"{_module_name(ours[-1].filename)}:{ours[-1].lineno}"
    if last is not ours[-1]:
        where += f" via {_module_name(last.filename)}:{last.lineno}"
    return where


# --- operating-system errors on the user's paths ---------------------------------------------------

_OS_FIXES: dict[int, str] = {
    errno.EACCES: "permission denied; check that you may read (or write) it, or choose another path",
    errno.EPERM: "operation not permitted; check its permissions, or choose another path",
    errno.EROFS: "it is on a read-only file system; choose a folder you can write to",
    errno.ENOSPC: "no space left on the device; free some space or choose another output folder",
    errno.EDQUOT: "disk quota exceeded; free some space or choose another output folder",
    errno.EISDIR: "it is a folder where a file is expected; give a file name",
    errno.ENOTDIR: "a part of this path is a file, not a folder; check the path",
    errno.ENOENT: "no such file or folder; check the path (and that its folder exists)",
    errno.EEXIST: "it already exists; choose another path or remove it first",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
    errno.ENOTEMPTY: "the folder is not empty; choose an empty or new folder",
    errno.ELOOP: "too many symbolic links; check the path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or use fewer lists",
}


def _user_paths(args: argparse.Namespace | None) -> list[Path]:
    """The paths the user named (every string option and argument), resolved, with their folders."""
    if args is None:
        return []
    found: list[Path] = []

    def strings(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list | tuple):
            for v in value:
                yield from strings(v)

    for value in vars(args).values():
        for text in strings(value):
            if not text or "\0" in text:
                continue
            try:
                path = Path(text).expanduser().resolve()
            except (OSError, RuntimeError, ValueError):
                continue
            found.append(path)
            found.append(path.parent)
    return found


def _os_error_message(exc: OSError, args: argparse.Namespace | None) -> str | None:
    """A one-line message for an OSError on a path the user gave, or ``None`` when it is not the
    user's (then it is an internal error)."""
    fix = _OS_FIXES.get(exc.errno or -1)
    if fix is None:
        return None
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, str | bytes | os.PathLike)]
    if not names:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return fix[0].upper() + fix[1:]
        return None
    name = os.fsdecode(names[0])
    try:
        resolved = Path(name).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not any(resolved == p or resolved.is_relative_to(p) for p in _user_paths(args)):
        return None
    return f"{name!r}: {fix}"


# --- entry point -----------------------------------------------------------------------------------


def _internal_error(exc: BaseException) -> int:
    print(
        f"cifranegra: internal error ({type(exc).__name__} in {exception_location(exc)}); this is a bug — "
        "please report it with the command you ran, not your data",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


#: the variables by which OpenBLAS and MKL take their number of threads (OpenBLAS falls back on OMP's)
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def one_blas_thread() -> bool:
    """Give the process's linear algebra one thread, unless the user chose a number; True if set here.

    cifranegra parallelizes its own work (MCMC chains in threads, strata and imputations in processes,
    bootstrap replicates in batches) over small matrices, where BLAS threads mostly spin and compete:
    on 2 cores, the UK 5-list table's BIC + BCa 1000 took 2.95 s wall and 5.4 s CPU with OpenBLAS's
    threads, 1.92 s and 3.2 s with one (docs/estimation.md, "Speed as a whole process"). A BLAS library
    reads the setting once, when numpy loads, so this is done only before that; child processes inherit
    it. Setting ``OPENBLAS_NUM_THREADS`` (or ``MKL_NUM_THREADS``, ``OMP_NUM_THREADS``) yourself wins."""
    if "numpy" in sys.modules or any(v in os.environ for v in BLAS_THREAD_VARS):
        return False
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cifranegra`` command; returns the exit code (see the module docstring).

    Warnings are formatted the safe way while it runs; the process's own format is restored after
    (callers in the same process, such as notebooks and tests, keep theirs). Linear algebra gets one
    thread (:func:`one_blas_thread`) when the process has not loaded numpy yet."""
    one_blas_thread()
    debug = bool(os.environ.get(DEBUG_ENV_VAR))
    saved_format = warnings.formatwarning
    warnings.formatwarning = _format_warning_debug if debug else _format_warning
    try:
        return _run(argv, debug)
    finally:
        warnings.formatwarning = saved_format


def console() -> int:
    """The installed ``cifranegra`` command and ``python -m cifranegra``: :func:`main`, then, with
    the process about to exit, :func:`gc.freeze` of everything alive.

    At exit the interpreter runs one last full garbage collection over every object still alive;
    once numba has loaded a compiled kernel that is hundreds of thousands of objects (its typing
    registries) and costs about 0.1 s — a tenth of an LCMCR run's whole process on the UK 5-list
    table (``python bench/bench_process.py``). Frozen objects are left out of that collection; the
    rest of the exit is unchanged (atexit handlers, module teardown, streams flushed and closed), and
    cifranegra closes what it writes with context managers, so nothing waits on that collection.
    Not done in :func:`main`: callers in a long-lived process (tests, notebooks) keep a normal
    collector."""
    try:
        return main()
    finally:
        gc.freeze()


def _run(argv: Sequence[str] | None, debug: bool) -> int:
    args: argparse.Namespace | None = None
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser(only=_command_in(words))
        args = parser.parse_args(words)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        code = args.func(args)
    except CifranegraError as exc:
        print(f"cifranegra: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print("cifranegra: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except MemoryError as exc:
        if debug:
            raise
        print(
            f"cifranegra: error: out of memory (in {exception_location(exc)}): these data need more memory "
            "than this machine has; use fewer lists or strata, split the data, or use a larger machine "
            "(and please report it: cifranegra should have refused before allocating)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except OSError as exc:
        if debug:
            raise
        message = _os_error_message(exc, args)
        if message is None:
            return _internal_error(exc)
        print(f"cifranegra: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        if debug:
            raise
        return _internal_error(exc)
    return int(code or EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
