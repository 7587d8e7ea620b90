"""Records → the comparison columns Splink works on (pure pandas; no engine involved).

Mexican records name a person with given names and two surnames (paternal, maternal) that agencies
swap, drop or abbreviate, and with nicknames (``LUPITA`` for ``GUADALUPE``); CURPs are often missing.
The columns derived here make those variations comparable: canonical given names (nicknames
expanded by :func:`cifranegra.schema.canonical_given_name`), name keys without particles, an
order-free surname key (swaps), the CURP's name-and-birth-date prefix, and the birth date with day
and month swapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from cifranegra.errors import Problem, ValidationError

try:  # the schema layer's public names (issue 4)
    from cifranegra.schema import canonical_given_name, name_key
except ImportError:  # pragma: no cover - while the schema package re-exports are pending
    from cifranegra.schema.nicknames import canonical_given_name
    from cifranegra.schema.text import name_key

#: Columns a Records frame must have for linkage (the rest of the schema is optional).
REQUIRED_COLUMNS = ("source", "record_id")
#: Identifier columns: a record with none of them can only ever be a singleton.
IDENTIFIER_COLUMNS = ("given_names", "first_surname", "second_surname", "curp", "birth_date", "birth_year")
#: Columns carried from the records into the entities table (strata), when present.
STRATUM_COLUMNS = ("year", "sex", "age_group", "state", "exploitation")

#: Given names so common as a first name that the second one identifies the person better.
_COMMON_FIRST = frozenset({"MARIA", "JOSE", "JUAN", "MA", "J"})

#: Prepared columns handed to Splink (besides ``unique_id`` and ``source_dataset``).
PREPARED_COLUMNS = (
    "given",
    "given1",
    "given_key",
    "given_tokens",
    "surname1",
    "surname2",
    "surname_set",
    "surnames_full",
    "curp",
    "curp10",
    "birth_date",
    "birth_date_swapped",
    "birth_year",
    "sex",
    "state",
)


def _map_unique(values: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    """Apply ``fn`` once per distinct non-null value (names repeat a lot)."""
    s = values.astype("object").where(values.notna(), None)
    uniques = pd.unique(s.dropna())
    table = {u: fn(u) for u in uniques}
    return s.map(table).astype("object").where(s.notna(), None)


def _canonical_key(v: str) -> str | None:
    c = canonical_given_name(v)
    return name_key(c) if c else None


def _given_key(v: str | None) -> str | None:
    if v is None:
        return None
    words = v.split(" ")
    if len(words) > 1 and words[0] in _COMMON_FIRST:
        return words[1]
    return words[0]


def _iso_dates(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """ISO date strings, their day/month swaps (null when not a valid distinct date) and years."""
    d = pd.to_datetime(values, errors="coerce")
    ok = d.notna()
    iso = pd.Series(None, index=values.index, dtype="object")
    iso[ok] = d[ok].dt.strftime("%Y-%m-%d")
    swapped = pd.Series(None, index=values.index, dtype="object")
    day = d.dt.day
    month = d.dt.month
    can_swap = ok & (day <= 12) & (day != month)
    if can_swap.any():
        y = d[can_swap].dt.year.astype(int).astype(str).str.zfill(4)
        swapped[can_swap] = (
            y + "-" + day[can_swap].astype(int).astype(str).str.zfill(2) + "-"
            + month[can_swap].astype(int).astype(str).str.zfill(2)
        )
    year = d.dt.year.astype("Int64")
    return iso, swapped, year


def check_records(records: pd.DataFrame, *, file_names: dict[str, str] | None = None) -> list[Problem]:
    """Problems that make a Records frame unusable for linkage, all collected at once.

    Missing ``source``/``record_id`` columns, duplicated record ids within a list, and lists in
    which no record carries any identifier (names, CURP, birth date or year) are errors.
    """
    problems: list[Problem] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        return [
            Problem(None, None, c, "error", "missing_column",
                    f"the records have no {c!r} column; every record needs its list and its id")
            for c in missing
        ]
    file_names = file_names or {}
    ids = IDENTIFIER_COLUMNS
    present = [c for c in ids if c in records.columns]
    if not present:
        problems.append(
            Problem(None, None, None, "error", "no_identifiers",
                    "the records have none of the identifier columns "
                    f"{', '.join(ids)}; map at least names or CURP or birth date in the list mapping")
        )
        return problems
    rid = records["record_id"].astype("string")
    for source, group in records.groupby("source", sort=True, dropna=False):
        fname = file_names.get(str(source), str(source))
        dup = rid[group.index].duplicated(keep="first")
        if dup.any():
            rows = (np.flatnonzero(dup.to_numpy()) + 1)[:5].tolist()
            problems.append(
                Problem(fname, int(rows[0]), "record_id", "error", "duplicate_id",
                        f"{int(dup.sum())} record id(s) repeat within list {source!r} (rows {rows}...); "
                        "each record of a list needs its own id")
            )
        if rid[group.index].isna().any():
            problems.append(
                Problem(fname, None, "record_id", "error", "missing_id",
                        f"{int(rid[group.index].isna().sum())} record(s) of list {source!r} have no id")
            )
        usable = group[present].notna().any(axis=1)
        if not usable.any():
            problems.append(
                Problem(fname, None, None, "error", "no_identifiers",
                        f"no record of list {source!r} has a name, CURP, birth date or birth year, so "
                        "it cannot be linked to any other list; check its column mapping")
            )
    return problems


def prepare_records(records: pd.DataFrame) -> pd.DataFrame:
    """Comparison columns for Splink, one row per record, in the records' order.

    Returns a frame with ``unique_id`` (the record id), ``source_dataset`` (the list) and
    :data:`PREPARED_COLUMNS`; absent inputs give null columns. Raises
    :class:`~cifranegra.errors.ValidationError` listing every problem of :func:`check_records`.
    """
    problems = check_records(records)
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems=problems, summary="the records cannot be linked")

    def col(name: str) -> pd.Series:
        if name in records.columns:
            return records[name]
        return pd.Series(None, index=records.index, dtype="object")

    out = pd.DataFrame(index=records.index)
    out["unique_id"] = records["record_id"].astype(str)
    out["source_dataset"] = records["source"].astype(str)

    given = _map_unique(col("given_names"), _canonical_key)
    out["given"] = given
    out["given1"] = _map_unique(given, lambda v: v.split(" ")[0])
    out["given_key"] = _map_unique(given, _given_key)
    tokens: list[list[str] | None] = [v.split(" ") if isinstance(v, str) else None for v in given]
    out["given_tokens"] = pd.Series(tokens, index=records.index, dtype="object")

    s1 = _map_unique(col("first_surname"), lambda v: name_key(v))
    s2 = _map_unique(col("second_surname"), lambda v: name_key(v))
    # a lone surname recorded in the second position is the first one
    only_second = s1.isna() & s2.notna()
    s1 = s1.where(~only_second, s2)
    s2 = s2.where(~only_second, None)
    out["surname1"] = s1
    out["surname2"] = s2
    both = s1.notna() & s2.notna()
    full = pd.Series(None, index=records.index, dtype="object")
    full[both] = s1[both] + " " + s2[both]
    out["surnames_full"] = full
    sset = [
        (" ".join(sorted((a, b))) if isinstance(b, str) else a) if isinstance(a, str) else None
        for a, b in zip(s1.tolist(), s2.tolist(), strict=True)
    ]
    out["surname_set"] = pd.Series(sset, index=records.index, dtype="object")

    curp = col("curp").astype("object").where(col("curp").notna(), None)
    curp = curp.map(lambda v: v.strip().upper() if isinstance(v, str) and v.strip() else None)
    out["curp"] = curp
    out["curp10"] = curp.map(lambda v: v[:10] if isinstance(v, str) and len(v) >= 10 else None)

    iso, swapped, year_from_date = _iso_dates(col("birth_date"))
    out["birth_date"] = iso
    out["birth_date_swapped"] = swapped
    by = pd.to_numeric(col("birth_year"), errors="coerce").astype("Int64")
    out["birth_year"] = year_from_date.fillna(by).astype("Int64")

    sex = col("sex").astype("object")
    out["sex"] = sex.where(sex.isin(["female", "male"]), None)
    state = col("state").astype("object")
    out["state"] = state.where(state.notna() & (state.astype(str) != ""), None)
    for c in out.columns:  # one missing value everywhere: None (engines read NaN as a float)
        if c not in ("birth_year", "given_tokens"):
            out[c] = out[c].astype("object").where(out[c].notna(), None)
    return out.reset_index(drop=True)


def usable_identifier_mask(prepared: pd.DataFrame) -> pd.Series:
    """True for the records that carry at least one identifier the comparisons can use."""
    cols: Iterable[str] = ("given", "surname1", "curp", "birth_date", "birth_year")
    return prepared[list(cols)].notna().any(axis=1)
