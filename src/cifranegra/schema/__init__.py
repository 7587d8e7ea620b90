"""The record schema, code lists, validation rules and normalization of Mexican identity data.

Pure: opens no file except its package data, prints nothing.

Public API (see docs/ingest.md): :func:`normalize_name`, :func:`name_key`,
:func:`canonical_given_name`, :func:`normalize_curp`, :func:`curp_is_valid`, :func:`curp_prefix`,
:func:`parse_date`, :func:`normalize_state`, :func:`normalize_records`, :func:`check_records`,
and the schema itself (:data:`FIELDS`, :data:`RECORD_COLUMNS`, :data:`IDENTIFYING_FIELDS`).

Names are loaded on first use (PEP 562), so that a module needing one of them (say
:func:`mask_value`) does not import every normalizer (CURP, dates, records) with it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only; at run time see __getattr__
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
        curp_name_letters,
        curp_prefix,
        curp_prefixes,
        curp_sex,
        curp_state,
        curps_valid,
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

_S = "cifranegra.schema."
_LAZY: dict[str, str] = {
    "AGE_GROUPS": _S + "codes",
    "CTDC_AGE_BANDS": _S + "codes",
    "EXPLOITATION_CODES": _S + "codes",
    "SEX_CODES": _S + "codes",
    "State": _S + "codes",
    "ctdc_age_band": _S + "codes",
    "exploitation_crosswalk": _S + "codes",
    "exploitation_vocabulary": _S + "codes",
    "normalize_nationality": _S + "codes",
    "normalize_state": _S + "codes",
    "parse_exploitation": _S + "codes",
    "parse_sex": _S + "codes",
    "parse_yes_no": _S + "codes",
    "state_from_curp_code": _S + "codes",
    "states": _S + "codes",
    "curp_birth_date": _S + "curp",
    "curp_check_digit": _S + "curp",
    "curp_is_valid": _S + "curp",
    "curp_prefix": _S + "curp",
    "curp_prefixes": _S + "curp",
    "curp_sex": _S + "curp",
    "curp_state": _S + "curp",
    "curp_name_letters": _S + "curp",
    "curps_valid": _S + "curp",
    "normalize_curp": _S + "curp",
    "excel_serial_to_date": _S + "dates",
    "parse_date": _S + "dates",
    "parse_dates": _S + "dates",
    "FIELDS": _S + "fields",
    "IDENTIFYING_FIELDS": _S + "fields",
    "INPUT_FIELDS": _S + "fields",
    "RECORD_COLUMNS": _S + "fields",
    "RESTRICTED_FIELDS": _S + "fields",
    "Field": _S + "fields",
    "mask_value": _S + "fields",
    "NICKNAMES": _S + "nicknames",
    "canonical_given_name": _S + "nicknames",
    "given_name_variants": _S + "nicknames",
    "check_records": _S + "records",
    "detect_sex_convention": _S + "records",
    "normalize_records": _S + "records",
    "split_full_name": _S + "records",
    "PARTICLES": _S + "text",
    "fold_text": _S + "text",
    "name_key": _S + "text",
    "normalize_name": _S + "text",
    "surname_pair_key": _S + "text",
    "surnames_compatible": _S + "text",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'cifranegra.schema' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
    "curp_name_letters",
    "curp_prefix",
    "curp_prefixes",
    "curp_sex",
    "curp_state",
    "curps_valid",
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
