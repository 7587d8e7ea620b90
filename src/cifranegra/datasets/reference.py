"""Bundled capture-history tables from the literature (sources in ``data/SOURCES.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureHistories, read_plain_csv

_PACKAGE = "cifranegra.datasets"


def _data_dir() -> Path:
    return Path(str(resources.files(_PACKAGE).joinpath("data")))


def reference_tables() -> list[str]:
    """Names of the bundled tables (file stems), e.g. ``"SparseMSE_UKdat_5"``."""
    return sorted(p.stem for p in _data_dir().glob("*.csv"))


def reference_path(name: str) -> Path:
    """Path of a bundled table by name (case-insensitive; the ``.csv`` and package prefix optional)."""
    want = name.lower().removesuffix(".csv")
    for stem in reference_tables():
        s = stem.lower()
        if want in (s, s.split("_", 1)[-1]):
            return _data_dir() / f"{stem}.csv"
    raise InputError(f"no bundled table named {name!r}; bundled: {', '.join(reference_tables())}")


def load_reference(name: str) -> CaptureHistories:
    """A bundled table as :class:`CaptureHistories` (stratified tables: use ``reference_path``)."""
    path = reference_path(name)
    plain = read_plain_csv(path)
    if plain is not None:
        return plain
    import pandas as pd

    return CaptureHistories.from_frame(pd.read_csv(path), source=path.name)
