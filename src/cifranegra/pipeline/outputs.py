"""Where a run writes: two kinds of output, never mixed.

- ``OUTPUT/internal/``: what analysts need and nobody else (entities, the linkage model, capture
  histories with every small count, the full results). It is record-level, so the folder is made
  readable by its owner only (mode 0700) and must stay in the office.
- ``OUTPUT/publish/``: only what may leave the office, written by :func:`cifranegra.report.publish`
  from ``internal/`` (disclosure-controlled tables, reports, metadata). Nothing record-level is ever
  written there by the pipeline.

``publish/`` is replaced as a whole by each run (written to a temporary sibling first), so that it
never mixes files of two runs; a ``publish/`` folder that is not a release (no ``metadata.json``) is
never replaced, and the run refuses to start.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cifranegra.errors import CifranegraError, InputError, Problem

INTERNAL = "internal"
PUBLISH = "publish"
_PARTIAL = ".publish-partial"
_OLD = ".publish-old"
#: Every release written by cifranegra.report.publish has it; a publish/ folder without it is not ours.
_RELEASE_MARK = "metadata.json"
#: Files a run wrote at the top of OUTPUT before internal/ and publish/ existed.
_FLAT_FILES = ("results.json", "estimates.csv", "capture_histories.csv", "capture_histories_by_stratum.csv",
               "entities.csv", "linkage_model.json", "linkage_sensitivity.csv")


@dataclass(frozen=True)
class PublishOutcome:
    """What became of ``publish/``: written (``folder``), or not, and why (``note``)."""

    folder: Path | None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"folder": None if self.folder is None else str(self.folder), "note": self.note}


def check_layout(output: Path, *, publish: bool) -> tuple[list[Problem], list[str]]:
    """Before the run: problems (a ``publish/`` that is not a release, which a run would replace) and
    warnings (files of the old flat layout at the top of ``output``, left where they are)."""
    problems: list[Problem] = []
    pub = output / PUBLISH
    if publish and pub.exists() and not _is_release(pub):
        problems.append(Problem(str(pub), None, None, "error", "publish_not_release",
                                f"{pub} exists and is not a release written by cifranegra (it has no "
                                f"{_RELEASE_MARK}); a run replaces publish/ as a whole: move that folder away, "
                                "choose another output with -o DIR, or run with --no-publish"))
    flat = [name for name in _FLAT_FILES if (output / name).is_file()]
    notes = []
    if flat:
        notes.append(f"{output} still holds {', '.join(flat)} from a run made before results were split into "
                     f"{INTERNAL}/ and {PUBLISH}/; they were left as they were (record-level files: keep them "
                     f"in the office, e.g. move them into {INTERNAL}/, or delete them)")
    return problems, notes


def _is_release(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    try:
        return (folder / _RELEASE_MARK).is_file() or not any(folder.iterdir())
    except OSError:
        return False


def make_internal(output: Path) -> Path:
    """``output/internal/``, created if needed and readable by its owner only (mode 0700)."""
    folder = output / INTERNAL
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    except OSError as exc:
        raise InputError(f"the folder {folder} cannot be created or protected ({exc.strerror or type(exc).__name__});"
                         " choose another folder with -o DIR (or `output` in the project file)") from None
    return folder


def publish_release(
    internal: Path, output: Path, publication: Any, *, n_lists: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> PublishOutcome:
    """Write ``output/publish/`` from ``internal/`` with :func:`cifranegra.report.publish`.

    ``publication`` is the project's :class:`~cifranegra.pipeline.project.Publication`. When the
    report layer cannot be imported (its optional packages are not installed), nothing is written and
    the outcome's note says how to publish later. A publication that fails (e.g. disclosure control
    cannot protect the tables) raises an error that says ``internal/`` is written and how to re-render.
    """
    target = output / PUBLISH
    try:
        from cifranegra.report import publish
    except ImportError as exc:
        return PublishOutcome(None, _not_installed(exc, internal))
    partial = output / _PARTIAL
    _remove(partial)
    step = progress or (lambda _s, _d, _t: None)
    step("publishing", 0, 1)
    try:
        done = publish(internal, partial, langs=tuple(publication.languages), formats=tuple(publication.formats),
                policy=publication.policy(), publication=publication.to_dict(),
                progress=lambda message: step(f"publishing: {message}", 0, 1))
    except ImportError as exc:
        _remove(partial)
        return PublishOutcome(None, _not_installed(exc, internal))
    except CifranegraError as exc:
        _remove(partial)
        stale = _retire(target)
        raise type(exc)(f"the results are written to {internal}, but nothing was published: {exc}"
                        + (f" (the earlier {target} was removed: it no longer matched the results)" if stale else "")
                        + f"; once fixed, `cifranegra report {internal}` writes {target} without re-running") from None
    except BaseException:
        _remove(partial)
        raise
    _retire(target)
    partial.rename(target)
    step("publishing", 1, 1)
    notes = [*getattr(done, "notes", ()), *filter(None, [_min_lists_note(publication, n_lists)])]
    return PublishOutcome(target, "; ".join(notes) or None)


def _min_lists_note(publication: Any, n_lists: int) -> str | None:
    least = int(publication.policy().min_lists)
    if n_lists >= least:
        return None
    return (f"the disclosure policy publishes an estimate only where at least {least} lists have records and the "
            f"project has {n_lists}: every estimate in {PUBLISH}/ is \"not estimable\"; set [publication.disclosure] "
            f"min_lists = {n_lists} if your office allows it")


def _not_installed(exc: ImportError, internal: Path) -> str:
    missing = exc.name or "a module"
    if missing.startswith("cifranegra"):
        return (f"{PUBLISH}/ was not written: this installation of cifranegra has no report publisher "
                f"({missing}.publish)")
    return (f"{PUBLISH}/ was not written: the report needs matplotlib, Jinja2 and WeasyPrint, dependencies of "
            f"cifranegra ({missing} is not installed); reinstall cifranegra (pip install cifranegra), then "
            f"`cifranegra report {internal}` writes it without re-running")


def _retire(target: Path) -> bool:
    """Remove an earlier release at ``target``; True if there was one."""
    if not target.exists():
        return False
    old = target.parent / _OLD
    _remove(old)
    target.rename(old)
    _remove(old)
    return True


def _remove(folder: Path) -> None:
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    elif folder.exists() or folder.is_symlink():
        folder.unlink()


def not_published(output: Path, internal: Path) -> PublishOutcome:
    """The outcome of ``--no-publish`` (an earlier ``publish/`` is left as it was, and said to be stale)."""
    note = f"{PUBLISH}/ was not written (--no-publish); `cifranegra report {internal}` writes it"
    if (output / PUBLISH).exists():
        note += f"; the {output / PUBLISH} of an earlier run was left as it was and does not match these results"
    return PublishOutcome(None, note)


def layout_lines(internal: str, outcome: PublishOutcome) -> list[str]:
    """The summary's last lines: where internal/ and publish/ are, and which may leave the office."""
    lines = [f"internal results (record-level; folder readable by you only): {internal}"]
    if outcome.folder is None:
        lines.append(outcome.note or f"{PUBLISH}/ was not written")
    else:
        lines.append(f"publication (disclosure-controlled): {outcome.folder}")
        if outcome.note:
            lines.append(f"note: {outcome.note}")
    lines.append(f"only {PUBLISH}/ may leave the office; {INTERNAL}/ stays in it")
    return lines
