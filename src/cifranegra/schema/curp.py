"""CURP (Clave Única de Registro de Población): format, check digit and derivation from a person.

Rules from RENAPO's *Instructivo Normativo para la Asignación de la Clave Única de Registro de
Población* (Secretaría de Gobernación; DOF 18-10-2021 and earlier editions):

1. first letter and first inner vowel of the first surname; 2. first letter of the second surname
(``X`` if there is none); 3. first letter of the given name — the second given name when the first
is MARÍA or JOSÉ (also MA., MA, J., J) and there is another; 4. birth date ``YYMMDD``; 5. sex
``H``/``M``; 6. CURP state code of birth (``NE`` born abroad); 7. first inner consonant of the first
surname, second surname and given name; 8. a differentiator (digit for births before 2000, letter
from 2000, assigned by RENAPO); 9. a check digit.

Particles (DE, DEL, LA, LOS, Y, MC, VAN…) are skipped; Ñ becomes ``X``; a missing letter or a
character that is not a letter becomes ``X``; when the first four letters form an inconvenient word
(Anexo 2 of the instructivo) the second letter becomes ``X``. Format and check digit are checked
with python-stdnum (``stdnum.mx.curp``).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import numpy as np
import pandas as pd
from stdnum.mx import curp as _stdnum_curp

from cifranegra.errors import InputError
from cifranegra.schema.codes import states
from cifranegra.schema.text import PARTICLES, normalize_name

__all__ = [
    "CURP_PATTERN",
    "INCONVENIENT_WORDS",
    "curp_birth_date",
    "curp_check_digit",
    "curp_is_valid",
    "curp_name_letters",
    "curp_prefix",
    "curp_prefixes",
    "curp_sex",
    "curp_state",
    "curps_valid",
    "normalize_curp",
]

#: shape of a CURP: 4 letters, 6 digits, sex, 2-letter state, 3 consonants, differentiator, digit
CURP_PATTERN = re.compile(r"^[A-Z]{4}\d{6}[HMX][A-Z]{2}[A-Z]{3}[0-9A-Z]\d$")
_CURP_SEARCH = re.compile(r"[^A-Z0-9Ñ]")

#: Anexo 2 of the instructivo: four-letter words replaced by changing the second letter to X.
INCONVENIENT_WORDS: frozenset[str] = frozenset(
    [
        "BACA",
        "BAKA",
        "BUEI",
        "BUEY",
        "CACA",
        "CACO",
        "CAGA",
        "CAGO",
        "CAKA",
        "CAKO",
        "COGE",
        "COGI",
        "COJA",
        "COJE",
        "COJI",
        "COJO",
        "COLA",
        "CULO",
        "FALO",
        "FETO",
        "GETA",
        "GUEI",
        "GUEY",
        "JETA",
        "JOTO",
        "KACA",
        "KACO",
        "KAGA",
        "KAGO",
        "KAKA",
        "KAKO",
        "KOGE",
        "KOGI",
        "KOJA",
        "KOJE",
        "KOJI",
        "KOJO",
        "KOLA",
        "KULO",
        "LILO",
        "LOCA",
        "LOCO",
        "LOKA",
        "LOKO",
        "MAME",
        "MAMO",
        "MEAR",
        "MEAS",
        "MEON",
        "MIAR",
        "MION",
        "MOCO",
        "MOKO",
        "MULA",
        "MULO",
        "NACA",
        "NACO",
        "PEDA",
        "PEDO",
        "PENE",
        "PIPI",
        "PITO",
        "POPO",
        "PUTA",
        "PUTO",
        "QULO",
        "RATA",
        "ROBA",
        "ROBE",
        "ROBO",
        "RUIN",
        "SENO",
        "TETA",
        "VACA",
        "VAGA",
        "VAGO",
        "VAKA",
        "VUEI",
        "VUEY",
        "WUEI",
        "WUEY",
    ]
)
_SKIPPED_FIRST_GIVEN = frozenset({"MARIA", "MA", "JOSE", "J"})
_VOWELS = frozenset("AEIOU")
_ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_CHECK_VALUES = {c: i for i, c in enumerate(_ALPHABET)}


def normalize_curp(s: object) -> str | None:
    """Upper case, spaces, dashes and dots removed; ``None`` when missing or not shaped like a CURP
    (18 characters as :data:`CURP_PATTERN`). The check digit is not checked (see
    :func:`curp_is_valid`)."""
    if s is None or not isinstance(s, str):
        return None
    c = _CURP_SEARCH.sub("", s.upper())
    return c if CURP_PATTERN.match(c) else None


def curp_check_digit(first17: str) -> str:
    """RENAPO check digit of the first 17 characters: Σ value(c)·(18−i) over the alphabet
    0–9, A–N, Ñ, O–Z, then (10 − Σ mod 10) mod 10."""
    head = first17[:17].upper() if isinstance(first17, str) else ""
    if len(head) < 17 or any(c not in _CHECK_VALUES for c in head):  # "HEGG" gave '0'; 'h' a KeyError
        raise InputError("a CURP's check digit needs its first 17 characters, letters (Ñ included) and digits")
    total = sum(_CHECK_VALUES[c] * (18 - i) for i, c in enumerate(head))
    return str((10 - total % 10) % 10)


def curp_is_valid(s: object) -> bool:
    """Whether ``s`` is a well-formed CURP with a real birth date, a known state and a correct check
    digit (``stdnum.mx.curp``)."""
    c = normalize_curp(s)
    return c is not None and bool(_stdnum_curp.is_valid(c))


def curp_birth_date(curp: str) -> dt.date | None:
    """Birth date coded in a CURP (century from the differentiator: digit 1900s, letter 2000s)."""
    c = normalize_curp(curp)
    if c is None:
        return None
    year = int(c[4:6]) + (1900 if c[16].isdigit() else 2000)
    try:
        return dt.date(year, int(c[6:8]), int(c[8:10]))
    except ValueError:
        return None


def curp_sex(curp: str) -> str | None:
    """``female``/``male`` (``unknown`` for ``X``) coded in a CURP."""
    c = normalize_curp(curp)
    if c is None:
        return None
    return {"H": "male", "M": "female"}.get(c[10], "unknown")


def curp_state(curp: str) -> str | None:
    """INEGI code of the birth state in a CURP; ``None`` for ``NE`` (born abroad) or unknown."""
    c = normalize_curp(curp)
    if c is None:
        return None
    code = c[11:13]
    for st in states():
        if st.curp_code == code:
            return st.code
    return None


_ASCII_VALUES = np.zeros(256, dtype=np.int64)
for _i, _c in enumerate(_ALPHABET):
    if _c != "Ñ":
        _ASCII_VALUES[ord(_c)] = _i
_STATE_CODES = frozenset(
    [
        "AS",
        "BC",
        "BS",
        "CC",
        "CH",
        "CL",
        "CM",
        "CS",
        "DF",
        "DG",
        "GR",
        "GT",
        "HG",
        "JC",
        "MC",
        "MN",
        "MS",
        "NE",
        "NL",
        "NT",
        "OC",
        "PL",
        "QR",
        "QT",
        "SL",
        "SP",
        "SR",
        "TC",
        "TL",
        "TS",
        "VZ",
        "YN",
        "ZS",
    ]
)


def curps_valid(curps: pd.Series) -> pd.Series:
    """Vectorised :func:`curp_is_valid` over normalized CURPs (nulls give False): shape, a real
    birth date, sex H/M, a known state code, no inconvenient word and the check digit."""
    values = curps.astype(object).where(curps.notna(), None)
    ok = values.map(lambda v: isinstance(v, str) and CURP_PATTERN.match(v) is not None)
    ok_arr = ok.to_numpy(dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    if not ok_arr.any():
        return pd.Series(out, index=curps.index)
    sub = values[ok_arr].to_numpy(dtype=object).astype(str)
    buf = np.frombuffer("".join(sub).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    digits = buf.astype(np.int64) - ord("0")
    total = (_ASCII_VALUES[buf[:, :17]] * np.arange(18, 1, -1)).sum(axis=1)
    check_ok = (10 - total % 10) % 10 == digits[:, 17]
    century = np.where((buf[:, 16] >= ord("0")) & (buf[:, 16] <= ord("9")), 1900, 2000)
    year = century + digits[:, 4] * 10 + digits[:, 5]
    month = digits[:, 6] * 10 + digits[:, 7]
    day = digits[:, 8] * 10 + digits[:, 9]
    month_ok = (month >= 1) & (month <= 12)
    start = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    first = start.astype("datetime64[M]").astype("datetime64[D]")
    days_in_month = ((start + 1).astype("datetime64[M]").astype("datetime64[D]") - first).astype(
        int
    )
    date_ok = month_ok & (day >= 1) & (day <= days_in_month)
    sex_ok = (buf[:, 10] == ord("H")) | (buf[:, 10] == ord("M"))
    text = pd.Series(sub)
    state_ok = text.str[11:13].isin(_STATE_CODES).to_numpy()
    word_ok = ~text.str[:4].isin(INCONVENIENT_WORDS).to_numpy()
    out[ok_arr] = check_ok & date_ok & sex_ok & state_ok & word_ok
    return pd.Series(out, index=curps.index)


# ---------------------------------------------------------------------------------- derivation
def _words(name: str | None) -> list[str]:
    norm = normalize_name(name)
    if norm is None:
        return []
    words = [w for w in norm.split(" ") if w not in PARTICLES]
    return words or norm.split(" ")


def _letter(ch: str | None) -> str:
    if ch is None or ch == "Ñ" or not ("A" <= ch <= "Z"):
        return "X"
    return ch


def _inner(word: str, vowels: bool) -> str:
    for ch in word[1:]:
        if vowels and ch in _VOWELS:
            return ch
        if not vowels and ch not in _VOWELS and ch != " ":
            return _letter(ch)
    return "X"


@lru_cache(maxsize=200_000)
def surname_parts(surname: str | None) -> tuple[str, str, str]:
    """(first letter, first inner vowel, first inner consonant) of a surname, per the instructivo;
    ``("X", "X", "X")`` for a missing surname (the vowel is only used for the first surname)."""
    words = _words(surname)
    if not words:
        return "X", "X", "X"
    word = words[0]
    return _letter(word[0]), _inner(word, True), _inner(word, False)


@lru_cache(maxsize=200_000)
def given_name_parts(given_names: str | None) -> tuple[str, str]:
    """(first letter, first inner consonant) of the given name the CURP uses (MARÍA/JOSÉ rule)."""
    words = _words(given_names)
    if not words:
        return "X", "X"
    word = words[1] if len(words) > 1 and words[0] in _SKIPPED_FIRST_GIVEN else words[0]
    return _letter(word[0]), _inner(word, False)


@lru_cache(maxsize=4096)
def _name_letters(given: str | None, first: str | None, second: str | None) -> tuple[str, str]:
    f1, fv, fc = surname_parts(first)
    s1, _, sc = surname_parts(second)
    g1, gc = given_name_parts(given)
    four = f1 + fv + s1 + g1
    if four in INCONVENIENT_WORDS:
        four = four[0] + "X" + four[2:]
    return four, fc + sc + gc


_SEX_LETTER = {"female": "M", "male": "H", "F": "M", "M": "M", "H": "H", "unknown": "X", "X": "X"}


def _state_code(state: str | None) -> str:
    if state is None or state == "NE":
        return "NE"
    for st in states():
        if st.code == state or st.curp_code == state:
            return st.curp_code
    raise InputError(f"unknown state {state!r}; give an INEGI code '01'..'32' or None for abroad")


def curp_prefix(
    given_names: str | None,
    first_surname: str | None,
    second_surname: str | None,
    birth_date: dt.date,
    sex: str,
    state_inegi_code: str | None,
) -> str:
    """The first 16 characters of the CURP RENAPO would assign to this person (the differentiator
    and the check digit are RENAPO's). ``sex`` is ``female``/``male`` (or ``M``/``H``, ``X``);
    ``state_inegi_code`` is the birth state (``None`` or ``"NE"`` for born abroad).

    >>> import datetime
    >>> curp_prefix("Gloria", "Hernández", "García", datetime.date(1956, 4, 27), "female", "30")
    'HEGG560427MVZRRL'
    """
    if sex not in _SEX_LETTER:
        raise InputError(f"sex must be 'female', 'male' or 'unknown', not {sex!r}")
    four, consonants = _name_letters(
        normalize_name(given_names), normalize_name(first_surname), normalize_name(second_surname)
    )
    return (
        four
        + birth_date.strftime("%y%m%d")
        + _SEX_LETTER[sex]
        + _state_code(state_inegi_code)
        + consonants
    )


def _parts_array(values: pd.Series, func: object, width: int) -> np.ndarray:
    """Apply ``func`` once per distinct value; an (n, width) object array of letters."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.empty((len(uniques) + 1, width), dtype=object)
    table[-1, :] = "X"
    for i, u in enumerate(uniques):
        table[i, :] = func(u) if isinstance(u, str) else ("X",) * width  # type: ignore[operator]
    return table[codes]  # code -1 picks the last row, all X


def curp_name_letters(
    given_names: pd.Series, first_surname: pd.Series, second_surname: pd.Series
) -> pd.Series:
    """The 7 name letters of the CURP (positions 1–4 and 14–16) for aligned name columns, computed
    once per distinct name; missing names give X."""
    idx = given_names.index
    g_arr = _parts_array(given_names, lambda v: given_name_parts(normalize_name(v)), 2)
    f_arr = _parts_array(first_surname, lambda v: surname_parts(normalize_name(v)), 3)
    s_arr = _parts_array(second_surname, lambda v: surname_parts(normalize_name(v)), 3)
    four = pd.Series(f_arr[:, 0] + f_arr[:, 1] + s_arr[:, 0] + g_arr[:, 0], index=idx, dtype=object)
    bad = four.isin(INCONVENIENT_WORDS)
    if bad.any():
        four[bad] = four[bad].str[0] + "X" + four[bad].str[2:]
    consonants = pd.Series(f_arr[:, 2] + s_arr[:, 2] + g_arr[:, 1], index=idx, dtype=object)
    return (four + consonants).astype(object)


def curp_prefixes(
    given_names: pd.Series,
    first_surname: pd.Series,
    second_surname: pd.Series,
    birth_date: pd.Series,
    sex: pd.Series,
    state_inegi_code: pd.Series,
) -> pd.Series:
    """Vectorised :func:`curp_prefix` over aligned columns; ``None`` where the birth date is
    missing. Name letters are computed once per distinct name."""
    idx = given_names.index
    letters = curp_name_letters(given_names, first_surname, second_surname).to_numpy(dtype=object)
    bd = pd.to_datetime(pd.Series(birth_date, index=idx), errors="coerce")
    codes, uniques = pd.factorize(bd, use_na_sentinel=True)
    ymd_u = np.array([*pd.DatetimeIndex(uniques).strftime("%y%m%d"), None], dtype=object)
    ymd = ymd_u[codes]
    sex_mapped = sex.astype(object).map(_SEX_LETTER).astype(object)
    sex_letter = sex_mapped.where(sex_mapped.notna(), "X").to_numpy(dtype=object)
    state_map = {st.code: st.curp_code for st in states()}
    state_mapped = state_inegi_code.astype(object).map(state_map).astype(object)
    state_letters = state_mapped.where(state_mapped.notna(), "NE").to_numpy(dtype=object)
    out = np.full(len(idx), None, dtype=object)
    ok = codes >= 0
    if ok.any():
        lt = letters[ok]
        out[ok] = [
            f"{a[:4]}{b}{c}{d}{a[4:]}"
            for a, b, c, d in zip(lt, ymd[ok], sex_letter[ok], state_letters[ok], strict=True)
        ]
    return pd.Series(out, index=idx, dtype=object)
