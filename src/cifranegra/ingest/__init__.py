"""Agency lists in: readers (CSV/XLSX/Parquet), header mapping, validation of files, normalization.

Public API (see docs/ingest.md): :func:`read_list`, :func:`read_lists`, :func:`validate_files`,
:func:`read_table`, :func:`load_mapping`, :func:`map_columns`, :class:`ListReport`,
:class:`ValidationReport`, :class:`Provenance`, :class:`ColumnMapping`.
"""

from cifranegra.ingest.capture_table import read_capture_histories
from cifranegra.ingest.lists import (
    ListReport,
    ValidationReport,
    read_list,
    read_lists,
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
