"""``cifranegra run PROJECT``: validate → link → tabulate → estimate → write OUTPUT/internal/ and
OUTPUT/publish/.

Progress bars go to stderr (rich when available, plain lines otherwise); the readable summary goes
to stdout, or one JSON object with ``--json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a project file: link the agency lists and estimate the hidden number",
        description="Read the agency lists named in a project file (TOML), validate them, link "
        "them (Splink on DuckDB or Spark, or private linkage of encoded lists), tabulate capture "
        "histories per stratum, fit the estimators, write everything (results.json, estimates.csv, "
        "capture histories, entities.csv, linkage_model.json) to OUTPUT/internal/ (record-level: it stays in "
        "the office) and the disclosure-controlled report and tables of the project's [publication] to "
        "OUTPUT/publish/ (the only folder that may leave the office).",
    )
    add_project_options(p)
    p.set_defaults(func=run)


def add_project_options(p) -> None:
    """The project file, its output folder and what it may read, then the display options: the
    arguments of `cifranegra run` that the spark-submit entry point takes too."""
    p.add_argument("project", metavar="PROJECT", help="project file (TOML)")
    p.add_argument("--output", "-o", metavar="DIR", help="output folder (default: the project's `output`)")
    p.add_argument("--allow-outside", action="store_true",
                   help="let the project file name lists, mappings and an output folder outside its own "
                   "folder (only for a project file you trust)")
    add_display_options(p)


def add_display_options(p) -> None:
    p.add_argument("--no-publish", action="store_true",
                   help="write OUTPUT/internal/ only, not OUTPUT/publish/ (`cifranegra report "
                   "OUTPUT/internal` writes it later)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress display")


class _Plain:
    """Plain progress lines on stderr, one per step."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self.last and done < total:
            print(f"  {step} ...", file=sys.stderr, flush=True)
            self.last = step

    def close(self) -> None:
        return None


class _Rich:
    """One rich progress bar per stage (reading, linkage, estimation)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:<48}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), transient=False,
        )
        self.progress.start()
        self.tasks: dict[str, Any] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        stage = step.split(":")[0].split(" ")[0]
        task = self.tasks.get(stage)
        if task is None:
            task = self.progress.add_task(step, total=total)
            self.tasks[stage] = task
        self.progress.update(task, description=step[:48], completed=done, total=total)

    def close(self) -> None:
        self.progress.stop()


def make_progress(quiet: bool) -> tuple[Callable[[str, int, int], None] | None, Callable[[], None]]:
    if quiet:
        return None, lambda: None
    if sys.stderr.isatty():
        try:
            bar = _Rich()
            return bar, bar.close
        except ImportError:
            pass
    plain = _Plain()
    return plain, plain.close


def execute(project, output, args) -> int:
    from cifranegra.pipeline import run_project  # here, not at the top: `run --help` stays light

    progress, close = make_progress(args.quiet)
    try:
        result = run_project(project, output=output, progress=progress,
                             allow_outside=getattr(args, "allow_outside", False),
                             publish=not getattr(args, "no_publish", False))
    finally:
        close()
    if args.json:
        json.dump(result.to_dict(), sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(result.summary_text())
    return 0


def run(args) -> int:
    return execute(args.project, args.output, args)
