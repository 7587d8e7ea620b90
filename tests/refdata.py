"""Reference tables and the R/published reference values, for the tests.

Reference values come from tests/reference/reference_estimates.csv (see SOURCES.md there): each test
names the row (file, source, method) it checks.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

import pandas as pd

from cifranegra.datasets.reference import load_reference
from cifranegra.estimation import CaptureHistories

REFERENCE_CSV = Path(__file__).parent / "reference" / "reference_estimates.csv"


@lru_cache(maxsize=1)
def reference_rows() -> pd.DataFrame:
    return pd.read_csv(REFERENCE_CSV)


def reference_row(file: str, source_contains: str, method: str) -> pd.Series:
    """The single reference row for a table, a source (substring) and a method (exact)."""
    df = reference_rows()
    sel = df[(df["file"] == file) & df["source"].str.contains(source_contains, regex=False) & (df["method"] == method)]
    assert len(sel) == 1, f"expected one reference row for {file} / {source_contains} / {method}, got {len(sel)}"
    return sel.iloc[0]


@cache
def table(name: str) -> CaptureHistories:
    """A bundled reference table by file name (with or without .csv)."""
    return load_reference(name.removesuffix(".csv"))
