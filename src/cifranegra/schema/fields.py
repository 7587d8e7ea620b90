"""The record schema: one row per person-episode per source agency.

Aligned with the Human Trafficking Case Data Standard v2 (HTCDS, UNMigration) where it has a field,
Mexico-first otherwise (CURP, INEGI state and municipality codes, the forms of exploitation of
art. 10 of the Ley General). Fields marked ``identifying`` must never be printed, logged or published;
``restricted`` fields (gender identity, ethnicity) are sensitive and only for authorised analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cifranegra.schema._data import read_rows

__all__ = [
    "FIELDS",
    "IDENTIFYING_FIELDS",
    "INPUT_FIELDS",
    "RECORD_COLUMNS",
    "RESTRICTED_FIELDS",
    "Field",
    "field",
    "htcds_fields",
    "mask_value",
]


@dataclass(frozen=True)
class Field:
    """One column of the Records frame."""

    name: str
    dtype: str  # "string", "date", "Int64", "category", "boolean"
    description: str
    htcds: str = ""  # HTCDS v2 field it corresponds to, if any
    identifying: bool = False  # direct or indirect identifier: never print, log or publish
    restricted: bool = False  # sensitive: only for authorised analysis
    input: bool = True  # read from agency files (False: derived by normalization)
    values: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("source", "string", "Agency that recorded the person (its id)", "org_Name"),
    Field(
        "record_id",
        "string",
        "The agency's own id of the record (pseudonymous)",
        "",
        identifying=True,
    ),
    Field(
        "registration_date",
        "date",
        "Date the agency identified, assisted or registered the person",
        "",
    ),
    Field(
        "full_name",
        "string",
        "Whole name in one cell, split into given names and surnames",
        "prs_FirstName",
        identifying=True,
    ),
    Field("given_names", "string", "Given name(s), normalized", "prs_FirstName", identifying=True),
    Field(
        "first_surname",
        "string",
        "First (paternal) surname, normalized",
        "prs_SecondName",
        identifying=True,
    ),
    Field(
        "second_surname",
        "string",
        "Second (maternal) surname, normalized; may be missing",
        "prs_SecondName",
        identifying=True,
    ),
    Field("birth_date", "date", "Date of birth", "prs_Birthdate", identifying=True),
    Field("birth_year", "Int64", "Year of birth (from birth_date when given)", "prs_Birthdate"),
    Field("age", "Int64", "Age in years at registration", "vic_AgeWhenTrafficked"),
    Field("sex", "category", "Sex as recorded", "prs_Gender", values=("female", "male", "unknown")),
    Field(
        "gender_identity",
        "string",
        "Gender identity when recorded (restricted)",
        "prs_Gender",
        identifying=True,
        restricted=True,
    ),
    Field(
        "curp",
        "string",
        "CURP, normalized; null if missing or not shaped like a CURP",
        "prs_IdentityNumber",
        identifying=True,
    ),
    Field("nationality", "string", "Citizenship, ISO 3166-1 alpha-3", "prs_Citizenship"),
    Field(
        "indigenous",
        "boolean",
        "Self-identified as belonging to an indigenous people",
        restricted=True,
    ),
    Field("afro_mexican", "boolean", "Self-identified as Afro-Mexican", restricted=True),
    Field(
        "state",
        "string",
        "Federal entity of identification, INEGI code '01'..'32'",
        "vic_LocationOfExploitation",
    ),
    Field(
        "municipality", "string", "Municipality of identification, INEGI code EEMMM (or its name)"
    ),
    Field(
        "exploitation",
        "string",
        "Forms of exploitation, '|'-joined codes of art. 10 fractions, 'other' or 'unknown'",
        "vic_TypeOfExploitation",
    ),
    Field(
        "age_group",
        "category",
        "0-17, 18+ or unknown (at registration)",
        input=False,
        values=("0-17", "18+", "unknown"),
    ),
    Field("ctdc_age_band", "string", "CTDC ageBroad band", input=False),
    Field(
        "given_names_canonical",
        "string",
        "Given names with nicknames expanded",
        input=False,
        identifying=True,
    ),
    Field("curp_valid", "boolean", "CURP has a valid date, state and check digit", input=False),
    Field("source_file", "string", "File the record was read from", input=False),
    Field("source_row", "Int64", "Data row of the record in its file, from 1", input=False),
)

#: columns of a normalized Records frame, in order
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.name != "full_name")
INPUT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.input)
IDENTIFYING_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.identifying)
RESTRICTED_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.restricted)
_BY_NAME = {f.name: f for f in FIELDS}


@cache
def htcds_fields() -> frozenset[str]:
    """Names of the HTCDS v2 fields (``data/htcds_v2_fields.csv``)."""
    return frozenset(row["field"] for row in read_rows("htcds_v2_fields.csv"))


def field(name: str) -> Field:
    """The :class:`Field` called ``name`` (KeyError if there is none)."""
    return _BY_NAME[name]


def mask_value(value: object, *, identifying: bool = True, keep: int = 2) -> str:
    """A value masked (``identifying=True``: its first ``keep`` characters, ``"MARIA"`` →
    ``"MA***"``) or quoted (truncated to 40 characters). Which one a message may use is decided
    by :func:`cifranegra.schema.records.shown_value`: only code-list values that cannot be names are
    quoted, whatever the column, since a misaligned row can put a name anywhere."""
    missing = value is None or (isinstance(value, float) and value != value) or str(value) in ("<NA>", "NaT")
    text = "" if missing else str(value)
    if identifying:
        return (text[: max(0, int(keep))] + "***") if text else "(empty)"  # a negative keep showed all but the end
    return repr(text if len(text) <= 40 else text[:37] + "...")
