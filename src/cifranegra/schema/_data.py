"""Package data of the schema layer (read through importlib.resources; see data/SOURCES.md)."""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources


@cache
def read_rows(name: str) -> tuple[dict[str, str], ...]:
    """The rows of ``cifranegra/schema/data/<name>`` as dictionaries of strings (cached)."""
    text = (
        resources.files("cifranegra.schema")
        .joinpath("data")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
    return tuple(csv.DictReader(io.StringIO(text)))
