"""Records → the comparison columns Splink works on (pure pandas; no engine involved).

Mexican records name a person with given names and two surnames (paternal, maternal) that agencies
swap, drop or abbreviate, and with nicknames (``LUPITA`` for ``GUADALUPE``); CURPs are often missing.
The columns derived here make those variations comparable: canonical given names (nicknames
expanded by :func:`cifranegra.schema.canonical_given_name`), name keys without particles, an
order-free surname key (swaps), Spanish phonetic keys of names (:func:`spanish_phonetic`: ``BAZQUEZ``,
``VASQUEZ`` and ``VÁZQUEZ`` sound alike), the CURP's name-and-birth-date prefix, the birth date
with day and month swapped, and the range of birth years a record allows (from the age at
registration when the list has no birth date).
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
    "birth_year_lo",
    "birth_year_hi",
    "given_sound",
    "surname1_sound",
    "surname2_sound",
    "surname_sound_set",
    "initials",
    "sex",
    "state",
)

#: Integer prepared columns (the rest are text, or a list for ``given_tokens``).
INTEGER_COLUMNS = ("birth_year", "birth_year_lo", "birth_year_hi")

#: Ages outside this range are treated as unknown when deriving birth years from them.
_MAX_AGE = 110


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


def _sound(word: str) -> str:
    """Phonetic form of one upper-case word (see :func:`spanish_phonetic`)."""
    out: list[str] = []
    n = len(word)
    i = 0
    while i < n:
        c = word[i]
        nxt = word[i + 1] if i + 1 < n else ""
        after = word[i + 2] if i + 2 < n else ""
        if c == "C":
            if nxt == "H":  # CH is its own sound
                out.append("C")
                i += 2
                continue
            out.append("S" if nxt in ("E", "I") else "K")
        elif c == "Q":
            out.append("K")
            if nxt == "U" and after in ("E", "I"):  # QUE, QUI: the U is silent
                i += 1
        elif c == "G":
            if nxt in ("E", "I"):  # GE, GI sound as JE, JI
                out.append("J")
            else:
                out.append("G")
                if nxt == "U" and after in ("E", "I"):  # GUE, GUI: the U is silent
                    i += 1
        elif c == "P" and nxt == "H":  # PH → F
            out.append("F")
            i += 1
        elif c == "L" and nxt == "L":  # LL and Y sound alike (yeísmo)
            out.append("Y")
            i += 1
        elif c == "Y":  # Y as a vowel (final, or before a consonant) is I
            out.append("Y" if nxt and nxt in "AEIOU" else "I")
        elif c != "H":  # H is silent
            out.append(_SOUND_OF.get(c, c))
        i += 1
    folded: list[str] = []
    for ch in out:  # doubled letters sound as one (RR, SS, NN, and the SS from Z + S)
        if not folded or folded[-1] != ch:
            folded.append(ch)
    return "".join(folded)


#: Letters written differently for the same sound in Mexican Spanish (seseo, B/V, Ñ written N,
#: X in old spellings of J: XIMENA / JIMENA, MEXIA / MEJIA; W as U: WALTER / UALTER).
_SOUND_OF = {"V": "B", "Z": "S", "Ñ": "N", "X": "J", "W": "U"}


def spanish_phonetic(name: str | None) -> str | None:
    """A phonetic key of a Mexican name, word by word: spellings that sound the same in Mexican
    Spanish get the same key (``VÁZQUEZ``, ``VASQUEZ``, ``BAZQUEZ`` → ``BASKES``; ``YESENIA``,
    ``LLESENIA``; ``JIMENA``, ``XIMENA``; ``HERNANDEZ``, ``ERNANDES``; ``QUIÑONES``, ``KIÑONEZ``).

    Rules (our own simplification of Spanish orthography for record linkage, in the spirit of
    the Spanish adaptations of Soundex/Metaphone; phonetic blocking keys as in Christen 2012,
    *Data Matching*, on indexing):
    B/V; S/Z/C before E, I (seseo); K/QU/C before A, O, U; J/G before E, I; X → J; LL → Y
    (yeísmo); Y as a vowel → I; H silent; PH → F; W → U; Ñ → N; silent U of GUE, GUI, QUE, QUI;
    doubled letters as one. Vowels are kept (they carry gender: ADRIAN / ADRIANA). Particles
    are dropped first (:func:`cifranegra.schema.name_key`); accents are folded. ``None`` and
    blank give ``None``.
    """
    key = name_key(name)
    if key is None:
        return None
    sound = " ".join(w for w in (_sound(w) for w in key.split(" ")) if w)
    return sound or None


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
            y
            + "-"
            + day[can_swap].astype(int).astype(str).str.zfill(2)
            + "-"
            + month[can_swap].astype(int).astype(str).str.zfill(2)
        )
    year = d.dt.year.astype("Int64")
    return iso, swapped, year


def _birth_year_range(
    birth_year: pd.Series, age: pd.Series, registration_date: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Earliest and latest birth year a record allows.

    The birth year itself when known (``lo == hi``); otherwise, from the age at registration: a
    person aged ``a`` on a date of year ``Y`` was born in ``Y - a`` (birthday already passed) or
    ``Y - a - 1``. Lists that record ages but no birth dates (hotlines, shelters) can then still be
    blocked on a birth year: a record with a birth year agrees with a consistent age-only record on
    ``birth_year_lo`` or on ``birth_year_hi``, and two age-only records agree when their ages and
    registration years give the same range.
    """
    a = pd.to_numeric(age, errors="coerce").astype("Float64")
    reg = pd.to_datetime(registration_date, errors="coerce")
    reg_year = pd.Series(reg.dt.year, index=birth_year.index).astype("Float64")
    ok = a.notna() & reg_year.notna() & (a >= 0) & (a <= _MAX_AGE)
    hi = (reg_year - a).where(ok).round().astype("Int64")
    lo = (hi - 1).astype("Int64")
    known = birth_year.notna()
    return lo.where(~known, birth_year).astype("Int64"), hi.where(~known, birth_year).astype("Int64")


def check_records(records: pd.DataFrame, *, file_names: dict[str, str] | None = None) -> list[Problem]:
    """Problems that make a Records frame unusable for linkage, all collected at once.

    Missing ``source``/``record_id`` columns, duplicated record ids within a list, and lists in
    which no record carries any identifier (names, CURP, birth date or year) are errors.
    """
    problems: list[Problem] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        return [
            Problem(
                None,
                None,
                c,
                "error",
                "missing_column",
                f"the records have no {c!r} column; every record needs its list and its id",
            )
            for c in missing
        ]
    file_names = file_names or {}
    records = records.reset_index(drop=True)  # rows by position: a frame's index may repeat (concat)
    ids = IDENTIFIER_COLUMNS
    present = [c for c in ids if c in records.columns]
    if not present:
        problems.append(
            Problem(
                None,
                None,
                None,
                "error",
                "no_identifiers",
                "the records have none of the identifier columns "
                f"{', '.join(ids)}; map at least names or CURP or birth date in the list mapping",
            )
        )
        return problems
    rid = records["record_id"].astype("string")
    for source, group in records.groupby("source", sort=True, dropna=False):
        fname = file_names.get(str(source), str(source))
        dup = rid[group.index].duplicated(keep="first")
        if dup.any():
            rows = (np.flatnonzero(dup.to_numpy()) + 1)[:5].tolist()
            problems.append(
                Problem(
                    fname,
                    int(rows[0]),
                    "record_id",
                    "error",
                    "duplicate_id",
                    f"{int(dup.sum())} record id(s) repeat within list {source!r} (rows {rows}...); "
                    "each record of a list needs its own id",
                )
            )
        if rid[group.index].isna().any():
            problems.append(
                Problem(
                    fname,
                    None,
                    "record_id",
                    "error",
                    "missing_id",
                    f"{int(rid[group.index].isna().sum())} record(s) of list {source!r} have no id",
                )
            )
        usable = group[present].notna().any(axis=1)
        if not usable.any():
            problems.append(
                Problem(
                    fname,
                    None,
                    None,
                    "error",
                    "no_identifiers",
                    f"no record of list {source!r} has a name, CURP, birth date or birth year, so "
                    "it cannot be linked to any other list; check its column mapping",
                )
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
    lo, hi = _birth_year_range(out["birth_year"], col("age"), col("registration_date"))
    out["birth_year_lo"] = lo
    out["birth_year_hi"] = hi

    out["given_sound"] = _map_unique(out["given_key"], spanish_phonetic)
    s1_sound = _map_unique(s1, spanish_phonetic)
    s2_sound = _map_unique(s2, spanish_phonetic)
    out["surname1_sound"] = s1_sound
    out["surname2_sound"] = s2_sound
    sound_set = [
        (" ".join(sorted((a, b))) if isinstance(b, str) else a) if isinstance(a, str) else None
        for a, b in zip(s1_sound.tolist(), s2_sound.tolist(), strict=True)
    ]
    out["surname_sound_set"] = pd.Series(sound_set, index=records.index, dtype="object")
    # first letters of the phonetic given name and first surname: typos seldom hit a first letter
    g0 = out["given_sound"].str[0]
    s0 = s1_sound.str[0]
    out["initials"] = (g0 + s0).where(g0.notna() & s0.notna(), None)

    sex = col("sex").astype("object")
    out["sex"] = sex.where(sex.isin(["female", "male"]), None)
    state = col("state").astype("object")
    out["state"] = state.where(state.notna() & (state.astype(str) != ""), None)
    for c in out.columns:  # one missing value everywhere: None (engines read NaN as a float)
        if c not in (*INTEGER_COLUMNS, "given_tokens"):
            out[c] = out[c].astype("object").where(out[c].notna(), None)
    return out.reset_index(drop=True)


def usable_identifier_mask(prepared: pd.DataFrame) -> pd.Series:
    """True for the records that carry at least one identifier the comparisons can use."""
    cols: Iterable[str] = ("given", "surname1", "curp", "birth_date", "birth_year")
    return prepared[list(cols)].notna().any(axis=1)
