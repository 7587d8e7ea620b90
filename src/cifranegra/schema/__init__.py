"""The record schema, code lists, validation rules and normalization of Mexican identity data.

Pure: opens no file except its package data, prints nothing.

Public API (see docs/ingest.md): :func:`normalize_name`, :func:`name_key`,
:func:`canonical_given_name`, :func:`normalize_curp`, :func:`curp_is_valid`, :func:`curp_prefix`,
:func:`parse_date`, :func:`normalize_state`, :func:`normalize_records`, :func:`check_records`,
and the schema itself (:data:`FIELDS`, :data:`RECORD_COLUMNS`, :data:`IDENTIFYING_FIELDS`).
"""

from cifranegra.schema.codes import (
    AGE_GROUPS,
    CTDC_AGE_BANDS,
    EXPLOITATION_CODES,
    SEX_CODES,
    State,
    ctdc_age_band,
    exploitation_crosswalk,
    exploitation_vocabulary,
    normalize_nationality,
    normalize_state,
    parse_exploitation,
    parse_sex,
    parse_yes_no,
    state_from_curp_code,
    states,
)
from cifranegra.schema.curp import (
    curp_birth_date,
    curp_check_digit,
    curp_is_valid,
    curp_prefix,
    curp_prefixes,
    curp_sex,
    curp_state,
    normalize_curp,
)
from cifranegra.schema.dates import excel_serial_to_date, parse_date, parse_dates
from cifranegra.schema.fields import (
    FIELDS,
    IDENTIFYING_FIELDS,
    INPUT_FIELDS,
    RECORD_COLUMNS,
    RESTRICTED_FIELDS,
    Field,
    mask_value,
)
from cifranegra.schema.nicknames import NICKNAMES, canonical_given_name, given_name_variants
from cifranegra.schema.records import (
    check_records,
    detect_sex_convention,
    normalize_records,
    split_full_name,
)
from cifranegra.schema.text import (
    PARTICLES,
    fold_text,
    name_key,
    normalize_name,
    surname_pair_key,
    surnames_compatible,
)

__all__ = [
    "AGE_GROUPS",
    "CTDC_AGE_BANDS",
    "EXPLOITATION_CODES",
    "FIELDS",
    "IDENTIFYING_FIELDS",
    "INPUT_FIELDS",
    "NICKNAMES",
    "PARTICLES",
    "RECORD_COLUMNS",
    "RESTRICTED_FIELDS",
    "SEX_CODES",
    "Field",
    "State",
    "canonical_given_name",
    "check_records",
    "ctdc_age_band",
    "curp_birth_date",
    "curp_check_digit",
    "curp_is_valid",
    "curp_prefix",
    "curp_prefixes",
    "curp_sex",
    "curp_state",
    "detect_sex_convention",
    "excel_serial_to_date",
    "exploitation_crosswalk",
    "exploitation_vocabulary",
    "fold_text",
    "given_name_variants",
    "mask_value",
    "name_key",
    "normalize_curp",
    "normalize_name",
    "normalize_nationality",
    "normalize_records",
    "normalize_state",
    "parse_date",
    "parse_dates",
    "parse_exploitation",
    "parse_sex",
    "parse_yes_no",
    "split_full_name",
    "state_from_curp_code",
    "states",
    "surname_pair_key",
    "surnames_compatible",
]
