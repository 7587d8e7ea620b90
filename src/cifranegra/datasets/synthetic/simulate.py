"""``simulate()``: a synthetic Mexican population of victims, K agencies' lists and the truth."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cifranegra._random import make_rng, spawn_seeds
from cifranegra._version import __version__
from cifranegra.datasets.synthetic.capture import draw_captures
from cifranegra.datasets.synthetic.population import draw_population
from cifranegra.datasets.synthetic.profiles import (
    AgencyProfile,
    RecordingErrors,
    default_profiles,
    default_referrals,
)
from cifranegra.datasets.synthetic.recording import make_records
from cifranegra.errors import InputError

__all__ = ["MAX_AGENCIES", "MAX_PERSONS", "SimulatedLists", "simulate"]

_EXT = {"csv": ".csv", "xlsx": ".xlsx", "parquet": ".parquet"}

#: Largest population :func:`simulate` draws. Every person is held in memory with names, dates and
#: CURP (about 1.5 KB each: 2,000,000 persons need about 3 GB and 3 minutes), and the largest
#: estimate of people in modern slavery in Mexico (Walk Free 2023: about 850,000) fits well below it.
MAX_PERSONS = 2_000_000
#: Most agencies :func:`simulate` writes lists for: the capture histories of K lists have 2^K
#: patterns, and 20 lists is the largest real table the estimators are checked on (Colombia).
MAX_AGENCIES = 20
_WHY_PERSONS = "every person is held in memory, about 1.5 KB each"
_WHY_AGENCIES = "K lists give 2^K capture patterns; 20 is the largest real table the estimators are checked on"

#: Layouts of :meth:`SimulatedLists.write`: ``flat`` (every file in one folder, as the bundled demo)
#: or ``project`` (``lists/``, ``truth/``, ``project.toml``, ``manifest.json``).
LAYOUTS = ("flat", "project")


@dataclass
class SimulatedLists:
    """The output of :func:`simulate`.

    ``lists``: agency id → raw frame with the agency's own headers and formats;
    ``truth``: one row per record (source, record_id, person_id, duplicate, errors);
    ``truth_by_stratum``: true N by state × sex × age group; ``persons``: the population with true
    identities; ``captured``: persons × agencies booleans (before within-agency duplicates).
    """

    lists: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    truth_by_stratum: pd.DataFrame
    persons: pd.DataFrame
    profiles: list[AgencyProfile]
    captured: np.ndarray
    capture_probability: np.ndarray
    referred: np.ndarray
    parameters: dict[str, object] = field(default_factory=dict)

    @property
    def n_persons(self) -> int:
        """True N (the whole population, recorded or not)."""
        return len(self.persons)

    @property
    def n_observed(self) -> int:
        """Persons recorded by at least one agency."""
        return int(self.captured.any(axis=1).sum())

    def capture_histories(self) -> pd.DataFrame:
        """True capture histories of the observed persons: one 0/1 column per agency and ``count``
        (the all-zero pattern omitted), as in the reference tables."""
        ids = [p.id for p in self.profiles]
        df = pd.DataFrame(self.captured.astype(int), columns=ids)
        df = df[df.sum(axis=1) > 0]
        return (
            df.value_counts().rename("count").reset_index().sort_values(ids).reset_index(drop=True)
        )

    def write(
        self,
        directory: str | Path,
        *,
        persons: bool = True,
        layout: str = "flat",
        overwrite: bool = True,
        name: str | None = None,
    ) -> dict[str, object]:
        """Write each agency's file (its format and encoding), a mapping file for each agency whose
        headers need one (``<id>.mapping.json``, next to its list), ``truth.csv``,
        ``truth_by_stratum.csv``, ``persons.csv`` (unless ``persons=False``) and ``manifest.json``;
        returns the manifest, whose paths are relative to ``directory``.

        ``layout="flat"`` puts every file in ``directory`` (the bundled demo). ``layout="project"``
        keeps the agency lists in ``lists/`` and the truth and the persons (every name) in
        ``truth/``, and writes ``project.toml`` (study ``name``, default the folder's name) so that
        ``cifranegra run DIR/project.toml`` works as written. ``overwrite=False`` refuses, before
        writing anything, a folder that is not empty. Errors are :class:`InputError` naming the
        path and the fix.
        """
        if layout not in LAYOUTS:
            raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        out = Path(directory)
        lists_dir, truth_dir = (out / "lists", out / "truth") if layout == "project" else (out, out)
        plan = self._plan(out, lists_dir, truth_dir, persons=persons, project=layout == "project")
        prepare_folder(out, overwrite=overwrite, planned=plan)
        try:
            _remove_stale(out, keep=plan)
            return self._write_files(out, lists_dir, truth_dir, persons=persons, layout=layout, name=name)
        except OSError as exc:
            where = exc.filename if isinstance(exc.filename, str) else str(out)
            reason = exc.strerror or type(exc).__name__
            raise InputError(
                f"cannot write the simulated lists: {where!r}: {reason}; choose a folder you can write to "
                "(with enough free space)"
            ) from None

    def _plan(self, out: Path, lists_dir: Path, truth_dir: Path, *, persons: bool, project: bool) -> list[str]:
        """The files :meth:`write` writes, relative to ``out`` (POSIX separators)."""
        paths = []
        for prof in self.profiles:
            paths.append(lists_dir / f"{prof.id}{_EXT[prof.file_format]}")
            if prof.needs_mapping:
                paths.append(lists_dir / f"{prof.id}.mapping.json")
        paths += [truth_dir / "truth.csv", truth_dir / "truth_by_stratum.csv"]
        if persons:
            paths.append(truth_dir / "persons.csv")
        paths.append(out / "manifest.json")
        if project:
            paths.append(out / "project.toml")
        return [p.relative_to(out).as_posix() for p in paths]

    def _write_files(
        self, out: Path, lists_dir: Path, truth_dir: Path, *, persons: bool, layout: str, name: str | None
    ) -> dict[str, object]:
        for folder in (out, lists_dir, truth_dir):
            folder.mkdir(parents=True, exist_ok=True)

        def rel(path: Path) -> str:
            return path.relative_to(out).as_posix()

        files = []
        for prof in self.profiles:
            df = self.lists[prof.id]
            path = lists_dir / f"{prof.id}{_EXT[prof.file_format]}"
            _write_table(df, path, prof)
            entry: dict[str, object] = {
                "source": prof.id,
                "name": prof.name,
                "file": rel(path),
                "format": prof.file_format,
                "n_records": len(df),
            }
            if prof.file_format == "csv":
                entry["encoding"] = prof.encoding
                entry["delimiter"] = prof.delimiter
            if prof.needs_mapping:
                mpath = lists_dir / f"{prof.id}.mapping.json"
                mapping = {
                    "source": prof.id,
                    "columns": {h: f for f, h in prof.columns.items()},
                    "sex_convention": "es",
                }
                mpath.write_text(
                    json.dumps(mapping, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
                )
                entry["mapping"] = rel(mpath)
            files.append(entry)
        self.truth.to_csv(truth_dir / "truth.csv", index=False)
        self.truth_by_stratum.to_csv(truth_dir / "truth_by_stratum.csv", index=False)
        if persons:
            people = self.persons.copy()
            for c in ("birth_date", "reference_date"):
                people[c] = pd.to_datetime(people[c]).dt.strftime("%Y-%m-%d")
            people.to_csv(truth_dir / "persons.csv", index=False)
        manifest: dict[str, object] = {
            "generator": f"cifranegra {__version__} cifranegra.datasets.synthetic.simulate",
            "parameters": self.parameters,
            "n_persons": self.n_persons,
            "n_observed": self.n_observed,
            "lists": files,
            "truth": rel(truth_dir / "truth.csv"),
            "truth_by_stratum": rel(truth_dir / "truth_by_stratum.csv"),
            "persons": rel(truth_dir / "persons.csv") if persons else None,
        }
        if layout == "project":
            manifest["project"] = "project.toml"
            study = name or _study_name(out)
            (out / "project.toml").write_text(self._project_toml(study, files), encoding="utf-8")
        (out / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        return manifest

    def _project_toml(self, study: str, files: list[dict[str, object]]) -> str:
        """A ready project file for the lists (``cifranegra run``; docs/pipeline.md)."""
        seed = self.parameters.get("seed")
        lines = [
            f"# A synthetic study written by `cifranegra simulate` (cifranegra {__version__}): "
            f"{self.n_persons:,} fictitious persons,",
            f"# {len(files)} agencies. Run it with `cifranegra run project.toml`; compare the estimates with",
            "# truth/truth_by_stratum.csv (true N by state, sex and age group).",
            f"name = {json.dumps(study)}",
            f"seed = {seed if isinstance(seed, int) else 0}",
            'output = "results"',
        ]
        for entry in files:
            lines += ["", "[[lists]]", f"source = {json.dumps(entry['source'])}", f"path = {json.dumps(entry['file'])}"]
            if "mapping" in entry:
                lines.append(f"mapping = {json.dumps(entry['mapping'])}")
        methods = project_methods(len(files))
        if not methods:
            lines += ["", "# `cifranegra run` needs at least two lists: simulate two agencies or more (--agencies)"]
            methods = ["loglinear"]
        lines += ["", "[tabulation]", 'strata = ["sex"]', "", "[estimation]", f"methods = {json.dumps(methods)}", ""]
        return "\n".join(lines)


def prepare_folder(directory: str | Path, *, overwrite: bool, planned: Sequence[str] = ()) -> None:
    """Create ``directory`` (and its parents) for :meth:`SimulatedLists.write` and check, before
    anything is simulated, that it is a folder, writable, and empty unless ``overwrite``.

    ``planned``: the files about to be written (relative), named when they exist already. Raises
    :class:`InputError` naming the folder and the fix.
    """
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise InputError(f"{str(out)!r} is a file, not a folder; give a new or empty folder for the lists")
    if not overwrite and out.is_dir() and any(out.iterdir()):
        existing = [rel for rel in planned if (out / rel).exists()]
        held = f"already holds {', '.join(existing[:3])}" + (" and more" if len(existing) > 3 else "")
        raise InputError(
            f"{str(out)!r} {held if existing else 'is not empty'}; give a new or empty folder, or pass "
            "--force to write into it (the files of an earlier simulation are overwritten, others kept)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".cifranegra-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else str(out)
        raise InputError(
            f"cannot write into {str(out)!r} ({where!r}: {exc.strerror or type(exc).__name__}); choose a "
            "folder you can write to"
        ) from None


def _remove_stale(out: Path, keep: Sequence[str]) -> None:
    """Remove the files an earlier simulation listed in ``out/manifest.json`` that this one does
    not write (lists of agencies no longer simulated), so that the folder holds one simulation."""
    try:
        old = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        named = [e.get(k) for e in old.get("lists", []) for k in ("file", "mapping")]
        named += [old.get(k) for k in ("truth", "truth_by_stratum", "persons", "project")]
    except (OSError, ValueError, AttributeError, TypeError):
        return
    root = out.resolve()
    for rel in named:
        if not isinstance(rel, str) or rel in keep:
            continue
        path = (out / rel).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink()


def project_methods(n_lists: int) -> list[str]:
    """The estimator a simulated project names: log-linear models where they apply to ``n_lists``
    lists, else latent classes (LCMCR); none below two lists (see ``list_limits``)."""
    from cifranegra.estimation.api import list_limits

    for method in ("loglinear", "lcmcr"):
        lo, hi, _ = list_limits(method)
        if lo <= n_lists <= hi:
            return [method]
    return []


def _study_name(folder: Path) -> str:
    """The folder's own name as the study name (the salt of private linkage), or ``simulated``."""
    name = os.path.basename(os.path.abspath(folder))
    return name if name and name.isprintable() else "simulated"


def _write_table(df: pd.DataFrame, path: Path, prof: AgencyProfile) -> None:
    if prof.file_format == "csv":
        text = df.to_csv(
            index=False,
            sep=prof.delimiter,
            lineterminator="\r\n" if prof.encoding == "cp1252" else "\n",
        )
        path.write_bytes(text.encode(prof.encoding, errors="replace"))
    elif prof.file_format == "xlsx":
        df.to_excel(path, index=False, engine="openpyxl")
    elif prof.file_format == "parquet":
        df.astype({c: "string" for c in df.columns if df[c].dtype == object}).to_parquet(
            path, index=False
        )
    else:
        raise ValueError(f"unknown file format {prof.file_format!r}")


def simulate(
    n_persons: int = 5000,
    n_agencies: int = 6,
    seed: int | np.random.SeedSequence | np.random.Generator | None = 0,
    *,
    profiles: Sequence[AgencyProfile] | None = None,
    referrals: Sequence[tuple[str, str, float]] | None = None,
    error_scale: float = 1.0,
    errors: RecordingErrors | None = None,
    period: tuple[dt.date, dt.date] = (dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
) -> SimulatedLists:
    """Simulate ``n_persons`` victims and the lists of ``n_agencies`` agencies that record them.

    ``profiles``: the agencies (default :func:`default_profiles`, cycled with numbered ids when
    ``n_agencies`` exceeds six); ``referrals``: (from, to, probability) dependence between lists
    (default :func:`default_referrals`); ``errors`` replaces every agency's recording-error rates,
    ``error_scale`` multiplies them; ``period``: registration dates. Deterministic by ``seed``.
    """
    if not 1 <= n_persons <= MAX_PERSONS:
        raise InputError(f"n_persons must be from 1 to {MAX_PERSONS:,}, not {n_persons:,} ({_WHY_PERSONS})")
    if not 1 <= n_agencies <= MAX_AGENCIES:
        raise InputError(f"n_agencies must be from 1 to {MAX_AGENCIES}, not {n_agencies} ({_WHY_AGENCIES})")
    if isinstance(seed, int | np.integer) and seed < 0:
        raise InputError(f"seed must be a whole number of at least 0, not {seed}")
    base = list(profiles) if profiles is not None else default_profiles()
    if not base:
        raise InputError("profiles is empty; give at least one AgencyProfile (or None for the default agencies)")
    ids = [p.id for p in base]
    if len(set(ids)) != len(ids):  # lists were keyed by id: agencies sharing one collapsed into one list
        raise InputError(f"agency ids must differ; repeated: {sorted({i for i in ids if ids.count(i) > 1})}")
    if isinstance(error_scale, bool) or not isinstance(error_scale, (int, float)) or error_scale < 0:
        raise InputError(f"error_scale must be a number of at least 0, not {error_scale!r}")
    chosen: list[AgencyProfile] = []
    for k in range(n_agencies):
        prof = base[k % len(base)]
        if k >= len(base):
            prof = replace(prof, id=f"{prof.id}_{k // len(base) + 1}")
        if errors is not None:
            prof = replace(prof, errors=errors)
        if error_scale != 1.0:
            prof = replace(prof, errors=prof.errors.scaled(error_scale))
        chosen.append(prof)
    refs = list(referrals) if referrals is not None else default_referrals()
    if referrals is not None:  # the defaults name all six default agencies; a study's own must fit its agencies
        known = {p.id for p in chosen}
        for ref in refs:
            if not isinstance(ref, (tuple, list)) or len(ref) != 3:
                raise InputError(f"a referral is (from agency, to agency, probability), not {ref!r}")
            a, b, p_ref = ref
            if a not in known or b not in known:
                raise InputError(f"referral {ref!r} names an agency that is not simulated; agencies: {sorted(known)}")
            if isinstance(p_ref, bool) or not isinstance(p_ref, (int, float)) or not 0.0 <= p_ref <= 1.0:
                raise InputError(f"referral {ref!r}: the probability must be from 0 to 1")

    s_pop, s_cap, *s_lists = spawn_seeds(
        seed if not isinstance(seed, np.random.Generator) else make_rng(seed), 2 + n_agencies
    )
    people = draw_population(n_persons, make_rng(s_pop), period)
    captured, prob, referred = draw_captures(people, chosen, refs, make_rng(s_cap))

    lists, truths = {}, []
    for k, prof in enumerate(chosen):
        rows = np.flatnonzero(captured[:, k])
        raw, truth = make_records(people, rows, prof, period, make_rng(s_lists[k]))
        lists[prof.id] = raw
        truths.append(truth)
    truth = pd.concat(truths, ignore_index=True)
    by_stratum = people.groupby(["state", "sex", "age_group"]).size().rename("n").reset_index()
    params: dict[str, object] = {
        "n_persons": n_persons,
        "n_agencies": n_agencies,
        "seed": seed if isinstance(seed, int) else None,
        "period": [period[0].isoformat(), period[1].isoformat()],
        "error_scale": error_scale,
        "agencies": [
            {
                "id": p.id,
                "capture_rate": p.capture_rate,
                "heterogeneity": p.heterogeneity,
                "focus": dict(p.focus),
                "duplicate_rate": p.duplicate_rate,
                "errors": dict(p.errors.__dict__),
            }
            for p in chosen
        ],
        "referrals": [list(r) for r in refs],
    }
    return SimulatedLists(
        lists=lists,
        truth=truth,
        truth_by_stratum=by_stratum,
        persons=people,
        profiles=chosen,
        captured=captured,
        capture_probability=prob,
        referred=referred,
        parameters=params,
    )
