"""Shared CLI pieces: reading a capture-history FILE (or a bundled table), argument types, and
terminal progress.

Readers (pandas, the bundled tables) are imported inside the functions that read, so that
registering a command's arguments, and its ``--help``, imports nothing heavy."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cifranegra.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from cifranegra.estimation.histories import CaptureHistories


def add_input_arguments(p: argparse.ArgumentParser,
                        strata_help: str = "stratum columns: one estimate per stratum") -> None:
    p.add_argument("file", metavar="FILE",
                   help="capture-history table (CSV/XLSX/Parquet): one 0/1 column per list and `count`, or one "
                        "row per person; or the name of a bundled table (e.g. SparseMSE_UKdat_5)")
    p.add_argument("--lists", nargs="+", metavar="COL", help="list columns (default: every column but count/strata)")
    p.add_argument("--count", default="count", metavar="COL", help="count column (default: count)")
    p.add_argument("--per-person", action="store_true", help="one row per person: no count column")
    p.add_argument("--strata", nargs="+", metavar="COL", default=[], help=strata_help)


def resolve_path(name: str) -> Path:
    """The path of FILE, or of the bundled table of that name."""
    from cifranegra.datasets.reference import reference_path, reference_tables

    path = Path(name)
    if path.exists():
        return path
    try:
        return reference_path(name)
    except InputError:
        raise InputError(
            f"no such file: {name!r}. Give the path of a capture-history table, or a bundled table: "
            + ", ".join(reference_tables())
        ) from None


def load(args: argparse.Namespace) -> CaptureHistories | dict[tuple[Any, ...], CaptureHistories]:
    """The capture histories named by FILE and the input flags (one table per stratum with --strata)."""
    from cifranegra.ingest.capture_table import read_capture_histories

    path = resolve_path(args.file)
    return read_capture_histories(
        path,
        lists=args.lists,
        count=None if args.per_person else args.count,
        strata=args.strata,
    )


def seed_arg(text: str) -> int:
    """``--seed``: a whole number ≥ 0 (numpy's seeds cannot be negative)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 0, got {text[:20]!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 0, got {value}")
    return value


def option_value(text: str) -> tuple[str, Any]:
    """``--option NAME=VALUE``: the value read as true/false, none, a whole number, a number, or a word."""
    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. hottest=0.3), got {text[:40]!r}")
    raw = raw.strip()
    low = raw.lower()
    value: Any
    if low in ("true", "false"):
        value = low == "true"
    elif low in ("none", "null"):
        value = None
    else:
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    return name, value


def load_descriptions(args: argparse.Namespace) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """What `describe` shows, per stratum, read from observed patterns only (works beyond the
    number of lists an estimate accepts)."""
    from cifranegra.ingest.capture_table import describe_capture_table

    return describe_capture_table(
        resolve_path(args.file),
        lists=args.lists,
        count=None if args.per_person else args.count,
        strata=args.strata,
    )


def progress_printer(label: str) -> Callable[[int, int], None] | None:
    """A progress callback drawing on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        return None
    start = time.monotonic()

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        elapsed = time.monotonic() - start
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed:5.1f}s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
