"""Shared CLI pieces: reading a capture-history FILE (or a bundled table) and terminal progress."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cifranegra.datasets.reference import reference_path, reference_tables
from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.ingest.capture_table import read_capture_histories


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE",
                   help="capture-history table (CSV/XLSX/Parquet): one 0/1 column per list and `count`, or one "
                        "row per person; or the name of a bundled table (e.g. SparseMSE_UKdat_5)")
    p.add_argument("--lists", nargs="+", metavar="COL", help="list columns (default: every column but count/strata)")
    p.add_argument("--count", default="count", metavar="COL", help="count column (default: count)")
    p.add_argument("--per-person", action="store_true", help="one row per person: no count column")
    p.add_argument("--strata", nargs="+", metavar="COL", default=[], help="stratum columns: one estimate per stratum")


def resolve_path(name: str) -> Path:
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
    path = resolve_path(args.file)
    return read_capture_histories(
        path,
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
