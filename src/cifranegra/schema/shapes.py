"""Whether a piece of text is shaped like an identifier (no pandas: the capture-table reader that avoids
pandas uses it on headers).

A CURP's (or RFC's) head, a long number (an id, a phone, a date without separators), a date or an
e-mail address. Messages and outputs never show such text; :mod:`cifranegra.schema.records` masks
stratum values with it and :mod:`cifranegra.ingest.capture_table` refuses headers that have it.
"""

from __future__ import annotations

import re

IDENTIFYING_SHAPE = re.compile(
    r"[A-Z]{4}\s*\d{6}"  # a CURP's (or RFC's) head
    r"|\d{5,}"  # a long number: an ID, a phone, a date without separators
    r"|\d{1,4}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,4}"  # a date
    r"|@",
    re.IGNORECASE,
)


def looks_identifying(text: str) -> bool:
    """Whether ``text`` holds something shaped like an identifier: a CURP's (or RFC's) head, a long
    number, a date or an e-mail address."""
    return bool(IDENTIFYING_SHAPE.search(text))
