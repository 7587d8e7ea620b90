"""Population denominators for rates per 100,000 (CONAPO mid-year population, bundled in ``report/data``).

Rates per 100,000 are what SDG 16.2.2 and the report publish: the estimated number of victims divided by the
mid-year population of the reference year and area. The population is CONAPO's (2023 edition: Conciliación
Demográfica 1950–2019 y Proyecciones 2020–2070, "Población a mitad de año"), by year 2015–2030 × state × sex,
and by age group 0–17 / 18+ for every state and the nation (five-year groups ``00_04``…``85_plus`` for the
nation only). The population is treated as known: a rate's interval is the estimate's interval divided by
the population, and leaves out the projection's own error (small next to the estimate's).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from cifranegra.errors import InputError, Problem, ValidationError
from cifranegra.schema.codes import normalize_state

__all__ = [
    "DENOMINATOR_EDITION",
    "DENOMINATOR_EDITION_YEAR",
    "DENOMINATOR_SOURCE",
    "NATIONAL",
    "Rate",
    "population",
    "population_table",
    "populations",
    "rate_per_100k",
    "rates_per_100k",
]

#: The denominators' source (its Spanish title) and edition, for the reports in either language.
DENOMINATOR_SOURCE = (
    "CONAPO, Conciliación Demográfica de México 1950–2019 y Proyecciones de la Población de México y de las "
    "Entidades Federativas 2020–2070"
)
DENOMINATOR_EDITION_YEAR = 2023
#: What the metadata says about the denominators.
DENOMINATOR_EDITION = f"{DENOMINATOR_SOURCE} ({DENOMINATOR_EDITION_YEAR} edition), mid-year population"
#: The value of ``state`` on national rows (the tidy tables' margin value).
NATIONAL = "total"

_SEX: dict[str | None, str] = {
    None: "total",
    "total": "total",
    "all": "total",
    "todos": "total",
    "female": "female",
    "women": "female",
    "mujeres": "female",
    "mujer": "female",
    "male": "male",
    "men": "male",
    "hombres": "male",
    "hombre": "male",
}
_CONAPO_SEX: dict[str | None, str] = {"men": "male", "women": "female", "total": "total"}
_AGE: dict[str | None, str] = {
    None: "total",
    "total": "total",
    "all": "total",
    "0-17": "0-17",
    "0_17": "0-17",
    "minor_0_17": "0-17",
    "18+": "18+",
    "18_plus": "18+",
    "adult_18_plus": "18+",
}
_FILES = (
    "conapo_population_midyear_state_sex_2015_2030.csv",
    "conapo_population_midyear_state_sex_age_2015_2030.csv",
)


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("cifranegra.report").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cache
def _lookup() -> dict[tuple[int, str, str, str], int]:
    table: dict[tuple[int, str, str, str], int] = {}
    for row in _read(_FILES[0]):
        state = NATIONAL if row["cve_ent"] == "00" else row["cve_ent"]
        table[(int(row["year"]), state, _CONAPO_SEX[row["sex"]], "total")] = int(row["population_midyear"])
    for row in _read(_FILES[1]):
        state = NATIONAL if row["cve_ent"] == "00" else row["cve_ent"]
        age = _AGE.get(row["age_group"], row["age_group"])
        table[(int(row["year"]), state, _CONAPO_SEX[row["sex"]], age)] = int(row["population_midyear"])
    # national totals by sex are in both files; the table keeps one value (they agree cell for cell)
    return table


@cache
def _years() -> tuple[int, ...]:
    return tuple(sorted({key[0] for key in _lookup()}))


def population_table() -> pd.DataFrame:
    """Every bundled denominator as a tidy frame: ``year``, ``state`` (INEGI code or ``total``), ``sex``
    (``female``/``male``/``total``), ``age_group`` (``0-17``/``18+``/``total``, or a national five-year
    group such as ``00_04``), ``population``."""
    rows = [{"year": y, "state": s, "sex": x, "age_group": a, "population": v} for (y, s, x, a), v in _lookup().items()]
    return pd.DataFrame(rows).sort_values(["year", "state", "sex", "age_group"], ignore_index=True)


def _norm_year(year: object) -> int | None:
    if isinstance(year, bool):
        return None
    if isinstance(year, (int, float)) and not (isinstance(year, float) and not year.is_integer()):
        return int(year)
    if isinstance(year, str) and year.strip().isdigit():
        return int(year.strip())
    try:  # numpy integers and the like
        as_int = int(year)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return as_int if as_int == year else None


def _norm_state(state: object) -> str | None:
    if state is None or (isinstance(state, float) and math.isnan(state)):
        return NATIONAL
    if isinstance(state, str) and state.strip().lower() in {"total", "national", "nacional", "00", "mx"}:
        return NATIONAL
    return normalize_state(state)


def _norm_key(value: object, table: dict[str | None, str]) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return table[None]
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    return table.get(key, value.strip() if value.strip() in _five_year_groups() else None)


@cache
def _five_year_groups() -> frozenset[str]:
    return frozenset(a for (_, _, _, a) in _lookup() if a not in {"total", "0-17", "18+"})


class _Missing(str):
    """Why a denominator is missing (a message quoting only code-list values); ``.field`` names the cause."""

    field: str


def _miss(field: str, message: str) -> _Missing:
    out = _Missing(message)
    out.field = field
    return out


def _resolve(year: object, state: object, sex: object, age_group: object) -> tuple[int, str, str, str] | _Missing:
    """The lookup key, or why there is none."""
    y = _norm_year(year)
    years = _years()
    if y is None or y not in years:
        shown = f"year {y}" if y is not None else "the year given"
        return _miss("year", f"no CONAPO population for {shown}: the bundled denominators cover {years[0]}–{years[-1]}")
    st = _norm_state(state)
    if st is None:
        return _miss(
            "state",
            "the state given is not one of the 32 federal entities (give a name such as 'Oaxaca', an INEGI "
            "code 01–32, a CURP state code or an ISO 3166-2 code MX-OAX; 'total' for the nation)",
        )
    sx = _norm_key(sex, _SEX)
    if sx is None or sx not in {"female", "male", "total"}:
        shown = f"sex {sex!r}" if sex == "unknown" else "the sex given"
        return _miss("sex", f"no population denominator for {shown}: use 'female', 'male' or 'total'")
    ag = _norm_key(age_group, _AGE)
    if ag is None:
        shown = f"age group {age_group!r}" if age_group == "unknown" else "the age group given"
        return _miss("age_group", f"no population denominator for {shown}: use '0-17', '18+' or 'total'")
    key = (y, st, sx, ag)
    if key not in _lookup():
        where = "the nation" if st == NATIONAL else f"state {st}"
        return _miss(
            "age_group",
            f"no CONAPO population for age group {ag!r} in {where}: five-year age groups exist for the nation "
            "only; states have '0-17', '18+' and 'total'",
        )
    return key


def population(year: int, state: str | int | None = None, sex: str | None = None, age_group: str | None = None) -> int:
    """CONAPO mid-year population of ``year`` in ``state`` (``None``/``"total"``: the nation; a name, INEGI,
    CURP or ISO code as :func:`cifranegra.schema.codes.normalize_state` reads it), for ``sex``
    (``female``/``male``; ``None``: both) and ``age_group`` (``0-17``/``18+``; ``None``: all ages).

    Raises :class:`InputError` naming what exists when there is no such denominator.
    """
    key = _resolve(year, state, sex, age_group)
    if isinstance(key, str):
        raise InputError(key)
    return _lookup()[key]


def populations(
    strata: pd.DataFrame,
    *,
    year: int | None = None,
    columns: tuple[str, str, str, str] = ("year", "state", "sex", "age_group"),
    file: str | None = None,
) -> pd.Series:
    """The denominator of each row of ``strata`` (a Series of ints on the same index).

    ``columns`` names the year, state, sex and age-group columns; a column that is absent means the margin
    (all states, both sexes, all ages), and ``year`` stands in for a missing year column. Rows with no
    denominator are all reported at once in one :class:`ValidationError` (row numbers from 1).
    """
    year_col, state_col, sex_col, age_col = columns
    if year_col not in strata.columns and year is None:
        raise InputError(f"the strata have no {year_col!r} column: give the reference year")
    problems: list[Problem] = []
    values: list[int] = []
    for row_number, (_, row) in enumerate(strata.iterrows(), start=1):
        key = _resolve(
            row[year_col] if year_col in strata.columns else year,
            row[state_col] if state_col in strata.columns else None,
            row[sex_col] if sex_col in strata.columns else None,
            row[age_col] if age_col in strata.columns else None,
        )
        if isinstance(key, str):
            column = dict(zip(("year", "state", "sex", "age_group"), columns, strict=True))[key.field]
            problems.append(Problem(file, row_number, column, "error", "no_denominator", str(key)))
            values.append(0)
        else:
            values.append(_lookup()[key])
    if problems:
        raise ValidationError(problems=problems, summary="some strata have no population denominator")
    return pd.Series(values, index=strata.index, dtype="int64", name="population")


@dataclass(frozen=True)
class Rate:
    """A rate per ``per`` people with its interval (the estimate's interval over a known population)."""

    rate: float
    lower: float
    upper: float
    population: int
    per: int = 100_000


def _check_rate_input(estimate: float, lower: float, upper: float, population: int) -> None:
    if isinstance(population, bool) or not isinstance(population, (int, float)) or not population > 0:
        raise InputError(f"a rate needs a positive population; got {population!r}")
    for name, value in (("estimate", estimate), ("lower", lower), ("upper", upper)):
        if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
            raise InputError(f"a rate needs a non-negative {name}; got {value!r}")
    if math.isinf(estimate) or math.isinf(lower):
        raise InputError("a rate needs a finite estimate and lower end (an unbounded upper end is allowed)")
    if not lower <= estimate <= upper:
        raise InputError(f"the interval must contain the estimate: lower {lower} ≤ estimate {estimate} ≤ upper {upper}")


def rate_per_100k(estimate: float, lower: float, upper: float, population: int) -> Rate:
    """Rate per 100,000 and its interval: each of ``estimate``, ``lower``, ``upper`` × 100,000 / ``population``.

    An infinite upper end (an unbounded interval) stays infinite.
    """
    _check_rate_input(estimate, lower, upper, population)
    scale = 100_000 / population
    return Rate(estimate * scale, lower * scale, upper * scale, int(population))


def rates_per_100k(
    frame: pd.DataFrame,
    *,
    year: int | None = None,
    columns: tuple[str, str, str, str] = ("year", "state", "sex", "age_group"),
    measures: tuple[str, str, str] = ("estimate", "lower", "upper"),
) -> pd.DataFrame:
    """``frame`` with ``population``, ``rate``, ``rate_lower`` and ``rate_upper`` columns added (a copy).

    Rows whose estimate is missing (not estimable, withheld) get missing rates; a row without a denominator
    is an error, as in :func:`populations`.
    """
    out = frame.copy()
    pop = populations(frame, year=year, columns=columns)
    out["population"] = pop
    est, lo, hi = measures
    for src, dst in ((est, "rate"), (lo, "rate_lower"), (hi, "rate_upper")):
        out[dst] = pd.to_numeric(frame[src], errors="coerce") * 100_000 / pop
    return out
