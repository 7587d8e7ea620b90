"""Agency lists in: readers (CSV/XLSX/Parquet), header mapping, validation of files, normalization.

Public API (see docs/ingest.md): :func:`read_list`, :func:`read_lists`, :func:`validate_files`,
:func:`read_table`, :func:`load_mapping`, :func:`map_columns`, :class:`ListReport`,
:class:`ValidationReport`, :class:`Provenance`, :class:`ColumnMapping`.

Names are loaded on first use (PEP 562): reading a capture-history table
(:mod:`cifranegra.ingest.capture_table`) does not import the list validator and the identity
normalization it does not use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only; at run time see __getattr__
    from cifranegra.ingest.capture_table import read_capture_histories
    from cifranegra.ingest.lists import (
        ListReport,
        ValidationReport,
        read_list,
        read_lists,
        sibling_mapping,
        validate_files,
    )
    from cifranegra.ingest.mapping import (
        HEADER_SYNONYMS,
        ColumnMapping,
        header_key,
        load_mapping,
        map_columns,
    )
    from cifranegra.ingest.readers import Provenance, detect_delimiter, detect_encoding, read_table

_LAZY = {
    "read_capture_histories": "cifranegra.ingest.capture_table",
    **dict.fromkeys(
        ("ListReport", "ValidationReport", "read_list", "read_lists", "sibling_mapping", "validate_files"),
        "cifranegra.ingest.lists",
    ),
    **dict.fromkeys(
        ("HEADER_SYNONYMS", "ColumnMapping", "header_key", "load_mapping", "map_columns"), "cifranegra.ingest.mapping"
    ),
    **dict.fromkeys(
        ("Provenance", "detect_delimiter", "detect_encoding", "read_table"), "cifranegra.ingest.readers"
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'cifranegra.ingest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "HEADER_SYNONYMS",
    "ColumnMapping",
    "ListReport",
    "Provenance",
    "ValidationReport",
    "detect_delimiter",
    "detect_encoding",
    "header_key",
    "load_mapping",
    "map_columns",
    "read_capture_histories",
    "read_list",
    "read_lists",
    "read_table",
    "sibling_mapping",
    "validate_files",
]
