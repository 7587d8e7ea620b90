"""How an agency writes a person down: recording errors, then its own spellings and formats."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pandas as pd

from cifranegra.datasets.synthetic.profiles import AgencyProfile
from cifranegra.schema import NICKNAMES, PARTICLES, states

__all__ = ["ACCENTED", "ERROR_KINDS", "make_records"]

ERROR_KINDS: tuple[str, ...] = (
    "typo",
    "lost_accents",
    "missing_second_surname",
    "swapped_surnames",
    "nickname",
    "day_month_swap",
    "date_digit_transposition",
    "wrong_state",
    "missing_curp",
    "curp_typo",
    "missing_birth_date",
    "unknown_exploitation",
    "unknown_sex",
)

#: accented spellings of common names and surnames (as usually written; the sources write none)
ACCENTED: dict[str, str] = {
    w.translate(str.maketrans("ÁÉÍÓÚ", "AEIOU")): w
    for w in [
        "JOSÉ",
        "MARÍA",
        "JESÚS",
        "RAMÓN",
        "MARTÍN",
        "JOAQUÍN",
        "ANDRÉS",
        "RAÚL",
        "ÁNGEL",
        "HÉCTOR",
        "ÓSCAR",
        "VÍCTOR",
        "CÉSAR",
        "RUBÉN",
        "NOÉ",
        "SIMÓN",
        "GERMÁN",
        "ADRIÁN",
        "JULIÁN",
        "FERMÍN",
        "AGUSTÍN",
        "SEBASTIÁN",
        "MATÍAS",
        "NICOLÁS",
        "TOMÁS",
        "LUCÍA",
        "SOFÍA",
        "ROCÍO",
        "MÓNICA",
        "VERÓNICA",
        "ANGÉLICA",
        "JAZMÍN",
        "BELÉN",
        "INÉS",
        "ASUNCIÓN",
        "CONCEPCIÓN",
        "ENCARNACIÓN",
        "ÁLVARO",
        "EFRAÍN",
        "ISAÍAS",
        "ELÍAS",
        "DAMIÁN",
        "FABIÁN",
        "CRISTÓBAL",
        "BENJAMÍN",
        "ROMÁN",
        "HERNÁN",
        "MOISÉS",
        "IVÁN",
        "DARÍO",
        "NAHÚM",
        "SAÚL",
        "EFRÉN",
        "ANAHÍ",
        "NOEMÍ",
        "ZOÉ",
        "DÉBORA",
        "BÁRBARA",
        "ÁNGELA",
        "HERNÁNDEZ",
        "GARCÍA",
        "MARTÍNEZ",
        "LÓPEZ",
        "GONZÁLEZ",
        "PÉREZ",
        "RODRÍGUEZ",
        "SÁNCHEZ",
        "RAMÍREZ",
        "GÓMEZ",
        "DÍAZ",
        "VÁZQUEZ",
        "JIMÉNEZ",
        "GUTIÉRREZ",
        "MÉNDEZ",
        "ÁLVAREZ",
        "CHÁVEZ",
        "FERNÁNDEZ",
        "DOMÍNGUEZ",
        "JUÁREZ",
        "VELÁZQUEZ",
        "VÁSQUEZ",
        "SUÁREZ",
        "NÚÑEZ",
        "RÍOS",
        "LEÓN",
        "GÁLVEZ",
        "MÁRQUEZ",
        "BENÍTEZ",
        "NÁJERA",
        "GUZMÁN",
        "ÁVILA",
        "MONTAÑO",
        "CORTÉS",
        "ESPÍNDOLA",
        "TÉLLEZ",
        "PÁEZ",
        "SÁENZ",
        "ZÚÑIGA",
        "GALVÁN",
        "BELTRÁN",
        "ALARCÓN",
        "CALDERÓN",
        "DURÁN",
        "LIMÓN",
        "QUIÑÓNEZ",
        "ROLDÁN",
        "SALOMÓN",
        "VALDÉS",
        "VELÁSQUEZ",
        "YÁÑEZ",
        "ÁNGELES",
        "MEJÍA",
        "MACÍAS",
        "ARÉVALO",
        "SOLÍS",
    ]
}

_LABEL_ES = {
    "slavery": "Esclavitud",
    "servitude": "Condición de siervo",
    "sexual_exploitation": "Explotación sexual",
    "labour_exploitation": "Explotación laboral",
    "forced_labour": "Trabajos forzados",
    "forced_begging": "Mendicidad forzosa",
    "forced_criminality_minors": "Utilización de menores en actividades delictivas",
    "illegal_adoption": "Adopción ilegal",
    "forced_marriage": "Matrimonio forzoso",
    "organ_trafficking": "Tráfico de órganos",
    "biomedical_experimentation": "Experimentación biomédica ilícita",
    "other": "Otra",
    "unknown": "No especificado",
}
_LABEL_EN = {
    "slavery": "Slavery",
    "servitude": "Servitude",
    "sexual_exploitation": "Sexual exploitation",
    "labour_exploitation": "Labour exploitation",
    "forced_labour": "Forced labour",
    "forced_begging": "Forced begging",
    "forced_criminality_minors": "Forced criminality",
    "illegal_adoption": "Illegal adoption",
    "forced_marriage": "Forced marriage",
    "organ_trafficking": "Organ removal",
    "biomedical_experimentation": "Biomedical experimentation",
    "other": "Other",
    "unknown": "Unknown",
}
_FRACTION = {
    "slavery": "I",
    "servitude": "II",
    "sexual_exploitation": "III",
    "labour_exploitation": "IV",
    "forced_labour": "V",
    "forced_begging": "VI",
    "forced_criminality_minors": "VII",
    "illegal_adoption": "VIII",
    "forced_marriage": "IX",
    "organ_trafficking": "X",
    "biomedical_experimentation": "XI",
}
_NATIONALITY_ES = {
    "MEX": "Mexicana",
    "GTM": "Guatemalteca",
    "HND": "Hondureña",
    "SLV": "Salvadoreña",
    "VEN": "Venezolana",
    "COL": "Colombiana",
    "CUB": "Cubana",
}
_MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@cache
def _nicknames_of() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for nick, names in NICKNAMES.items():
        if nick in ("MA", "J", "MARI") or len(names) != 1:
            continue
        out.setdefault(names[0], []).append(nick)
    return {k: tuple(v) for k, v in out.items() if " " not in k}


def _display(name: str | None, accents: bool, upper: bool) -> str | None:
    if name is None:
        return None
    words = name.split(" ")
    if accents:
        words = [ACCENTED.get(w, w) for w in words]
    if upper:
        return " ".join(words)
    out = [w.lower() if (w in PARTICLES and i > 0) else w.capitalize() for i, w in enumerate(words)]
    return " ".join(out)


def _join_flags(flags: dict[str, np.ndarray], n: int) -> np.ndarray:
    """``"a|b"`` per row from boolean masks, in :data:`ERROR_KINDS` order."""
    out = np.full(n, "", dtype=object)
    for kind in ERROR_KINDS:
        mask = flags.get(kind)
        if mask is not None and mask.any():
            out[mask] = out[mask] + ("|" + kind)
    return np.array([s[1:] for s in out], dtype=object) if n else out


def _objects(values: pd.Series) -> np.ndarray:
    """A fresh object array with ``None`` for missing values."""
    arr = values.to_numpy(dtype=object).copy()
    arr[pd.isna(arr)] = None
    return arr


def _typo(rng: np.random.Generator, s: str) -> str:
    if len(s) < 3:
        return s + str(_LETTERS[rng.integers(26)])
    i = int(rng.integers(1, len(s) - 1))
    kind = int(rng.integers(4))
    if kind == 0:  # substitution
        return s[:i] + str(_LETTERS[rng.integers(26)]) + s[i + 1 :]
    if kind == 1:  # deletion
        return s[:i] + s[i + 1 :]
    if kind == 2:  # insertion
        return s[:i] + str(_LETTERS[rng.integers(26)]) + s[i:]
    return s[: i - 1] + s[i] + s[i - 1] + s[i + 1 :]  # transposition


def make_records(
    people: pd.DataFrame,
    rows: np.ndarray,
    profile: AgencyProfile,
    period: tuple[dt.date, dt.date],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The agency's raw file (its headers and formats) for the persons at positions ``rows`` (a
    person may appear twice: duplicate episodes), and the truth of each record (record id, person
    id, the errors made, whether the record was a duplicate)."""
    rows = np.asarray(rows)
    dup = rows[rng.random(len(rows)) < profile.duplicate_rate]
    is_dup = np.r_[np.zeros(len(rows), bool), np.ones(len(dup), bool)]
    rows = np.r_[rows, dup]
    order = rng.permutation(len(rows))
    rows, is_dup = rows[order], is_dup[order]
    n = len(rows)
    p = people.iloc[rows].reset_index(drop=True)
    er = profile.errors
    log: dict[str, np.ndarray] = {}

    def hit(kind: str, eligible: np.ndarray | None = None) -> np.ndarray:
        rate = getattr(er, kind)
        mask = rng.random(n) < rate
        if eligible is not None:
            mask &= eligible
        log[kind] = mask
        return mask

    # registration date near the person's reference date, inside the period
    lo, hi = np.datetime64(period[0], "s"), np.datetime64(period[1], "s")
    jitter = np.round(rng.normal(0, 20, n)).astype("timedelta64[D]")
    bd_true = pd.DatetimeIndex(p["birth_date"])
    reg = np.clip(p["reference_date"].to_numpy(dtype="datetime64[s]") + jitter, lo, hi)
    reg = np.maximum(reg, bd_true.to_numpy(dtype="datetime64[s]"))  # never before birth
    reg_ts = pd.DatetimeIndex(reg)
    age = (reg_ts.year - bd_true.year) - (
        (reg_ts.month < bd_true.month)
        | ((reg_ts.month == bd_true.month) & (reg_ts.day < bd_true.day))
    ).astype(int)

    given, first, second = (
        _objects(p[c]) for c in ("given_names", "first_surname", "second_surname")
    )
    has_second = pd.notna(second)

    nick_of = _nicknames_of()
    g_codes, g_uniques = pd.factorize(pd.Series(given, dtype=object), use_na_sentinel=True)
    nick_u = np.array(
        [next((w for w in g.split(" ") if w in nick_of), None) for g in g_uniques] + [None],
        dtype=object,
    )
    nick_choice = nick_u[g_codes]
    for i in np.flatnonzero(hit("nickname", pd.notna(nick_choice))):
        options = nick_of[nick_choice[i]]
        given[i] = options[int(rng.integers(len(options)))]
    swap = hit("swapped_surnames", has_second)
    first[swap], second[swap] = second[swap], first[swap].copy()
    second[hit("missing_second_surname", pd.notna(second))] = None
    typo = hit("typo")
    for i in np.flatnonzero(typo):
        fields = [a for a in (given, first, second) if a[i]]
        arr = fields[int(rng.integers(len(fields)))]
        arr[i] = _typo(rng, arr[i])
    lost = hit("lost_accents", np.full(n, profile.accents))

    # birth date errors
    year, month, day = bd_true.year.to_numpy(), bd_true.month.to_numpy(), bd_true.day.to_numpy()
    y, m, d = year.copy(), month.copy(), day.copy()
    dm = hit("day_month_swap", (day <= 12) & (day != month))
    m[dm], d[dm] = day[dm], month[dm]
    yy = year % 100
    swapped_year = year - yy + (yy % 10) * 10 + yy // 10
    ok_t = (
        (yy % 10 != yy // 10)
        & (swapped_year <= reg_ts.year.to_numpy() - 1)
        & (swapped_year >= 1930)
    )
    # Feb 29 may not exist in the transposed year
    leap_ok = ~((m == 2) & (d == 29))
    tr = hit("date_digit_transposition", ok_t & leap_ok & ~dm)
    y[tr] = swapped_year[tr]
    bd_rec = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d}), errors="coerce")
    missing_bd = hit("missing_birth_date")
    bd_rec = bd_rec.where(~missing_bd)

    state = p["state"].to_numpy(dtype=object).copy()
    codes = np.array([s.code for s in states()], dtype=object)
    ws = hit("wrong_state")
    shift = rng.integers(1, 32, size=n)
    idx = np.searchsorted(codes, state)
    state[ws] = codes[(idx[ws] + shift[ws]) % 32]

    curp = _objects(p["curp"])
    has_curp = pd.notna(curp)
    ct = hit("curp_typo", has_curp)
    for i in np.flatnonzero(ct):
        c = curp[i]
        j = int(rng.integers(0, 16))
        repl = str(rng.integers(10)) if c[j].isdigit() else str(_LETTERS[rng.integers(26)])
        if repl == c[j]:
            repl = "X" if c[j] != "X" else "Y"
            if c[j].isdigit():
                repl = str((int(c[j]) + 1) % 10)
        curp[i] = c[:j] + repl + c[j + 1 :]
    curp[hit("missing_curp", has_curp)] = None
    ex = p["exploitation"].to_numpy(dtype=object).copy()
    ex[hit("unknown_exploitation")] = "unknown"
    sex = p["sex"].to_numpy(dtype=object).copy()
    sex[hit("unknown_sex")] = "unknown"

    # ------------------------------------------------------------------- formatting
    accents = np.full(n, profile.accents) & ~lost

    def disp(arr: np.ndarray) -> np.ndarray:
        codes, uniques = pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=True)
        plain = np.array(
            [_display(u, False, profile.upper_case) for u in uniques] + [None], dtype=object
        )
        if not profile.accents:
            return plain[codes]
        accented = np.array(
            [_display(u, True, profile.upper_case) for u in uniques] + [None], dtype=object
        )
        return np.where(accents, accented[codes], plain[codes])

    cols: dict[str, object] = {}
    prefix = profile.id.split("_")[0].upper()[:4]
    seq = rng.permutation(n) + 1
    cols["record_id"] = (
        f"{prefix}-{period[0].year}-" + pd.Series(seq).astype(str).str.zfill(6)
    ).to_numpy(dtype=object)
    cols["registration_date"] = _format_dates(reg_ts, profile.date_style, rng)
    g_d, f_d, s_d = disp(given), disp(first), disp(second)
    if profile.full_name:
        cols["full_name"] = np.array(
            [" ".join(x for x in (a, b, c) if x) for a, b, c in zip(g_d, f_d, s_d, strict=True)],
            dtype=object,
        )
    else:
        cols["given_names"], cols["first_surname"], cols["second_surname"] = g_d, f_d, s_d
    cols["birth_date"] = _format_dates(pd.DatetimeIndex(bd_rec), profile.date_style, rng)
    cols["age"] = age.astype(object)
    fem, mal, unk = profile.sex_codes
    cols["sex"] = np.where(sex == "female", fem, np.where(sex == "male", mal, unk)).astype(object)
    cols["curp"] = curp
    nat = p["nationality"].to_numpy(dtype=object)
    cols["nationality"] = (
        nat
        if profile.state_style == "iso" or profile.file_format == "parquet"
        else np.array([_NATIONALITY_ES.get(x, x) for x in nat], dtype=object)
    )
    cols["indigenous"] = np.where(p["indigenous"].to_numpy(), "Sí", "No").astype(object)
    cols["state"] = _format_states(state, profile.state_style)
    cols["exploitation"] = _format_exploitation(ex, profile.exploitation_style)
    raw = pd.DataFrame({h: cols[f] for f, h in profile.columns.items() if f in cols})
    truth = pd.DataFrame(
        {
            "source": profile.id,
            "record_id": cols["record_id"],
            "person_id": p["person_id"].to_numpy(),
            "duplicate": is_dup,
            "errors": _join_flags(log, n),
        }
    )
    return raw, truth


def _format_dates(dates: pd.DatetimeIndex, style: str, rng: np.random.Generator) -> np.ndarray:
    """Dates as the agency writes them (each distinct date formatted once)."""
    codes, uniques = pd.factorize(dates, use_na_sentinel=True)
    u = pd.DatetimeIndex(uniques)
    if style == "dmy":
        text = list(u.strftime("%d/%m/%Y"))
    elif style == "dmy_short":
        text = [f"{d.day}-{d.month}-{d.year % 100:02d}" for d in u]
    elif style == "iso":
        text = list(u.strftime("%Y-%m-%d"))
    elif style == "text_es":
        text = [f"{d.day} de {_MONTHS_ES[d.month - 1]} de {d.year}" for d in u]
    elif style == "excel":
        serial = (u.values.astype("datetime64[D]") - np.datetime64("1899-12-30", "D")).astype(
            "int64"
        )
        text = [int(x) for x in serial]
    else:
        raise ValueError(f"unknown date style {style!r}")
    table = np.empty(len(text) + 1, dtype=object)
    table[:-1] = text
    table[-1] = None
    return table[codes]


def _format_states(codes: np.ndarray, style: str) -> np.ndarray:
    by_code = {s.code: s for s in states()}
    pick = {
        "name": lambda s: s.short_name,
        "abbreviation": lambda s: s.abbreviation,
        "code": lambda s: s.code,
        "iso": lambda s: s.iso_3166_2,
        "curp": lambda s: s.curp_code,
    }[style]
    table = {c: pick(s) for c, s in by_code.items()}
    return np.array([table.get(c) for c in codes], dtype=object)


def _format_exploitation(codes: np.ndarray, style: str) -> np.ndarray:
    def one(value: str) -> str | None:
        parts = value.split("|")
        if style == "label_es":
            return "; ".join(_LABEL_ES[c] for c in parts)
        if style == "english":
            return "; ".join(_LABEL_EN[c] for c in parts)
        if style == "fraction":
            if parts == ["unknown"]:
                return None
            return ", ".join(
                f"Fr. {_FRACTION[c]}" if c in _FRACTION else _LABEL_ES[c] for c in parts
            )
        return value

    table = {v: one(v) for v in pd.unique(codes)}
    return np.array([table[v] for v in codes], dtype=object)
