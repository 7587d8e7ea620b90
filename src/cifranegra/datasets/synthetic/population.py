"""A synthetic population of victims with Mexican names, dates, places and CURPs.

Strata (state × sex × minor/adult) follow the SESNSP victims of *trata de personas* recorded in
2015–2025; given names and surnames are drawn with the frequencies of the SEP federalised staff
register (adults, 2012) and, for half of the minors, INEGI's most registered birth names 2020–21
(see data/SOURCES.md). Other proportions (age within group, nationality, ethnicity, forms of
exploitation) are assumptions stated in docs/synthetic.md.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from cifranegra.schema import EXPLOITATION_CODES, curp_prefixes, states

__all__ = ["draw_population", "name_tables", "stratum_weights"]

_NATIONALITIES = {
    "MEX": 0.93,
    "GTM": 0.025,
    "HND": 0.02,
    "SLV": 0.01,
    "VEN": 0.008,
    "COL": 0.004,
    "CUB": 0.003,
}
# forms of exploitation (project codes) by age group: assumptions loosely following SESNSP/CNDH
# reports (sexual exploitation dominant; criminal use and illegal adoption only for minors)
_EXPLOITATION_ADULT = {
    "sexual_exploitation": 0.62,
    "labour_exploitation": 0.12,
    "forced_labour": 0.12,
    "forced_begging": 0.03,
    "servitude": 0.03,
    "forced_marriage": 0.03,
    "slavery": 0.02,
    "organ_trafficking": 0.002,
    "biomedical_experimentation": 0.001,
    "other": 0.027,
}
_EXPLOITATION_MINOR = {
    "sexual_exploitation": 0.55,
    "labour_exploitation": 0.08,
    "forced_labour": 0.07,
    "forced_begging": 0.08,
    "forced_criminality_minors": 0.10,
    "illegal_adoption": 0.03,
    "forced_marriage": 0.05,
    "servitude": 0.01,
    "other": 0.03,
}
_MULTIPLE_FORMS = 0.06


def _read_csv(name: str) -> pd.DataFrame:
    path = resources.files("cifranegra.datasets.synthetic").joinpath("data").joinpath(name)
    with resources.as_file(path) as p:
        return pd.read_csv(p, dtype={"cve_ent": str}, keep_default_na=False)


@cache
def stratum_weights() -> pd.DataFrame:
    """SESNSP victims 2015–2025 by state, sex and age group (minor/adult), with the 'not specified'
    age group shared out in proportion: columns state, sex, age_group, weight."""
    df = _read_csv("sesnsp_trata_victims_state_year_sex_age.csv")
    df = df[df["sex"].isin(["female", "male"])]
    g = df.groupby(["cve_ent", "sex", "age_group"])["victims"].sum().unstack("age_group").fillna(0)
    known = g["minor_0_17"] + g["adult_18_plus"]
    share = (g["minor_0_17"] / known.where(known > 0)).fillna(0.3)
    minor = g["minor_0_17"] + g["not_specified"] * share
    adult = g["adult_18_plus"] + g["not_specified"] * (1 - share)
    out = (
        pd.concat(
            [
                minor.rename("0-17")
                .to_frame()
                .assign(age_group="0-17")
                .rename(columns={"0-17": "weight"}),
                adult.rename("18+")
                .to_frame()
                .assign(age_group="18+")
                .rename(columns={"18+": "weight"}),
            ]
        )
        .reset_index()
        .rename(columns={"cve_ent": "state"})
    )
    out["weight"] = out["weight"] + 0.5  # every stratum possible
    return (
        out[["state", "sex", "age_group", "weight"]]
        .sort_values(["state", "sex", "age_group"])
        .reset_index(drop=True)
    )


@cache
def name_tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(names, probabilities) for keys ``female``/``male`` (SEP adults), ``female_birth``/
    ``male_birth`` (INEGI births 2020–21), ``first_surname``, ``second_surname`` (SEP)."""
    given = _read_csv("mexico_given_names.csv")
    sur = _read_csv("mexico_surnames.csv")
    out = {}
    for sex in ("female", "male"):
        sep = given[(given["source"] == "sep_personal_2012") & (given["sex"] == sex)]
        out[sex] = (sep["name"].to_numpy(dtype=object), _p(sep["count"]))
        births = given[given["source"].str.startswith("inegi_nac") & (given["sex"] == sex)]
        b = births.groupby("name")["count"].sum()
        out[f"{sex}_birth"] = (b.index.to_numpy(dtype=object), _p(b))
    sep_s = sur[sur["source"] == "sep_personal_2012"]
    out["first_surname"] = (sep_s["surname"].to_numpy(dtype=object), _p(sep_s["count_first"]))
    out["second_surname"] = (sep_s["surname"].to_numpy(dtype=object), _p(sep_s["count_second"]))
    return out


def _p(counts: pd.Series) -> np.ndarray:
    c = counts.to_numpy(dtype=float)
    return c / c.sum()


def _draw(rng: np.random.Generator, table: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    names, p = table
    return names[rng.choice(len(names), size=n, p=p)]


_CHECK_VALUES = np.zeros(256, dtype=np.int64)
for _i, _c in enumerate("0123456789ABCDEFGHIJKLMN"):
    _CHECK_VALUES[ord(_c)] = _i
for _i, _c in enumerate("OPQRSTUVWXYZ"):
    _CHECK_VALUES[ord(_c)] = 25 + _i


def _check_digits(first17: np.ndarray) -> np.ndarray:
    """Vectorised RENAPO check digit of ASCII 17-character strings."""
    if len(first17) == 0:
        return np.array([], dtype=object)
    buf = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(-1, 17)
    weights = np.arange(18, 1, -1)
    total = (_CHECK_VALUES[buf] * weights).sum(axis=1)
    return ((10 - total % 10) % 10).astype(str).astype(object)


def draw_population(
    n: int,
    rng: np.random.Generator,
    period: tuple[dt.date, dt.date],
) -> pd.DataFrame:
    """``n`` synthetic victims: identity, stratum, reference date of identification, CURP."""
    strata = stratum_weights()
    w = strata["weight"].to_numpy()
    cell = rng.choice(len(strata), size=n, p=w / w.sum())
    state = strata["state"].to_numpy(dtype=object)[cell]
    sex = strata["sex"].to_numpy(dtype=object)[cell]
    minor = strata["age_group"].to_numpy(dtype=object)[cell] == "0-17"

    ages = np.arange(18)
    pa = np.where(ages < 10, 1.0, 1.0 + (ages - 9) * 1.5)
    age = np.where(
        minor,
        rng.choice(18, size=n, p=pa / pa.sum()),
        np.minimum(18 + np.floor(rng.gamma(2.0, 6.0, size=n)), 80),
    ).astype(np.int64)
    start = np.datetime64(period[0], "D")
    span = int((np.datetime64(period[1], "D") - start).astype(int)) + 1
    ref = start + rng.integers(0, span, size=n).astype("timedelta64[D]")
    # birth date: `age` full years before the reference date, uniformly within that year
    last_birthday = pd.DatetimeIndex(ref - rng.integers(0, 365, size=n).astype("timedelta64[D]"))
    parts = pd.DataFrame(
        {"year": last_birthday.year - age, "month": last_birthday.month, "day": last_birthday.day}
    )
    bd = pd.to_datetime(parts, errors="coerce")
    leap = bd.isna()
    if leap.any():  # 29 February in a year without one
        bd[leap] = pd.to_datetime(parts[leap].assign(day=28))

    female = sex == "female"
    given = np.empty(n, dtype=object)
    tables = name_tables()
    for s, mask in (("female", female), ("male", ~female)):
        k = int(mask.sum())
        adult_names = _draw(rng, tables[s], k)
        birth_names = _draw(rng, tables[f"{s}_birth"], k)
        use_birth = minor[mask] & (rng.random(k) < 0.5)
        given[mask] = np.where(use_birth, birth_names, adult_names)
    first = _draw(rng, tables["first_surname"], n)
    second = _draw(rng, tables["second_surname"], n).astype(object)
    second[rng.random(n) < 0.025] = None

    nat_codes = np.array(list(_NATIONALITIES), dtype=object)
    nat_p = np.array(list(_NATIONALITIES.values()))
    nationality = nat_codes[rng.choice(len(nat_codes), size=n, p=nat_p / nat_p.sum())]
    mexican = nationality == "MEX"
    codes = np.array([s.code for s in states()], dtype=object)
    pop = np.array([s.population_2020 for s in states()], dtype=float)
    other_state = codes[rng.choice(32, size=n, p=pop / pop.sum())]
    birth_state = np.where(rng.random(n) < 0.75, state, other_state).astype(object)
    birth_state[~mexican] = None

    ex = _draw_exploitation(rng, minor)

    people = pd.DataFrame(
        {
            "person_id": np.arange(1, n + 1, dtype=np.int64),
            "given_names": given,
            "first_surname": first,
            "second_surname": second,
            "sex": sex,
            "birth_date": bd.to_numpy(dtype="datetime64[s]"),
            "age": age,
            "age_group": np.where(minor, "0-17", "18+"),
            "state": state,
            "birth_state": birth_state,
            "nationality": nationality,
            "indigenous": rng.random(n) < 0.10,
            "afro_mexican": rng.random(n) < 0.02,
            "exploitation": ex,
            "reference_date": ref.astype("datetime64[s]"),
        }
    )
    people["curp"] = _curps(people)
    return people


def _draw_exploitation(rng: np.random.Generator, minor: np.ndarray) -> np.ndarray:
    n = len(minor)
    out = np.empty(n, dtype=object)
    order = {c: i for i, c in enumerate(EXPLOITATION_CODES)}
    for is_minor, table in ((True, _EXPLOITATION_MINOR), (False, _EXPLOITATION_ADULT)):
        mask = minor == is_minor
        k = int(mask.sum())
        codes = np.array(list(table), dtype=object)
        p = np.array(list(table.values()))
        p = p / p.sum()
        first = codes[rng.choice(len(codes), size=k, p=p)]
        second = codes[rng.choice(len(codes), size=k, p=p)]
        multi = (rng.random(k) < _MULTIPLE_FORMS) & (first != second)
        chosen = first.copy()
        for i in np.flatnonzero(multi):
            chosen[i] = "|".join(sorted((first[i], second[i]), key=order.__getitem__))
        out[mask] = chosen
    return out


def _curps(people: pd.DataFrame) -> np.ndarray:
    """True CURPs of Mexican nationals (RENAPO rules; differentiator 0-9 before 2000, A-Z from 2000,
    made unique among namesakes); ``None`` for foreign nationals."""
    prefix = curp_prefixes(
        people["given_names"],
        people["first_surname"],
        people["second_surname"],
        people["birth_date"],
        people["sex"],
        people["birth_state"],
    ).to_numpy(dtype=object)
    born_2000 = pd.DatetimeIndex(people["birth_date"]).year.to_numpy() >= 2000
    rank = np.zeros(len(prefix), dtype=np.int64)
    dup = pd.Series(prefix).duplicated(keep=False).to_numpy()
    if dup.any():  # namesakes born the same day in the same state: RENAPO's differentiator
        sub = pd.Series(prefix[dup])
        rank[dup] = sub.groupby(sub).cumcount().to_numpy() % 10
    digits = np.array(list("0123456789"), dtype=object)
    letters = np.array(list("ABCDEFGHIJ"), dtype=object)
    diff = np.where(born_2000, letters[rank], digits[rank])
    first17 = (prefix + diff).astype(object)
    curp = first17 + _check_digits(first17.astype(str))
    curp[people["nationality"].to_numpy() != "MEX"] = None
    return curp
