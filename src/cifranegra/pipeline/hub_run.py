"""One run of a hub study: the agencies' encoded lists → a project → the ordinary pipeline.

The hub holds no statistics of its own. :func:`run_study` writes the encoded files into a private
folder (mode 0700) as an encoded project (``[[lists]] encoded = true``, private linkage) and calls
:func:`cifranegra.pipeline.run.run_project`, which links the encodings, estimates, writes
``internal/`` (record-level: never leaves the worker) and ``publish/`` (disclosure-controlled by
:func:`cifranegra.report.publish`). What the hub keeps is :data:`INTERNAL_FILES` of ``internal/``
(aggregates and diagnostics; never ``entities.csv``) and the whole ``publish/`` folder.

Run settings (a mapping, from the study's settings overridden by the run's) take the project file's
sections that make sense for a hub study: ``seed``, ``tabulation``, ``estimation``, ``publication``
and ``private_linkage`` (the ``[linkage.private]`` options). Anything else is refused before the run
starts (:func:`check_settings`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cifranegra.errors import InputError
from cifranegra.pipeline.outputs import INTERNAL, PUBLISH

#: The keys a hub run's settings may hold (see the module docstring).
RUN_SETTING_KEYS = ("seed", "tabulation", "estimation", "publication", "private_linkage")
#: The files of ``internal/`` that the hub keeps: aggregates and diagnostics only. ``entities.csv``
#: (record ids and person ids) is record-level and stays in the worker's temporary folder.
INTERNAL_FILES = (
    "results.json", "estimates.csv", "capture_histories.csv", "capture_histories_by_stratum.csv",
    "linkage_model.json", "linkage_sensitivity.csv", "fitted_patterns.csv", "drop_one_list.csv",
)
#: (step, fraction done in 0..1): what a run reports while it works.
HubProgress = Callable[[str, float], None]

# (a word of run_project's progress step, the share of the run done when that phase starts, ends)
_PHASES = (("reading", 0.0, 0.1), ("linkage", 0.1, 0.4), ("tabulating", 0.4, 0.45), ("estimat", 0.45, 0.6),
           ("drop-one-list", 0.6, 0.7), ("publishing", 0.7, 0.99))


@dataclass(frozen=True)
class HubRunOutput:
    """Where the run wrote (inside ``workdir``) and a short JSON-able summary."""

    internal_dir: Path
    publish_dir: Path
    summary: dict[str, Any]


def run_settings(
    study_settings: Mapping[str, Any], run: Mapping[str, Any] | None, *, n_lists: int | None = None
) -> dict[str, Any]:
    """The settings of a run of ``n_lists`` lists: the study's run keys, overridden by the run's own
    (checked)."""
    merged = {k: v for k, v in study_settings.items() if k in RUN_SETTING_KEYS}
    merged.update(run or {})
    check_settings(merged, n_lists=n_lists)
    return merged


def check_settings(settings: Mapping[str, Any], *, n_lists: int | None = None) -> None:
    """Refuse settings that :func:`run_study` would refuse, before any list is decrypted.

    Builds the project with ``n_lists`` placeholder lists (no file is read), so every section is checked
    by the project file's own rules, the methods' list limits included; raises
    :class:`~cifranegra.errors.InputError` or ``ValidationError``. Without ``n_lists`` (a study's
    settings, before anyone has submitted) the settings must suit three lists or, failing that, two
    (``chapman`` and ``petersen`` take exactly two).
    """
    from cifranegra.pipeline.project import project_from_dict

    unknown = sorted(str(k) for k in settings if k not in RUN_SETTING_KEYS)
    if unknown:
        raise InputError(f"unknown run setting(s) {unknown}; a run takes {', '.join(RUN_SETTING_KEYS)}")
    first: Exception | None = None
    for n in [n_lists] if n_lists is not None else [3, 2]:
        placeholder = [(f"list-{i + 1}", Path(f"list-{i + 1}.parquet")) for i in range(n)]
        try:
            project_from_dict(_project_dict("check", placeholder, settings), base=Path.cwd(), check_files=False)
            return
        except InputError as exc:
            first = first or exc
    assert first is not None
    raise first


def _project_dict(study: str, files: Sequence[tuple[str, Path]], settings: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": study,
        "output": "out",
        "lists": [{"source": source, "path": str(path), "encoded": True} for source, path in files],
    }
    for key in ("seed", "tabulation", "estimation", "publication"):
        if key in settings:
            data[key] = settings[key]
    if "private_linkage" in settings:
        data["linkage"] = {"private": settings["private_linkage"]}
    return data


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def run_study(
    files: Sequence[tuple[str, Path]],
    *,
    study: str,
    workdir: Path,
    settings: Mapping[str, Any] | None = None,
    progress: HubProgress | None = None,
) -> HubRunOutput:
    """Link and estimate the encoded ``files`` (``(source, path)`` pairs) of ``study`` in ``workdir``.

    Files outside ``workdir`` are copied into ``workdir/lists/`` first (a project reads only inside
    its own folder). Raises :class:`~cifranegra.errors.CifranegraError` subclasses with messages that
    name files and settings, never a value from the data.
    """
    from cifranegra.pipeline.project import project_from_dict
    from cifranegra.pipeline.run import run_project

    if len(files) < 2:
        raise InputError(f"a run needs the encoded lists of at least two agencies; the study has {len(files)}")
    sources = [s for s, _ in files]
    if len(set(sources)) != len(sources):
        raise InputError("two submissions carry the same list source; a run takes one list per agency "
                         "(withdraw the older submission)")
    settings = dict(settings or {})
    report = progress or (lambda _s, _f: None)
    work = _private_dir(Path(workdir).resolve())
    lists = _private_dir(work / "lists")
    placed: list[tuple[str, Path]] = []
    for i, (source, path) in enumerate(files):
        path = Path(path).resolve()
        if not path.is_relative_to(work):
            target = lists / f"list-{i + 1}.parquet"
            shutil.copyfile(path, target)
            path = target
        placed.append((source, path.relative_to(work)))
    unknown = sorted(str(k) for k in settings if k not in RUN_SETTING_KEYS)
    if unknown:
        raise InputError(f"unknown run setting(s) {unknown}; a run takes {', '.join(RUN_SETTING_KEYS)}")
    project = project_from_dict(_project_dict(study, placed, settings), base=work, file="the run's settings")

    done = [0.0]

    def step(name: str, i: int, n: int) -> None:
        start, end = next(((a, b) for key, a, b in _PHASES if key in name), (done[0], done[0]))
        frac = start + (end - start) * (i / n if n else 0.0)
        done[0] = max(done[0], min(frac, 0.99))
        report(name, done[0])

    result = run_project(project, progress=step)
    internal = work / "out" / INTERNAL
    publish = work / "out" / PUBLISH
    if result.published is None or result.published.folder is None:
        note = result.published.note if result.published is not None else None
        raise InputError("the run finished but nothing was published" + (f": {note}" if note else ""))
    observed = int(result.histories.observed)
    summary = {
        "lists": sources,
        "n_records": int(result.linkage.get("n_records", 0)),
        "observed": observed,
        "methods": list(project.methods),
        "warnings": list(result.warnings),
        "publish_note": result.published.note,
    }
    report("done", 1.0)
    return HubRunOutput(internal_dir=internal, publish_dir=publish, summary=summary)
