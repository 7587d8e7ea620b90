"""Small synthetic Mexican victim lists with known truth, for the private-linkage tests and bench.

Names are drawn from the SEP 2012 frequency tables in ``data/`` (see data/SOURCES.md); each agency
records a person with realistic errors: typos, a missing second surname, a birth year computed from
only an age instead of a birth date (sometimes a year off), a CURP only sometimes. Not a substitute for
``cifranegra.datasets.synthetic`` (issue 4), only a fixture independent of it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).parent / "data"
_LETTERS = np.array(list("ABCDEFGHIJLMNOPRSTUVZ"))


@lru_cache(maxsize=1)
def name_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    given = pd.read_csv(DATA / "given_names_sep2012_top800.csv", keep_default_na=False)
    surnames = pd.read_csv(DATA / "surnames_sep2012_top1500.csv", keep_default_na=False)
    return given, surnames


def _typo(name: str, rng: np.random.Generator) -> str:
    if len(name) < 3:
        return name
    pos = int(rng.integers(1, len(name) - 1))
    kind = rng.integers(0, 3)
    if kind == 0:  # substitution
        return name[:pos] + str(rng.choice(_LETTERS)) + name[pos + 1 :]
    if kind == 1:  # deletion
        return name[:pos] + name[pos + 1 :]
    return name[:pos] + name[pos + 1] + name[pos] + name[pos + 2 :] if pos + 2 <= len(name) else name


def population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    given, surnames = name_tables()
    sex = np.where(rng.random(n) < 0.7, "female", "male")
    g = np.empty(n, dtype=object)
    for s in ("female", "male"):
        tab = given[given["sex"] == s]
        idx = sex == s
        g[idx] = rng.choice(tab["name"].to_numpy(), idx.sum(), p=(tab["count"] / tab["count"].sum()).to_numpy())
    p1 = (surnames["count_first"] / surnames["count_first"].sum()).to_numpy()
    p2 = (surnames["count_second"] / surnames["count_second"].sum()).to_numpy()
    first = rng.choice(surnames["surname"].to_numpy(), n, p=p1)
    second = rng.choice(surnames["surname"].to_numpy(), n, p=p2)
    start = dt.date(1975, 1, 1).toordinal()
    birth = [dt.date.fromordinal(start + int(d)) for d in rng.integers(0, 365 * 33, n)]
    state = [f"{int(s):02d}" for s in rng.integers(1, 33, n)]
    curp = [
        f"{f[0]}{next((c for c in f[1:] if c in 'AEIOU'), 'X')}{s2[0]}{gn[0]}"
        f"{b:%y%m%d}{'M' if sx == 'female' else 'H'}DF"
        + "".join(rng.choice(_LETTERS, 3)) + "0" + str(int(rng.integers(0, 10)))
        for f, s2, gn, b, sx in zip(first, second, g, birth, sex, strict=True)
    ]
    return pd.DataFrame(
        {"person_id": np.arange(n), "given_names": g, "first_surname": first, "second_surname": second,
         "birth_date": birth, "sex": sex, "state": state, "curp": curp}
    )


def simulate_lists(
    n_persons: int = 2000,
    n_lists: int = 3,
    capture: tuple[float, ...] = (0.35, 0.3, 0.25, 0.2, 0.2),
    seed: int = 0,
    error_rate: float = 1.0,
) -> pd.DataFrame:
    """Records of ``n_lists`` agencies (columns of the normalized Records frame) plus ``person_id``."""
    rng = np.random.default_rng(seed)
    pop = population(n_persons, rng)
    propensity = rng.gamma(2.0, 0.5, n_persons)
    rows = []
    for k in range(n_lists):
        p = np.clip(capture[k % len(capture)] * propensity, 0, 0.95)
        caught = np.flatnonzero(rng.random(n_persons) < p)
        for r, pid in enumerate(caught.tolist()):
            person = pop.iloc[pid]
            rec = person.to_dict()
            e = error_rate
            if rng.random() < 0.08 * e:
                rec["given_names"] = _typo(rec["given_names"], rng)
            if rng.random() < 0.08 * e:
                rec["first_surname"] = _typo(rec["first_surname"], rng)
            if rng.random() < 0.05 * e:
                rec["second_surname"] = None
            registration = dt.date(2020 + int(rng.integers(0, 4)), int(rng.integers(1, 13)), 1)
            born = person["birth_date"]
            age = registration.year - born.year - int((registration.month, registration.day) < (born.month, born.day))
            rec["birth_year"] = born.year
            if rng.random() < 0.15 * e:  # only an age was recorded (sometimes a year off)
                rec["birth_date"] = None
                rec["birth_year"] = None
                age += int(rng.random() < 0.2 * e)
            if rng.random() >= (0.5 if k == 0 else 0.15):
                rec["curp"] = None
            rec.update(
                source=f"agency_{k + 1}",
                record_id=f"{k + 1}-{r + 1}",
                registration_date=registration,
                age=age,
                age_group="0-17" if age < 18 else "18+",
                exploitation=str(rng.choice(["sexual", "labour", "begging", "unknown"])),
            )
            rows.append(rec)
    df = pd.DataFrame(rows)
    df["birth_year"] = df["birth_year"].astype("Int64")
    df["birth_date"] = pd.to_datetime(df["birth_date"])
    return df
