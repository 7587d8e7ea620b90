"""FEBRL4 (5,000 + 5,000 records) as bundled in tests/linkage/data (see data/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).parent / "data"


def load_febrl4() -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL4 files a and b, every value a stripped string."""

    def read(name: str) -> pd.DataFrame:
        df = pd.read_csv(DATA / name, dtype=str, skipinitialspace=True, keep_default_na=False)
        df.columns = [c.strip() for c in df.columns]
        df = df.apply(lambda c: c.str.strip())
        return df.where(df != "", None)

    return read("febrl4a.csv.gz"), read("febrl4b.csv.gz")
