"""A small generator of Mexican-style agency lists with known truth, for the linkage tests.

Independent of the project's simulator (issue 4) so that the linkage tests pin linkage behaviour
only. Persons get realistic name frequencies (SEP 2012 register, see data/SOURCES.md); each list
captures a person with its own probability, and each record is recorded with the errors agencies
make: swapped or dropped second surname, nicknames, typos, missing or mistyped CURP, birth date
typos, transpositions and day/month swaps, or only an approximate age.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).parent / "data"
NICKS = {"GUADALUPE": "LUPITA", "JOSE": "PEPE", "FRANCISCO": "PACO", "MARIA GUADALUPE": "LUPE",
         "JESUS": "CHUY", "REFUGIO": "CUCA", "CONCEPCION": "CONCHA", "ROSARIO": "CHAYO",
         "ENRIQUE": "QUIQUE", "IGNACIO": "NACHO", "ALFREDO": "FREDY", "MANUEL": "MANOLO"}
_VOWELS = "AEIOU"


def _typo(s: str, rng: np.random.Generator) -> str:
    if len(s) < 3:
        return s
    i = int(rng.integers(1, len(s) - 1))
    kind = rng.integers(3)
    if kind == 0:  # substitution
        return s[:i] + "ABCDEFGHIJKLMNOPRSTUVZ"[int(rng.integers(22))] + s[i + 1:]
    if kind == 1:  # deletion
        return s[:i] + s[i + 1:]
    return s[:i - 1] + s[i] + s[i - 1] + s[i + 1:]  # transposition


def _curp(s1: str, s2: str | None, g: str, bd: date, sex: str, state: str, rng: np.random.Generator) -> str:
    inner = next((c for c in s1[1:] if c in _VOWELS), "X")
    first = g.split(" ")[1] if g.split(" ")[0] in ("MARIA", "JOSE") and " " in g else g
    head = s1[0] + inner + (s2[0] if s2 else "X") + first[0] + bd.strftime("%y%m%d")
    tail = "".join("BCDFGHJKLMNPQRSTVWXYZ"[int(i)] for i in rng.integers(0, 21, 3))
    digits = str(int(rng.integers(10))) + str(int(rng.integers(10)))
    return head + ("M" if sex == "female" else "H") + f"{int(state):02d}".replace("0", "D") + tail + digits


def simulate_lists(
    n_persons: int = 2000,
    capture: tuple[float, ...] = (0.3, 0.25, 0.2),
    seed: int = 0,
    error_rate: float = 1.0,
    dup_rate: float = 0.03,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, persons): a Records frame with a ``person_id`` truth column, and the population.

    ``capture[k]`` is list k's capture probability (heterogeneous across persons: multiplied by a
    person-level factor); ``error_rate`` scales every recording error; ``dup_rate`` is the chance
    a captured person is recorded twice in one list.
    """
    rng = np.random.default_rng(seed)
    given = pd.read_csv(DATA / "given_names_top800.csv")
    sur = pd.read_csv(DATA / "surnames_top800.csv")
    sp = sur["count"].to_numpy(float) / sur["count"].sum()
    sex = np.where(rng.random(n_persons) < 0.7, "female", "male")
    persons = []
    for i in range(n_persons):
        gs = given[given["sex"] == sex[i]]
        p = gs["count"].to_numpy(float)
        g = gs["name"].iloc[int(rng.choice(len(gs), p=p / p.sum()))]
        s1, s2 = sur["surname"].iloc[rng.choice(len(sur), size=2, p=sp)]
        bd = date(1960, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 45)))
        state = f"{int(rng.integers(1, 33)):02d}"
        persons.append({"person_id": i, "given_names": g, "first_surname": s1, "second_surname": s2,
                        "birth_date": bd, "sex": sex[i], "state": state})
    pop = pd.DataFrame(persons)
    pop["curp"] = [
        _curp(r.first_surname, r.second_surname, r.given_names, r.birth_date, r.sex, r.state, rng)
        for r in pop.itertuples()
    ]
    frailty = rng.lognormal(0, 0.5, n_persons)
    e = error_rate
    rows = []
    for k, pk in enumerate(capture):
        src = f"L{k + 1}"
        caught = rng.random(n_persons) < np.clip(pk * frailty, 0, 0.95)
        for i in np.flatnonzero(caught):
            times = 2 if rng.random() < dup_rate else 1
            for _ in range(times):
                r = pop.iloc[i]
                g, s1, s2, bd, curp = r.given_names, r.first_surname, r.second_surname, r.birth_date, r.curp
                if rng.random() < 0.08 * e and g in NICKS:
                    g = NICKS[g]
                if rng.random() < 0.05 * e and " " in g:
                    g = g.split(" ")[int(rng.integers(2))]
                if rng.random() < 0.04 * e:
                    g = _typo(g, rng)
                if rng.random() < 0.05 * e:
                    s1, s2 = s2, s1
                if rng.random() < 0.10 * e:
                    s2 = None
                if rng.random() < 0.04 * e:
                    s1 = _typo(s1, rng)
                if s2 is not None and rng.random() < 0.03 * e:
                    s2 = _typo(s2, rng)
                if rng.random() < 0.6:
                    curp = None
                elif rng.random() < 0.03 * e:
                    curp = _typo(curp, rng)
                birth_year = bd.year
                u = rng.random()
                if u < 0.15 * e:  # only an approximate age known
                    bd = None
                    birth_year = r.birth_date.year + int(rng.integers(-1, 2))
                elif u < 0.18 * e and bd.day <= 12 and bd.day != bd.month:
                    bd = date(bd.year, bd.day, bd.month)
                elif u < 0.21 * e:
                    s = bd.strftime("%Y%m%d")
                    s = s[:2] + _typo(s[2:], rng)
                    try:
                        bd = date(int(s[:4]), int(s[4:6]), int(s[6:8]))
                        if bd.year > 2015:
                            bd = r.birth_date
                    except ValueError:
                        pass
                reg = date(2019, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 4)))
                rows.append({
                    "source": src, "record_id": f"{src}-{len(rows):06d}", "person_id": int(r.person_id),
                    "registration_date": reg, "given_names": g, "first_surname": s1, "second_surname": s2,
                    "birth_date": bd, "birth_year": birth_year, "sex": r.sex if rng.random() > 0.03 else "unknown",
                    "curp": curp, "state": r.state if rng.random() > 0.1 else None,
                    "age_group": "18+" if (2021 - birth_year) >= 18 else "0-17",
                    "exploitation": str(rng.choice(["sexual_exploitation", "labour_exploitation", "unknown"])),
                })
    records = pd.DataFrame(rows)
    records["birth_year"] = records["birth_year"].astype("Int64")
    return records, pop


def true_entities(records: pd.DataFrame) -> pd.DataFrame:
    """The true linkage: entities table with entity_id = person_id, probability 1."""
    out = records[["source", "record_id"]].copy()
    out["entity_id"] = records["person_id"].astype("int64")
    out["match_probability"] = 1.0
    return out


def fast_settings():
    """Linkage settings that keep the tests fast (fewer random pairs for u); same model otherwise."""
    from cifranegra.linkage import LinkageSettings

    return LinkageSettings(max_pairs_u=1e5, seed=11)
