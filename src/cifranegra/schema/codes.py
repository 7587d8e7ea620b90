"""Code lists of the record schema and the parsers that read agencies' values into them.

- states: the 32 federal entities by INEGI code (``"01"``..``"32"``), from a name, abbreviation,
  ISO 3166-2 code, INEGI code or CURP state code (RENAPO);
- sex: ``female`` / ``male`` / ``unknown`` (Spanish ``H``/``M``, English ``M``/``F``, INEGI
  ``1``/``2``);
- forms of exploitation: the 11 fractions of art. 10 of the Ley General para Prevenir, Sancionar y
  Erradicar los Delitos en Materia de Trata de Personas, plus ``other`` and ``unknown``, with the
  crosswalk to HTCDS v2, CTDC and UNODC GLOTIP (``data/exploitation_crosswalk.csv``), read from
  the phrasings agencies use (``data/exploitation_vocabulary.csv``, each with its source);
- nationality: ISO 3166-1 alpha-3;
- age groups: ``0-17`` / ``18+`` / ``unknown`` and CTDC's ``ageBroad`` bands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from cifranegra.errors import InputError
from cifranegra.schema._data import read_rows
from cifranegra.schema.text import fold_text

__all__ = [
    "AGE_GROUPS",
    "CTDC_AGE_BANDS",
    "EXPLOITATION_CODES",
    "SEX_CODES",
    "STRATUM_YEAR_RANGE",
    "State",
    "ctdc_age_band",
    "exploitation_crosswalk",
    "exploitation_vocabulary",
    "normalize_nationality",
    "normalize_state",
    "parse_exploitation",
    "parse_sex",
    "parse_yes_no",
    "state_from_curp_code",
    "states",
]

SEX_CODES: tuple[str, ...] = ("female", "male", "unknown")
#: the earliest and latest registration year a ``year`` stratum may hold in a file cifranegra wrote
STRATUM_YEAR_RANGE: tuple[int, int] = (1900, 2100)
AGE_GROUPS: tuple[str, ...] = ("0-17", "18+", "unknown")
#: CTDC ``ageBroad`` bands (global synthetic dataset v2024 codebook), lower bound inclusive.
CTDC_AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 8, "0--8"),
    (9, 17, "9--17"),
    (18, 20, "18--20"),
    (21, 23, "21--23"),
    (24, 26, "24--26"),
    (27, 29, "27--29"),
    (30, 38, "30--38"),
    (39, 47, "39--47"),
    (48, None, "48+"),
)


# --------------------------------------------------------------------------------------- states
@dataclass(frozen=True)
class State:
    """A federal entity (INEGI Marco Geoestadístico; CURP code from RENAPO)."""

    code: str  # INEGI cve_ent, "01".."32"
    name: str  # INEGI official name
    short_name: str
    abbreviation: str
    iso_3166_2: str
    curp_code: str
    population_2020: int


@cache
def states() -> tuple[State, ...]:
    """The 32 federal entities, in INEGI code order."""
    out = []
    for row in read_rows("mexico_states.csv"):
        if row["cve_ent"] == "00":
            continue
        out.append(
            State(
                code=row["cve_ent"],
                name=row["name_official_inegi"],
                short_name=row["name_short"],
                abbreviation=row["abbreviation"],
                iso_3166_2=row["iso_3166_2"],
                curp_code=row["curp_state_code"],
                population_2020=int(row["population_2020"]),
            )
        )
    return tuple(out)


def _key(s: str) -> str:
    return re.sub(r"[^A-ZÑ0-9]+", " ", fold_text(s)).strip()


@cache
def _state_lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for st in states():
        for alias in (st.name, st.short_name, st.abbreviation, st.iso_3166_2, st.iso_3166_2[3:]):
            if alias:
                table[_key(alias)] = st.code
                table[_key(alias).replace(" ", "")] = st.code
        table[st.curp_code] = st.code
        table[st.code] = st.code
        table[str(int(st.code))] = st.code
    extra = {
        "CDMX": "09",
        "DF": "09",
        "D F": "09",
        "DISTRITO FEDERAL": "09",
        "MEXICO DF": "09",
        "CIUDAD DE MEXICO CDMX": "09",
        "ESTADO DE MEXICO": "15",
        "EDO MEX": "15",
        "EDOMEX": "15",
        "EDO DE MEXICO": "15",
        "MEX": "15",
        "MEXICO": "15",
        "EDO MEXICO": "15",
        "COAHUILA": "05",
        "MICHOACAN": "16",
        "VERACRUZ": "30",
        "QUERETARO DE ARTEAGA": "22",
        "BAJA CALIFORNIA NORTE": "02",
        "BCS": "03",
        "BC": "02",
        "NL": "19",
        "QROO": "23",
        "Q ROO": "23",
        "SLP": "24",
        "EDO": "15",
    }
    table.update(extra)
    return table


@lru_cache(maxsize=10_000)
def _normalize_state(text: str) -> str | None:
    key = _key(text)
    table = _state_lookup()
    if key in table:
        return table[key]
    if key.isdigit() and key.lstrip("0") and int(key) <= 32:
        return f"{int(key):02d}"
    nospace = key.replace(" ", "")
    return table.get(nospace)


def normalize_state(value: object) -> str | None:
    """INEGI code (``"09"``) of a federal entity given by name (``"Ciudad de México"``, ``"CDMX"``,
    ``"Edo. de México"``), abbreviation (``"Chis."``), ISO 3166-2 (``"MX-CHP"``), INEGI code
    (``9``, ``"09"``) or CURP state code (``"DF"``); ``None`` if missing or not recognised.
    CURP's ``NE`` (born abroad) is not a state and gives ``None``.
    """
    if value is None:
        return None
    if isinstance(value, float):
        if value != value or not value.is_integer():
            return None
        value = int(value)
    text = str(value).strip()
    if not text:
        return None
    return _normalize_state(text)


def state_from_curp_code(code: str) -> str | None:
    """INEGI code for a CURP state code (``"DF"`` → ``"09"``); ``None`` for ``NE`` or unknown."""
    for st in states():
        if st.curp_code == code:
            return st.code
    return None


# ------------------------------------------------------------------------------------------ sex
_SEX_ES = {
    "H": "male",
    "M": "female",
    "HOMBRE": "male",
    "MUJER": "female",
    "MASCULINO": "male",
    "FEMENINO": "female",
    "VARON": "male",
    "NINA": "female",
    "NINO": "male",
    "HOMBRES": "male",
    "MUJERES": "female",
    "MASC": "male",
    "FEM": "female",
}
_SEX_EN = {
    "M": "male",
    "F": "female",
    "MALE": "male",
    "FEMALE": "female",
    "MAN": "male",
    "WOMAN": "female",
    "BOY": "male",
    "GIRL": "female",
}
_SEX_UNKNOWN = {
    "",
    "X",
    "U",
    "NE",
    "NS",
    "ND",
    "NA",
    "N A",
    "N E",
    "N D",
    "0",
    "9",
    "99",
    "NO ESPECIFICADO",
    "NO IDENTIFICADO",
    "DESCONOCIDO",
    "SIN DATO",
    "SIN DATOS",
    "UNKNOWN",
    "NOT SPECIFIED",
    "NON SPECIFIED UNKNOWN",
    "NONSPECIFIEDUNKNOWN",
    "OTRO",
    "OTHER",
    "NO BINARIO",
    "NON BINARY",
    "NO SE SABE",
    "SE DESCONOCE",
}
_SEX_HTCDS = {"FEMININE": "female", "MASCULINE": "male", "1": "male", "2": "female"}


@lru_cache(maxsize=4096)
def _parse_sex(text: str, convention: str) -> str | None:
    key = _key(text)
    if key in _SEX_UNKNOWN:
        return "unknown"
    if key in _SEX_HTCDS:
        return _SEX_HTCDS[key]
    first = _SEX_EN if convention == "en" else _SEX_ES
    second = _SEX_ES if convention == "en" else _SEX_EN
    if key in first:
        return first[key]
    if key in second:
        return second[key]
    return None


def parse_sex(value: object, convention: str = "es") -> str | None:
    """``female``/``male``/``unknown`` from an agency's code; ``None`` if not recognised.

    ``convention`` decides the one ambiguous letter, ``M``: ``"es"`` (Mexican forms: H = hombre,
    M = mujer) or ``"en"`` (M = male, F = female). Missing values give ``unknown``.
    """
    if convention not in ("es", "en"):  # any other value was read as "es" without a word
        raise InputError(f"the sex convention must be 'es' (M = mujer) or 'en' (M = male), not {convention!r}")
    if value is None or (isinstance(value, float) and value != value):
        return "unknown"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _parse_sex(str(value), convention)


# ---------------------------------------------------------------------------------------- yes/no
_YES = {"SI", "S", "YES", "Y", "1", "TRUE", "VERDADERO", "X", "T"}
_NO = {"NO", "N", "0", "FALSE", "FALSO", "F"}
_UNKNOWN = {
    "",
    "NS",
    "ND",
    "NE",
    "NO SABE",
    "DESCONOCIDO",
    "UNKNOWN",
    "NO ESPECIFICADO",
    "SIN DATO",
    "NA",
    "N A",
    "9",
    "99",
}


def parse_yes_no(value: object) -> bool | None:
    """True/False from SÍ/NO, YES/NO, 1/0, TRUE/FALSE; ``None`` if missing, unknown or unread."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    key = _key(str(value))
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None


def yes_no_recognised(value: object) -> bool:
    """Whether :func:`parse_yes_no` understands ``value`` (missing and 'unknown' count)."""
    if value is None or (isinstance(value, float) and value != value):
        return True
    if isinstance(value, bool):
        return True
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    key = _key(str(value))
    return key in _YES or key in _NO or key in _UNKNOWN


# ----------------------------------------------------------------------------------- nationality
_NATIONALITIES: dict[str, tuple[str, ...]] = {
    "MEX": (
        "MX",
        "MEXICO",
        "MEXICANA",
        "MEXICANO",
        "MEXICAN",
        "MEXICANA O",
        "ESTADOS UNIDOS MEXICANOS",
    ),
    "GTM": ("GT", "GUATEMALA", "GUATEMALTECA", "GUATEMALTECO", "GUATEMALAN"),
    "HND": ("HN", "HONDURAS", "HONDURENA", "HONDURENO", "HONDURAN"),
    "SLV": ("SV", "EL SALVADOR", "SALVADORENA", "SALVADORENO", "SALVADORAN"),
    "NIC": ("NI", "NICARAGUA", "NICARAGUENSE", "NICARAGUAN"),
    "CRI": ("CR", "COSTA RICA", "COSTARRICENSE"),
    "PAN": ("PA", "PANAMA", "PANAMENA", "PANAMENO"),
    "BLZ": ("BZ", "BELICE", "BELIZE", "BELICENA", "BELICENO"),
    "VEN": ("VE", "VENEZUELA", "VENEZOLANA", "VENEZOLANO", "VENEZUELAN"),
    "COL": ("CO", "COLOMBIA", "COLOMBIANA", "COLOMBIANO", "COLOMBIAN"),
    "ECU": ("EC", "ECUADOR", "ECUATORIANA", "ECUATORIANO"),
    "PER": ("PE", "PERU", "PERUANA", "PERUANO"),
    "BOL": ("BO", "BOLIVIA", "BOLIVIANA", "BOLIVIANO"),
    "CHL": ("CL", "CHILE", "CHILENA", "CHILENO"),
    "ARG": ("AR", "ARGENTINA", "ARGENTINO"),
    "BRA": ("BR", "BRASIL", "BRAZIL", "BRASILENA", "BRASILENO"),
    "URY": ("UY", "URUGUAY", "URUGUAYA", "URUGUAYO"),
    "PRY": ("PY", "PARAGUAY", "PARAGUAYA", "PARAGUAYO"),
    "CUB": ("CU", "CUBA", "CUBANA", "CUBANO", "CUBAN"),
    "HTI": ("HT", "HAITI", "HAITIANA", "HAITIANO", "HAITIAN"),
    "DOM": ("DO", "REPUBLICA DOMINICANA", "DOMINICANA", "DOMINICANO"),
    "USA": (
        "US",
        "ESTADOS UNIDOS",
        "EEUU",
        "EE UU",
        "E U A",
        "EUA",
        "ESTADOUNIDENSE",
        "UNITED STATES",
        "AMERICAN",
    ),
    "CAN": ("CA", "CANADA", "CANADIENSE"),
    "ESP": ("ES", "ESPANA", "ESPANOLA", "ESPANOL", "SPAIN"),
    "CHN": ("CN", "CHINA", "CHINA REPUBLICA POPULAR"),
    "IND": ("IN", "INDIA", "HINDU"),
    "PHL": ("PH", "FILIPINAS", "FILIPINA", "FILIPINO", "PHILIPPINES"),
    "UKR": ("UA", "UCRANIA", "UCRANIANA", "UKRAINE"),
    "RUS": ("RU", "RUSIA", "RUSA", "RUSO", "RUSSIA"),
    "ROU": ("RO", "RUMANIA", "RUMANA", "RUMANO", "ROMANIA"),
}


@cache
def _nationality_lookup() -> dict[str, str]:
    table = {}
    for code, aliases in _NATIONALITIES.items():
        table[code] = code
        for alias in aliases:
            table[_key(alias)] = code
    return table


@lru_cache(maxsize=4096)
def _normalize_nationality(text: str) -> str | None:
    key = _key(text).replace("Ñ", "N")
    table = _nationality_lookup()
    if key in table:
        return table[key]
    if re.fullmatch(r"[A-Z]{3}", key):  # any ISO alpha-3 code is accepted as written
        return key
    return None


def normalize_nationality(value: object) -> str | None:
    """ISO 3166-1 alpha-3 code from a code (alpha-2 or -3) or a Spanish/English country name or
    demonym (``"Guatemalteca"`` → ``"GTM"``); ``None`` if missing or not recognised."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return _normalize_nationality(text) if text else None


# ----------------------------------------------------------------------------------- exploitation
@dataclass(frozen=True)
class ExploitationForm:
    """One form of exploitation (Ley General art. 10) and its crosswalk."""

    code: str
    fraction: str  # roman numeral of art. 10, "" for other/unknown
    label_es: str
    htcds: str
    ctdc: str
    unodc: str


@cache
def exploitation_crosswalk() -> tuple[ExploitationForm, ...]:
    """The 11 forms of art. 10 in fraction order, then ``other`` and ``unknown``, with their HTCDS
    v2, CTDC (2024 flags) and UNODC GLOTIP categories (``data/exploitation_crosswalk.csv``)."""
    out = []
    for row in read_rows("exploitation_crosswalk.csv"):
        code = row["project_code"]
        if code == "other_or_unspecified":
            continue
        out.append(
            ExploitationForm(
                code=code,
                fraction=row["mx_lgt_art10_fraction"],
                label_es=row["mx_label_es"],
                htcds=row["htcds_v2_TypeOfExploitation"],
                ctdc=row["ctdc_2024_flag"],
                unodc=row["unodc_glotip_category"],
            )
        )
    out.append(ExploitationForm("other", "", "Otra", "Other", "isOtherExploit", "Other purposes"))
    out.append(
        ExploitationForm(
            "unknown", "", "No especificado", "", "(all NULL = unknown)", "Not specified"
        )
    )
    return tuple(out)


EXPLOITATION_CODES: tuple[str, ...] = (
    "slavery",
    "servitude",
    "sexual_exploitation",
    "labour_exploitation",
    "forced_labour",
    "forced_begging",
    "forced_criminality_minors",
    "illegal_adoption",
    "forced_marriage",
    "organ_trafficking",
    "biomedical_experimentation",
    "other",
    "unknown",
)

@dataclass(frozen=True)
class ExploitationPhrase:
    """One way agencies write a form of exploitation, the code it means and why
    (``data/exploitation_vocabulary.csv``)."""

    phrase: str
    code: str
    source: str


@cache
def exploitation_vocabulary() -> tuple[ExploitationPhrase, ...]:
    """Every phrase :func:`parse_exploitation` reads as a whole, with its code and its source.

    The bundled vocabulary (``data/exploitation_vocabulary.csv``: Ley General art. 10 and the articles
    behind each fraction, HTCDS v2, CTDC, UNODC GLOTIP, SESNSP, Mexican usage) plus, from the
    crosswalk, each fraction's legal label and the SESNSP subtypes recorded under it, and each
    code's own words (``"forced labour"``).
    """
    out = [
        ExploitationPhrase(row["phrase"], row["code"], row["source"])
        for row in read_rows("exploitation_vocabulary.csv")
    ]
    for form in exploitation_crosswalk():
        out.append(ExploitationPhrase(form.code.replace("_", " "), form.code, "project code"))
    for row in read_rows("exploitation_crosswalk.csv"):
        code = row["project_code"]
        if code not in EXPLOITATION_CODES:
            continue
        fraction = f"LGT art. 10 fr. {row['mx_lgt_art10_fraction']}"
        out.append(ExploitationPhrase(row["mx_label_es"], code, f"{fraction} (crosswalk mx_label_es)"))
        for subtype in row["sesnsp_cnsp_38_15_subtypes_seen"].split(";"):
            subtype = subtype.strip().rstrip(".").strip()
            if subtype:
                out.append(ExploitationPhrase(subtype, code, f"{fraction} (crosswalk SESNSP subtype)"))
    return tuple(out)


def _ex_key(s: str) -> str:
    """Comparison key of a phrase: case, accents and punctuation folded, Ñ read as N."""
    return _key(s).replace("Ñ", "N")


@cache
def _exploitation_lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for entry in exploitation_vocabulary():
        if entry.code not in EXPLOITATION_CODES:  # pragma: no cover - guarded by a test
            raise ValueError(f"exploitation_vocabulary.csv: unknown code {entry.code!r}")
        key = _ex_key(entry.phrase)
        if table.get(key, entry.code) != entry.code:  # pragma: no cover - guarded by a test
            raise ValueError(f"exploitation vocabulary: {entry.phrase!r} maps to two codes")
        table[key] = entry.code
        table.setdefault(key.replace(" ", ""), entry.code)  # "SexualExploitation" written apart
    return table


_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
_FRACTION_NUMBER: dict[str, int] = {r: i for i, r in enumerate(_ROMAN)} | {
    str(i + 1): i for i in range(len(_ROMAN))
}
_ART10 = r"(?:ART|ARTS|ARTICULO) 10"
_FR = r"(?:FR|FRS|FRAC|FRACC|FRACCION|FRACCIONES)"
_NUM = r"(?P<num>[IVX]{1,4}|\d{1,2})"
_OF_ART10 = rf"(?: DEL? {_ART10})?"
#: "III", "fr. 3", "art. 10 fracción III", "fracción III del artículo 10", then optionally a label
_FRACTION_FIRST = re.compile(
    rf"^(?P<art>{_ART10} )?(?P<fr>{_FR} )?{_NUM}{_OF_ART10}(?: (?P<rest>.+))?$"
)
#: a label followed by its fraction: "explotación sexual (art. 10 fr. III)"
_FRACTION_LAST = re.compile(rf"^(?P<rest>.+?) (?:{_ART10} )?{_FR} {_NUM}{_OF_ART10}$")
#: words agencies put before the form itself, folded; stripped one at a time, longest first
_LEAD_WORDS: tuple[str, ...] = tuple(
    sorted(
        (
            "DELITO DE",
            "DELITO",
            "TRATA DE PERSONAS",
            "TRATA DE PERSONA",
            "TRATA",
            "CON FINES DE",
            "CON FIN DE",
            "CON EL FIN DE",
            "CON LA FINALIDAD DE",
            "CON FINALIDAD DE",
            "CON EL PROPOSITO DE",
            "CON PROPOSITO DE",
            "FINES DE",
            "FINALIDAD DE",
            "EN SU MODALIDAD DE",
            "EN LA MODALIDAD DE",
            "EN MODALIDAD DE",
            "MODALIDAD DE",
            "MODALIDAD",
            "TIPO DE EXPLOTACION",
            "FORMA DE EXPLOTACION",
            "EXPLOTACION MEDIANTE",
            "EXPLOTACION POR",
            "EXPLOTACION A TRAVES DE",
            "EXPLOTACION EN",
            "EXPLOTACION",
            "PARA",
            "POR",
            "LA",
            "EL",
            "LOS",
            "LAS",
            "TRAFFICKING IN PERSONS FOR THE PURPOSE OF",
            "TRAFFICKING IN PERSONS FOR",
            "HUMAN TRAFFICKING FOR THE PURPOSE OF",
            "HUMAN TRAFFICKING FOR",
            "TRAFFICKING FOR THE PURPOSE OF",
            "TRAFFICKING FOR",
            "FOR THE PURPOSE OF",
            "FOR",
        ),
        key=len,
        reverse=True,
    )
)


def _fraction_code(m: re.Match[str]) -> str | None:
    index = _FRACTION_NUMBER.get(m["num"])
    return None if index is None else EXPLOITATION_CODES[index]


_MAX_LEAD_WORDS = 6  # lead words stripped from one phrase at most (bounds the work on any input)


@lru_cache(maxsize=20_000)
def _resolve(
    key: str,
    *,
    bare_fraction: bool = True,
    fractions: bool = True,
    leads_left: int = _MAX_LEAD_WORDS,
) -> str | None:
    """Code of one folded phrase, or ``None``. Never guesses: a phrase is a known label, a
    fraction (bare roman numerals only when ``bare_fraction``; arabic ones only after "fr." or
    "art. 10"), a fraction with a label that agrees with it (``fractions``), or known lead words
    before either."""
    table = _exploitation_lookup()
    if key in table:
        return table[key]
    if fractions:
        return _resolve_fraction(key, bare_fraction=bare_fraction, leads_left=leads_left)
    return _resolve_lead_words(key, fractions=False, leads_left=leads_left)


def _resolve_fraction(key: str, *, bare_fraction: bool, leads_left: int) -> str | None:
    """:func:`_resolve` for a phrase that may name its fraction before or after its label."""
    m = _FRACTION_FIRST.match(key)
    if m:
        code = _fraction_code(m)
        if m["rest"] is None:
            explicit = bool(m["art"] or m["fr"])
            bare_ok = bare_fraction and not m["num"].isdigit()
            return code if code and (explicit or bare_ok) else None
        if code and _resolve(m["rest"], fractions=False, leads_left=leads_left) == code:
            return code
    m = _FRACTION_LAST.match(key)
    if m:
        code = _fraction_code(m)
        if code and _resolve(m["rest"], fractions=False, leads_left=leads_left) == code:
            return code
    return _resolve_lead_words(key, fractions=True, leads_left=leads_left)


def _resolve_lead_words(key: str, *, fractions: bool, leads_left: int) -> str | None:
    """:func:`_resolve` of what follows known lead words ("trata de personas con fines de")."""
    if leads_left <= 0:
        return None
    codes = {
        _resolve(
            key[len(lead) + 1 :],
            bare_fraction=False,
            fractions=fractions,
            leads_left=leads_left - 1,
        )
        for lead in _LEAD_WORDS
        if key.startswith(lead + " ")
    }
    codes.discard(None)
    return codes.pop() if len(codes) == 1 else None


#: ";", "|", "+", a new line, or "/" (but not the one of "y/o")
_STRONG_SPLIT = re.compile(r"[;|+\n]|/(?!\s*o\b)", re.IGNORECASE)
#: "," outside parentheses and not right after "art. 10" ("Art. 10, fracción III")
_COMMA_SPLIT = re.compile(
    r"(?<!\bart\. 10)(?<!\bart 10)(?<!\bart\.10)(?<!\bart10)"
    r"(?<!\bartículo 10)(?<!\barticulo 10),(?![^()]*\))",
    re.IGNORECASE,
)
#: "y", "e" or "y/o" between two forms (after folding)
_AND_SPLIT = re.compile(r"\bY O\b|\b[YE]\b")


def _resolve_and(key: str) -> list[str] | None:
    """Codes of "X y Y" inside one part, when every side is recognised; else ``None``."""
    sides = [s.strip() for s in _AND_SPLIT.split(key)]
    sides = [s for s in sides if s]
    if len(sides) < 2:
        return None
    codes = [_resolve(s) for s in sides]
    return [c for c in codes if c] if all(codes) else None


@lru_cache(maxsize=20_000)
def _parse_exploitation(text: str) -> tuple[str | None, tuple[str, ...]]:
    whole = _resolve(_ex_key(text))
    if whole is not None:
        return whole, ()
    found: set[str] = set()
    bad: list[str] = []
    for strong in _STRONG_SPLIT.split(text):
        code = _resolve(_ex_key(strong))
        if code is not None:
            found.add(code)
            continue
        for part in _COMMA_SPLIT.split(strong):
            key = _ex_key(part)
            if key in ("", "Y", "E"):
                continue
            code = _resolve(key)
            codes = [code] if code is not None else _resolve_and(key)
            if codes is None:
                bad.append(part.strip())
            else:
                found.update(codes)
    if len(found) > 1:
        found.discard("unknown")
    if not found and not bad:
        found.add("unknown")
    ordered = [c for c in EXPLOITATION_CODES if c in found]
    return ("|".join(ordered) if ordered else None), tuple(bad)


def parse_exploitation(value: object) -> tuple[str | None, tuple[str, ...]]:
    """Forms of exploitation in one cell → (``"|"``-joined codes in fraction order,
    unrecognised parts).

    Reads the forms as agencies write them: the fractions of art. 10 (``"III"``, ``"Fr. 3"``,
    ``"art. 10, fracción III"``), their legal labels and short forms, SESNSP categories, common
    Mexican phrasings (``"Trabajo forzoso"``, ``"ESCI"``, ``"Reclutamiento forzado"``), English,
    HTCDS and CTDC names (see :func:`exploitation_vocabulary`), with or without accents, in any case,
    after lead words such as ``"Trata de personas con fines de"``; several forms separated by
    ``;``, ``,``, ``|``, ``/``, ``+`` or ``y``. Missing, "no especificado" or a bare
    ``"Trata de personas"`` gives ``"unknown"`` (a normal value). Nothing is guessed: when a part
    is not recognised the codes are those that were, or ``None`` when none was.
    """
    if value is None or (isinstance(value, float) and value != value):
        return "unknown", ()
    return _parse_exploitation(str(value))


# -------------------------------------------------------------------------------------- age bands
def ctdc_age_band(age: int | None) -> str | None:
    """CTDC ``ageBroad`` band of an age in years (``None`` when unknown)."""
    if age is None or age < 0:
        return None
    for low, high, label in CTDC_AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return None  # pragma: no cover
