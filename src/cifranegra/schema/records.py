"""Validation rules and normalization of agency records already in canonical columns.

:func:`check_records` turns a frame of raw values (canonical column names, agency spellings) into a
normalized Records frame and the list of every problem found; :func:`normalize_records` is the same
without the problems. Nothing is dropped: a row keeps its place, a value that cannot be read becomes
null and is reported. Errors are values that cannot be interpreted (the fix is in the message);
warnings are values that were read but look wrong (a CURP that disagrees with the person, an age
that disagrees with the birth date...).

A message quotes a cell's value only when it is harmless whatever column it sits in: a known
code-list value (a sex, state, nationality, yes/no or exploitation code) or a number of at most
three digits; anything else is masked (``"Zo***"``), since in a misaligned or mis-mapped row a
name, CURP or birth date can land in any column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError, Problem
from cifranegra.schema.codes import (
    normalize_nationality,
    normalize_state,
    parse_exploitation,
    parse_sex,
    parse_yes_no,
    yes_no_recognised,
)
from cifranegra.schema.curp import curp_name_letters, curps_valid, normalize_curp
from cifranegra.schema.dates import parse_dates
from cifranegra.schema.fields import IDENTIFYING_FIELDS, RECORD_COLUMNS, mask_value
from cifranegra.schema.nicknames import canonical_given_name
from cifranegra.schema.shapes import looks_identifying
from cifranegra.schema.text import PARTICLES, fold_text, normalize_name

__all__ = [
    "ON_UNRECOGNISED",
    "bad_stratum_values",
    "check_on_unrecognised",
    "check_records",
    "detect_sex_convention",
    "looks_identifying",
    "normalize_records",
    "shown_value",
    "split_full_name",
    "stratum_labels",
    "stratum_text",
    "stratum_value_problems",
]

_MAX_AGE = 120

#: what to do with a value a code list does not recognise: ``"error"`` (the record is refused)
#: or ``"unknown"`` (the field is read as unknown; one warning per column says how many)
ON_UNRECOGNISED: tuple[str, ...] = ("error", "unknown")
_SMALL_NUMBER = re.compile(r"[+-]?\d{1,3}")
_BARE_ALPHA3 = re.compile(r"[A-Za-z]{3}")


def check_on_unrecognised(value: object) -> str:
    """``value`` if it is one of :data:`ON_UNRECOGNISED`, else :class:`InputError`."""
    if value not in ON_UNRECOGNISED:
        raise InputError(
            f"unrecognised values must be handled as 'error' or 'unknown' (--unrecognised "
            f"error|unknown), not {mask_value(value, identifying=False)}"
        )
    return str(value)


@lru_cache(maxsize=8192)
def _known_code(text: str) -> bool:
    """Whether ``text`` is a value of one of the schema's code lists (a bare three-letter word is
    not taken as a nationality code: it may be a name)."""
    if parse_sex(text, "es") is not None or normalize_state(text) is not None:
        return True
    if yes_no_recognised(text):
        return True
    if normalize_nationality(text) is not None and not _BARE_ALPHA3.fullmatch(text):
        return True
    codes, bad = parse_exploitation(text)
    return codes is not None and not bad


#: a state written as a code: INEGI digits or a short abbreviation ("CDMX", "Jal.", "BCS")
_STATE_ABBREVIATION = re.compile(r"\d{1,2}|[A-Za-z]{1,4}\.?")


@lru_cache(maxsize=8192)
def _message_code(text: str) -> bool:
    """Whether ``text`` is a code-list value that a message about a cell may quote: a sex, sí/no, a form
    of exploitation, or a state written as a code or abbreviation. Full state names and countries or
    nationalities are not quoted there, since many are also surnames or given names (Hidalgo,
    Guerrero, Morelos, Israel, América): a surname that slid into the sex column of a misaligned row
    is masked like any surname. Stratum labels, which are categories, still show them."""
    if parse_sex(text, "es") is not None or yes_no_recognised(text):
        return True
    if normalize_state(text) is not None:
        return bool(_STATE_ABBREVIATION.fullmatch(text.strip()))
    if normalize_nationality(text) is not None:
        return False
    codes, bad = parse_exploitation(text)
    return codes is not None and not bad


def _quotable(value: object, *, in_message: bool = False) -> bool:
    """Whether a cell's value may appear as it is (see the module docstring): in a stratum label, any
    code-list value; in a message about a cell (``in_message``), only those of :func:`_message_code`."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, (int, np.integer)):
        return abs(int(value)) < 1000
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number != number or (number.is_integer() and abs(number) < 1000)
    if not isinstance(value, str):
        return False  # dates, timestamps and anything else: masked
    text = value.strip()
    if len(text) > 60:
        return False
    if _SMALL_NUMBER.fullmatch(text):
        return True
    return _message_code(text) if in_message else _known_code(text)


def shown_value(value: object, *, identifying: bool = False) -> str:
    """A cell's value as a message may show it: quoted when it is a code that cannot be a name (a sex,
    sí/no, a form of exploitation, a state code or abbreviation: :func:`_message_code`) or a number of at
    most three digits (and the column is not identifying), else masked."""
    if not identifying and _quotable(value, in_message=True):
        return mask_value(value, identifying=False)
    return mask_value(value, identifying=True)


_STRATUM_SHAPE = re.compile(
    r"(?:1[89]|20)\d\d"  # a year
    r"|\d{1,3}\s*(?:-|–|a|to)\s*\d{1,3}"  # an age group, "18-29", "0 a 17"
    r"|\d{1,3}\s*\+|(?:<|>|≤|≥|<=|>=)\s*\d{1,3}",  # "60+", "<18"
    re.IGNORECASE,
)
#: a stratum column with more distinct values than this is taken for an identifier (32 states + some)
MAX_SHOWN_STRATUM_VALUES = 40


def _unknown_stratum(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _plain_stratum(value: object) -> str | None:
    """The value as it may be shown whatever its column (codes, small numbers, years, age groups)."""
    if _unknown_stratum(value):
        return "(unknown)"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    if _quotable(value) or (len(text) <= 20 and _STRATUM_SHAPE.fullmatch(text)):
        return text
    return None


def _stratum_codes(column: str) -> frozenset[str] | None:
    """The values cifranegra writes in a known stratum column (None: not a known column)."""
    from cifranegra.schema.codes import AGE_GROUPS, EXPLOITATION_CODES, SEX_CODES, states

    known = {
        "sex": SEX_CODES,
        "age_group": AGE_GROUPS,
        "state": (*(st.code for st in states()), "unknown"),
        "exploitation": EXPLOITATION_CODES,
    }
    return frozenset(known[column]) if column in known else None


def bad_stratum_values(column: str, values: pd.Series) -> tuple[np.ndarray, str] | None:
    """Where a stratum column that cifranegra wrote (an encoded list's strata, a run's entities.csv)
    holds a value cifranegra never writes: the positions (from 0) and the rule they break, for a message
    that names rows, never values; None for a column that is not a known stratum. Empty values are fine.

    A stratum value becomes a label of the tables a run publishes, so a file edited by hand must not
    carry free text (a name, say) into them. ``exploitation`` may join several forms with ``|``; a
    ``state`` is an INEGI code, with or without its leading zero; ``year`` a whole year in
    :data:`cifranegra.schema.codes.STRATUM_YEAR_RANGE`."""
    from cifranegra.schema.codes import STRATUM_YEAR_RANGE

    present = values.notna().to_numpy()
    if column == "year":
        numbers = pd.to_numeric(values, errors="coerce")
        ok = (numbers.notna() & (numbers == numbers.round()) & numbers.between(*STRATUM_YEAR_RANGE)).to_numpy()
        lo, hi = STRATUM_YEAR_RANGE
        return np.flatnonzero(present & ~ok), f"a whole year from {lo} to {hi}"
    codes = _stratum_codes(column)
    if codes is None:
        return None
    text = values.astype("string").str.strip()
    if column == "exploitation":
        parts_ok = text.str.split("|").map(lambda parts: isinstance(parts, list) and set(parts) <= codes)
        ok = parts_ok.fillna(False).to_numpy(dtype=bool)
    else:
        if column == "state":
            text = text.where(~text.str.fullmatch(r"\d").fillna(False), "0" + text)
        ok = text.isin(codes).fillna(False).to_numpy(dtype=bool)
    rule = "one of " + ", ".join(sorted(codes)) if len(codes) <= 20 else "an INEGI state code (01-32) or unknown"
    return np.flatnonzero(present & ~ok), rule


def stratum_value_problems(frame: pd.DataFrame, columns: Iterable[str], rows_are: str) -> list[str]:
    """One line per known stratum column of ``frame`` holding values cifranegra never writes
    (:func:`bad_stratum_values`): the column, the first five row numbers (from 1, called ``rows_are``,
    e.g. "record(s)") and the rule; values never. Columns absent or not known strata are skipped."""
    problems = []
    for col in columns:
        found = bad_stratum_values(col, frame[col]) if col in frame.columns else None
        if found is None:
            continue
        rows, rule = found
        if rows.size:
            shown = ", ".join(str(r + 1) for r in rows[:5]) + (f" and {rows.size - 5} more" if rows.size > 5 else "")
            problems.append(f"column {col!r}, {rows_are} {shown}: not {rule}")
    return problems


def _identifying_stratum(value: object) -> bool:
    text = str(value)
    return len(text) > 40 or looks_identifying(text)


def stratum_labels(columns: Sequence[str], keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], dict[str, str]]:
    """For each stratum key, ``{column: value as output may show it}``.

    A stratum column is whatever the user names, so a misplaced identifying column (CURPs, names,
    birth dates) must not be echoed once per person. Codes, small numbers, years and age groups are
    shown as they are; other values too, unless their column looks like an identifier (a value shaped
    like a CURP, a date, a long number or an e-mail, or more than :data:`MAX_SHOWN_STRATUM_VALUES`
    distinct values): then masked (``"Ma***"``), with a ``#n`` suffix where two masked strata coincide.
    """
    keys = list(keys)
    masked_columns = set()
    for j in range(len(columns)):
        values = {k[j] for k in keys}
        others = [v for v in values if _plain_stratum(v) is None]
        if len(values) > MAX_SHOWN_STRATUM_VALUES or any(_identifying_stratum(v) for v in others):
            masked_columns.add(j)

    def show(j: int, value: object) -> str:
        plain = _plain_stratum(value)
        if plain is not None:
            return plain
        if j in masked_columns:
            return mask_value(value, identifying=True)
        return str(value).strip()

    shown = {k: tuple(show(j, v) for j, v in enumerate(k)) for k in keys}
    counts = Counter(shown.values())
    seen: dict[tuple[str, ...], int] = {}
    out: dict[tuple[Any, ...], dict[str, str]] = {}
    for k in keys:
        label = shown[k]
        if counts[label] > 1:
            seen[label] = seen.get(label, 0) + 1
            label = tuple(v + f" #{seen[label]}" if "***" in v else v for v in label)
        out[k] = dict(zip(columns, label, strict=True))
    return out


def stratum_text(columns: Sequence[str], key: tuple[Any, ...], keys: Iterable[tuple[Any, ...]] = ()) -> str:
    """One stratum as ``"col=value, ..."`` for a message (see :func:`stratum_labels`; ``keys``, the
    table's other strata, decide whether a column looks like an identifier)."""
    labels = stratum_labels(columns, [key, *(k for k in keys if k != key)])
    return ", ".join(f"{c}={v}" for c, v in labels[key].items())


def _map_unique(values: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """``values.map(func)`` computing ``func`` once per distinct value (nulls: ``func(None)``)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [func(u) for u in uniques] + [func(None)]
    table = np.empty(len(results), dtype=object)
    table[:] = results
    return pd.Series(table[codes], index=values.index, dtype=object)


def _record_id(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        if v != v:
            return None
        if v.is_integer():
            return str(int(v))
    return str(v).strip() or None


def _present(values: pd.Series) -> np.ndarray:
    """Cells holding something other than null or blank."""
    s = values.astype("string")
    return (s.notna() & (s.str.strip() != "")).to_numpy(dtype=bool, na_value=False)


def _particle_groups(norm: str) -> list[str]:
    """Words of a normalized name with each run of particles attached to the word after it."""
    groups: list[str] = []
    pending: list[str] = []
    for w in norm.split(" "):
        pending.append(w)
        if w not in PARTICLES:
            groups.append(" ".join(pending))
            pending = []
    if pending:
        if groups:
            groups[-1] = groups[-1] + " " + " ".join(pending)
        else:
            groups.append(" ".join(pending))
    return groups


def split_full_name(s: str | None) -> tuple[str | None, str | None, str | None]:
    """(given names, first surname, second surname) from a whole name written given names first
    (``"María de la Luz Pérez de la Cruz"`` → MARIA DE LA LUZ / PEREZ / DE LA CRUZ), or surnames
    first when a comma separates them (``"Pérez de la Cruz, María de la Luz"``). Particles stay
    with the word that follows them. With two words the second is the first surname."""
    if isinstance(s, str) and s.count(",") == 1:
        surnames, given = s.split(",")
        g = normalize_name(given)
        sur = normalize_name(surnames)
        parts = _particle_groups(sur) if sur else []
        first = parts[0] if parts else None
        second = " ".join(parts[1:]) if len(parts) > 1 else None
        return g, first, second
    norm = normalize_name(s)
    if norm is None:
        return None, None, None
    groups = _particle_groups(norm)
    if len(groups) == 1:
        return groups[0], None, None
    if len(groups) == 2:
        return groups[0], groups[1], None
    return " ".join(groups[:-2]), groups[-2], groups[-1]


def detect_sex_convention(values: pd.Series, default: str = "es") -> tuple[str, bool]:
    """Which meaning of ``M`` a sex column uses: (``"es"`` M = mujer, or ``"en"`` M = male or
    masculino, ambiguous). ``H``/``HOMBRE`` present → ``es``; ``F``/``FEMENINO``/``FEMALE`` present → ``en``;
    only ``M`` (no H or F) is ambiguous and ``default`` is used."""
    if default not in ("es", "en"):
        raise InputError(f"the sex convention must be 'es' (M = mujer) or 'en' (M = male), not {default!r}")
    uniq = {fold_text(str(v)).strip().rstrip(".") for v in pd.unique(values.dropna())}
    if uniq & {"H", "HOMBRE", "HOMBRES", "VARON"}:
        return "es", False
    if uniq & {"F", "FEM", "FEMENINO", "FEMALE", "MALE"}:
        return "en", False
    return default, "M" in uniq


class _Collector:
    def __init__(
        self, file: str | None, headers: Mapping[str, str], on_unrecognised: str = "error"
    ) -> None:
        self.file = file
        self.headers = headers
        self.on_unrecognised = on_unrecognised
        self.problems: list[Problem] = []

    def add(
        self,
        mask: np.ndarray,
        column: str,
        severity: str,
        code: str,
        message: Callable[[Any], str],
        values: pd.Series | None,
    ) -> None:
        header = self.headers.get(column, column)
        identifying = column in IDENTIFYING_FIELDS
        for i in np.flatnonzero(mask):
            raw = None if values is None else values.iat[int(i)]
            shown = shown_value(raw, identifying=identifying)
            self.problems.append(
                Problem(self.file, int(i) + 1, header, severity, code, message(shown))
            )

    def whole(self, column: str | None, severity: str, code: str, message: str) -> None:
        header = self.headers.get(column, column) if column else None
        self.problems.append(Problem(self.file, None, header, severity, code, message))

    def unrecognised(
        self,
        mask: np.ndarray,
        column: str,
        severity: str,
        code: str,
        message: Callable[[Any], str],
        values: pd.Series,
        what: str,
        note: str = "",
    ) -> None:
        """Values a code list does not recognise: one problem per row (``on_unrecognised=
        "error"``, with ``severity``), or, with ``"unknown"``, a single warning for the column
        saying how many rows were read as unknown and the first few row numbers."""
        if self.on_unrecognised != "unknown":
            self.add(mask, column, severity, code, message, values)
            return
        rows = np.flatnonzero(mask) + 1
        if not len(rows):
            return
        first = ", ".join(map(str, rows[:5].tolist())) + (", ..." if len(rows) > 5 else "")
        self.whole(
            column,
            "warning",
            "unrecognised_as_unknown",
            f"{len(rows)} row(s) have a {what} that is not recognised (row(s) {first}); "
            f"the records are kept with the {what} read as unknown (--unrecognised unknown)"
            + note,
        )


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """The column as read (not copied), or a column of nulls when the file has none."""
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def check_records(
    raw: pd.DataFrame,
    *,
    source: str | None = None,
    file: str | None = None,
    headers: Mapping[str, str] | None = None,
    sex_convention: str | None = None,
    dayfirst: bool = True,
    today: dt.date | None = None,
    on_unrecognised: str = "error",
) -> tuple[pd.DataFrame, list[Problem]]:
    """Normalize and validate raw records in canonical columns (see
    :mod:`cifranegra.schema.fields`).

    ``raw``: one row per record, agency values as read (strings or numbers). ``source``: agency id
    when there is no ``source`` column. ``file`` and ``headers`` (canonical name → the file's own
    header) only locate problems. ``sex_convention`` ``"es"``/``"en"`` fixes the meaning of ``M``
    (detected from the values when ``None``). ``on_unrecognised``: ``"error"`` (a sex, state or
    form of exploitation that no code list recognises is an error on its row; an unrecognised
    nationality or yes/no a warning) or ``"unknown"`` (each is read as unknown, the record kept,
    and one ``unrecognised_as_unknown`` warning per column gives the count and first rows; a cell
    of exploitation forms keeps those it recognised). Returns the Records frame (columns
    :data:`~cifranegra.schema.fields.RECORD_COLUMNS`, same rows in the same order) and every
    problem, rows counted from 1. Messages never quote a value that could identify someone
    (see :func:`shown_value`).
    """
    check_on_unrecognised(on_unrecognised)
    n = len(raw)
    raw = raw.reset_index(drop=True)
    c = _Collector(file, headers or {}, on_unrecognised)
    today = today or dt.date.today()
    today64 = np.datetime64(today, "s")
    out = pd.DataFrame(index=pd.RangeIndex(n))

    # source and record id ---------------------------------------------------------------------
    if "source" in raw.columns:
        src = _map_unique(
            _col(raw, "source"), lambda v: None if v is None else str(v).strip() or None
        )
        if source is not None:
            src = src.fillna(source)
        missing = src.isna().to_numpy()
        c.add(
            missing,
            "source",
            "error",
            "missing_source",
            lambda v: "the agency (source) is missing; fill it in or pass --source (source=)",
            None,
        )
        out["source"] = src.astype("string")
    else:
        out["source"] = pd.Series([source] * n, dtype="string")
        if source is None and n:
            c.whole(
                None,
                "error",
                "missing_source",
                "no agency (source) column and no source given; pass --source (source=)",
            )
    if "record_id" in raw.columns:
        rid = _map_unique(_col(raw, "record_id"), _record_id)
        missing = rid.isna().to_numpy()
        c.add(
            missing,
            "record_id",
            "error",
            "missing_record_id",
            lambda v: "the record id is empty; every record needs the agency's own id",
            None,
        )
        dup = rid.duplicated(keep="first").to_numpy() & ~missing
        c.add(
            dup,
            "record_id",
            "error",
            "duplicate_record_id",
            lambda v: f"record id {v} appears more than once in this file; ids must be unique",
            rid,
        )
        out["record_id"] = rid.astype("string")
    else:
        out["record_id"] = pd.Series([str(i) for i in range(1, n + 1)], dtype="string")
        if n:
            c.whole(
                "record_id",
                "warning",
                "no_record_id",
                "no record id column; row numbers are used as record ids (map the agency's id "
                "column if it has one)",
            )

    # dates ------------------------------------------------------------------------------------
    def dates(name: str, required_msg: str | None) -> pd.Series:
        values = _col(raw, name)
        parsed, bad = parse_dates(values, dayfirst=dayfirst)
        c.add(
            bad.to_numpy(),
            name,
            "error",
            "invalid_date",
            lambda v: f"{v} is not a date; write it as dd/mm/yyyy or yyyy-mm-dd",
            values,
        )
        future = (parsed > today64).to_numpy(dtype=bool, na_value=False)
        c.add(
            future,
            name,
            "error",
            "date_in_future",
            lambda v: f"{v} is in the future; correct the date",
            values,
        )
        parsed = parsed.where(~future)
        if required_msg and name in raw.columns:
            missing = ~_present(values)
            c.add(missing, name, "warning", f"missing_{name}", lambda v: required_msg, None)
        return parsed

    reg = dates(
        "registration_date",
        "the registration date is empty; the record cannot be placed in a period",
    )
    if "registration_date" not in raw.columns and n:
        c.whole(
            "registration_date",
            "warning",
            "no_registration_date",
            "no registration date column; records cannot be placed in a period",
        )
    birth = dates("birth_date", None)
    after = (birth > reg).to_numpy(dtype=bool, na_value=False)
    c.add(
        after,
        "birth_date",
        "warning",
        "birth_after_registration",
        lambda v: f"birth date {v} is after the registration date; check both dates",
        _col(raw, "birth_date"),
    )
    out["registration_date"] = reg
    out["birth_date"] = birth

    # names ------------------------------------------------------------------------------------
    given = _col(raw, "given_names")
    first = _col(raw, "first_surname")
    second = _col(raw, "second_surname")
    if "full_name" in raw.columns:
        parts = _map_unique(_col(raw, "full_name"), split_full_name)
        need = given.isna() & first.isna()
        if need.any():
            given = given.where(~need, parts.map(lambda p: p[0]))
            first = first.where(~need, parts.map(lambda p: p[1]))
            second = second.where(~need, parts.map(lambda p: p[2]))
    for name, values in (
        ("given_names", given),
        ("first_surname", first),
        ("second_surname", second),
    ):
        norm = _map_unique(
            values,
            lambda v: (
                normalize_name(v)
                if isinstance(v, str)
                else (normalize_name(str(v)) if v is not None else None)
            ),
        )
        lost = _present(values) & norm.isna().to_numpy()
        c.add(
            lost,
            name,
            "warning",
            "invalid_name",
            lambda v: f"{v} has no letters; it is read as empty",
            values,
        )
        out[name] = norm.astype("string")
    no_name = (out["given_names"].isna() & out["first_surname"].isna()).to_numpy()

    # age --------------------------------------------------------------------------------------
    age_raw = _col(raw, "age")
    age_num = pd.to_numeric(
        _map_unique(age_raw, lambda v: None if v is None else str(v).strip()), errors="coerce"
    ).astype("Float64")
    bad_age = _present(age_raw) & age_num.isna().to_numpy()
    out_of_range = (age_num < 0) | (age_num > _MAX_AGE) | (age_num % 1 != 0)
    bad_age |= out_of_range.to_numpy(dtype=bool, na_value=False)
    c.add(
        bad_age,
        "age",
        "error",
        "invalid_age",
        lambda v: f"age {v} is not a whole number of years between 0 and {_MAX_AGE}",
        age_raw,
    )
    # values left are whole numbers (anything else was flagged above)
    age = age_num.mask(pd.Series(bad_age, index=age_num.index)).astype("Int64")
    reg_ts = pd.to_datetime(out["registration_date"])
    birth_ts = pd.to_datetime(out["birth_date"])
    years = reg_ts.dt.year - birth_ts.dt.year
    before_birthday = (reg_ts.dt.month < birth_ts.dt.month) | (
        (reg_ts.dt.month == birth_ts.dt.month) & (reg_ts.dt.day < birth_ts.dt.day)
    )
    age_from_birth = (years - before_birthday.astype("Int64")).astype("Int64")
    mismatch = age.notna() & age_from_birth.notna() & ((age - age_from_birth).abs() > 1)
    c.add(
        mismatch.to_numpy(dtype=bool, na_value=False),
        "age",
        "warning",
        "age_mismatch",
        lambda v: f"age {v} disagrees with the birth and registration dates; the age is kept",
        age_raw,
    )
    out["age"] = age.fillna(age_from_birth.where(age_from_birth >= 0)).astype("Int64")
    by_col = pd.to_numeric(_col(raw, "birth_year"), errors="coerce").astype("Float64")
    out["birth_year"] = birth_ts.dt.year.astype("Int64").fillna(by_col.round().astype("Int64"))

    # sex --------------------------------------------------------------------------------------
    sex_raw = _col(raw, "sex")
    if sex_convention not in (None, "es", "en"):
        raise InputError(f"sex_convention must be 'es' (M = mujer) or 'en' (M = male), not {sex_convention!r}")
    convention, ambiguous = (
        (sex_convention, False) if sex_convention else detect_sex_convention(sex_raw)
    )
    if ambiguous:
        c.whole(
            "sex",
            "warning",
            "ambiguous_sex_code",
            f"the sex column uses M without H or F; M is read as "
            f"{'mujer (female)' if convention == 'es' else 'male'}; set sex_convention in "
            "the mapping file if that is wrong",
        )
    sex = _map_unique(sex_raw, lambda v: parse_sex(v, convention))
    bad_sex = sex.isna().to_numpy()
    c.unrecognised(
        bad_sex,
        "sex",
        "error",
        "invalid_sex",
        lambda v: (
            f"sex {v} is not recognised; use H/M (hombre/mujer), F/M in English forms, "
            "or leave it empty for unknown (--unrecognised unknown reads it as unknown)"
        ),
        sex_raw,
        "sex",
    )
    out["sex"] = pd.Categorical(sex.fillna("unknown"), categories=["female", "male", "unknown"])
    gi = _col(raw, "gender_identity")
    out["gender_identity"] = _map_unique(
        gi, lambda v: None if v is None else str(v).strip() or None
    ).astype("string")

    # CURP -------------------------------------------------------------------------------------
    curp_raw = _col(raw, "curp")
    curp = _map_unique(curp_raw, normalize_curp)
    bad_format = _present(curp_raw) & curp.isna().to_numpy()
    c.add(
        bad_format,
        "curp",
        "warning",
        "invalid_curp_format",
        lambda v: f"CURP {v} is not 18 characters shaped like a CURP; it is read as missing",
        curp_raw,
    )
    valid = _curp_valid(curp)
    c.add(
        (curp.notna() & ~valid).to_numpy(),
        "curp",
        "warning",
        "invalid_curp",
        lambda v: (
            f"CURP {v} has an impossible date or state or a wrong check digit; check it "
            "against the person's documents"
        ),
        curp_raw,
    )
    out["curp"] = curp.astype("string")
    out["curp_valid"] = pd.Series(valid.where(curp.notna()), dtype="boolean")

    # nationality, ethnicity -------------------------------------------------------------------
    nat_raw = _col(raw, "nationality")
    nat = _map_unique(nat_raw, normalize_nationality)
    c.unrecognised(
        _present(nat_raw) & nat.isna().to_numpy(),
        "nationality",
        "warning",
        "invalid_nationality",
        lambda v: (
            f"nationality {v} is not recognised and is read as unknown; use an ISO 3166 "
            "alpha-3 code (MEX, GTM...)"
        ),
        nat_raw,
        "nationality",
    )
    out["nationality"] = nat.astype("string")
    for name in ("indigenous", "afro_mexican"):
        vals = _col(raw, name)
        ok = _map_unique(vals, yes_no_recognised).astype(bool).to_numpy()
        c.unrecognised(
            ~ok,
            name,
            "warning",
            "invalid_yes_no",
            lambda v: f"{v} is not sí/no; it is read as unknown",
            vals,
            "sí/no value",
        )
        out[name] = pd.Series(_map_unique(vals, parse_yes_no), dtype="boolean")

    # place ------------------------------------------------------------------------------------
    st_raw = _col(raw, "state")
    st = _map_unique(st_raw, normalize_state)
    c.unrecognised(
        _present(st_raw) & st.isna().to_numpy(),
        "state",
        "error",
        "invalid_state",
        lambda v: (
            f"state {v} is not a Mexican federal entity; use its name, abbreviation or "
            "INEGI code (01-32) (--unrecognised unknown reads it as unknown)"
        ),
        st_raw,
        "state",
    )
    out["state"] = st.astype("string")
    mun_raw = _col(raw, "municipality")
    out["municipality"] = _municipality(mun_raw, out["state"])

    # exploitation -----------------------------------------------------------------------------
    ex_raw = _col(raw, "exploitation")
    parsed_ex = _map_unique(ex_raw, parse_exploitation)
    bad_ex = parsed_ex.map(lambda p: bool(p[1])).to_numpy(dtype=bool)
    c.unrecognised(
        bad_ex,
        "exploitation",
        "error",
        "invalid_exploitation",
        lambda v: (
            f"form of exploitation {v} is not recognised; use the fractions of art. 10 "
            "(I-XI), their names, or 'no especificado' (--unrecognised unknown reads it as "
            "unknown)"
        ),
        ex_raw,
        "form of exploitation",
        "; a cell that also names recognised forms keeps those",
    )
    # a cell with unrecognised forms keeps those it recognised, else "unknown" (and an error,
    # or with on_unrecognised="unknown" one warning for the column)
    out["exploitation"] = parsed_ex.map(lambda p: p[0] or "unknown").astype("string")

    # derived ----------------------------------------------------------------------------------
    age_i = out["age"]
    group = np.where(age_i.isna(), "unknown", np.where(age_i.fillna(0) < 18, "0-17", "18+"))
    out["age_group"] = pd.Categorical(group, categories=["0-17", "18+", "unknown"])
    out["ctdc_age_band"] = _ctdc_bands(age_i)
    out["given_names_canonical"] = _map_unique(out["given_names"], canonical_given_name).astype(
        "string"
    )
    out["source_file"] = pd.Series([file] * n, dtype="string")
    out["source_row"] = pd.array(np.arange(1, n + 1), dtype="Int64")

    # identity checks --------------------------------------------------------------------------
    c.add(
        no_name & out["curp"].isna().to_numpy(),
        "given_names",
        "warning",
        "no_identifiers",
        lambda v: "the record has no name and no CURP; it cannot be linked to other lists",
        None,
    )
    _check_curp_against_person(out, c)

    return out[list(RECORD_COLUMNS)], c.problems


def _curp_valid(curp: pd.Series) -> pd.Series:
    """Validity (date, state, check digit) of normalized CURPs, as stdnum.mx.curp decides it."""
    return curps_valid(curp)


def _municipality(values: pd.Series, state: pd.Series) -> pd.Series:
    def one(v: object) -> str | None:
        if v is None:
            return None
        text = str(v).strip()
        if text.endswith(".0") and text[:-2].isdigit():
            text = text[:-2]
        if text.isdigit():
            return text.zfill(3) if len(text) <= 3 else text.zfill(5)
        return normalize_name(text)

    mun = _map_unique(values, one)
    short = mun.map(lambda m: isinstance(m, str) and len(m) == 3 and m.isdigit()).astype(bool)
    with_state = state.astype(object).where(state.notna(), None)
    mun = mun.where(~(short & with_state.notna()), with_state.astype(str) + mun.astype(str))
    return mun.astype("string")


def _ctdc_bands(age: pd.Series) -> pd.Series:
    bins = [-1, 8, 17, 20, 23, 26, 29, 38, 47, 1000]
    labels = ["0--8", "9--17", "18--20", "21--23", "24--26", "27--29", "30--38", "39--47", "48+"]
    cut = pd.cut(age.astype("Float64").astype(float), bins=bins, labels=labels)
    return cut.astype(object).where(cut.notna(), None).astype("string")


def _check_curp_against_person(out: pd.DataFrame, c: _Collector) -> None:
    """Warnings where a CURP disagrees with the names, birth date or sex on its row (RENAPO rules;
    the state letters are the birth state, not the state of identification, so not compared)."""
    has = out["curp"].notna().to_numpy()
    if not has.any():
        return
    sub = out.loc[has]
    curp = sub["curp"].astype(object)
    rows = np.flatnonzero(has)
    names_known = (sub["given_names"].notna() & sub["first_surname"].notna()).to_numpy()
    derived = curp_name_letters(
        sub["given_names"].astype(object),
        sub["first_surname"].astype(object),
        sub["second_surname"].astype(object),
    )
    name_bad = names_known & (curp.str[:4] + curp.str[13:16] != derived).to_numpy(dtype=bool)
    bd = pd.to_datetime(sub["birth_date"])
    codes, uniques = pd.factorize(bd, use_na_sentinel=True)
    ymd_u = np.array([*pd.DatetimeIndex(uniques).strftime("%y%m%d"), None], dtype=object)
    ymd = ymd_u[codes]
    bd_known = codes >= 0
    bd_bad = bd_known & (curp.str[4:10].to_numpy(dtype=object) != ymd)
    sex_letter = sub["sex"].astype(object).map({"female": "M", "male": "H"})
    sex_known = sex_letter.notna().to_numpy()
    sex_bad = sex_known & (curp.str[10] != sex_letter).to_numpy(dtype=bool)
    for mask, code, what in (
        (name_bad, "curp_name_mismatch", "the name letters"),
        (bd_bad, "curp_birth_date_mismatch", "the birth date"),
        (sex_bad, "curp_sex_mismatch", "the sex"),
    ):
        full = np.zeros(len(out), dtype=bool)
        full[rows[mask]] = True
        c.add(
            full,
            "curp",
            "warning",
            code,
            _mismatch_message(what),
            out["curp"],
        )


def _mismatch_message(what: str) -> Callable[[Any], str]:
    def message(v: Any) -> str:
        return (
            f"CURP {v} does not match {what} of the person on this row; "
            "check the CURP and the person's data"
        )

    return message


def normalize_records(df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
    """Normalized Records frame of raw records in canonical columns (see :func:`check_records`,
    whose problems this drops). Normalizing a Records frame again gives the same frame."""
    out, _ = check_records(df, **kwargs)
    return out
