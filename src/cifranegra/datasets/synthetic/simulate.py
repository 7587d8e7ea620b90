"""``simulate()``: a synthetic Mexican population of victims, K agencies' lists and the truth."""

from __future__ import annotations

import datetime as dt
import json
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

__all__ = ["SimulatedLists", "simulate"]

_EXT = {"csv": ".csv", "xlsx": ".xlsx", "parquet": ".parquet"}


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

    def write(self, directory: str | Path, *, persons: bool = True) -> dict[str, object]:
        """Write each agency's file (its format and encoding), ``truth.csv``,
        ``truth_by_stratum.csv``, ``persons.csv`` (unless ``persons=False``), a mapping file for
        each agency whose headers need one (``<id>.mapping.json``) and ``manifest.json``; returns
        the manifest."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for prof in self.profiles:
            df = self.lists[prof.id]
            path = out / f"{prof.id}{_EXT[prof.file_format]}"
            _write_table(df, path, prof)
            entry: dict[str, object] = {
                "source": prof.id,
                "name": prof.name,
                "file": path.name,
                "format": prof.file_format,
                "n_records": len(df),
            }
            if prof.file_format == "csv":
                entry["encoding"] = prof.encoding
                entry["delimiter"] = prof.delimiter
            if prof.needs_mapping:
                mpath = out / f"{prof.id}.mapping.json"
                mapping = {
                    "source": prof.id,
                    "columns": {h: f for f, h in prof.columns.items()},
                    "sex_convention": "es",
                }
                mpath.write_text(
                    json.dumps(mapping, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
                )
                entry["mapping"] = mpath.name
            files.append(entry)
        self.truth.to_csv(out / "truth.csv", index=False)
        self.truth_by_stratum.to_csv(out / "truth_by_stratum.csv", index=False)
        if persons:
            people = self.persons.copy()
            for c in ("birth_date", "reference_date"):
                people[c] = pd.to_datetime(people[c]).dt.strftime("%Y-%m-%d")
            people.to_csv(out / "persons.csv", index=False)
        manifest = {
            "generator": f"cifranegra {__version__} cifranegra.datasets.synthetic.simulate",
            "parameters": self.parameters,
            "n_persons": self.n_persons,
            "n_observed": self.n_observed,
            "lists": files,
            "truth": "truth.csv",
            "truth_by_stratum": "truth_by_stratum.csv",
            "persons": "persons.csv" if persons else None,
        }
        (out / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        return manifest


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
    if n_persons < 1:
        raise ValueError("n_persons must be at least 1")
    base = list(profiles) if profiles is not None else default_profiles()
    if n_agencies < 1:
        raise ValueError("n_agencies must be at least 1")
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
