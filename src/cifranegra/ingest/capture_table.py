"""Read capture-history tables (aggregated or one row per person) from CSV, XLSX or Parquet files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cifranegra.errors import Problem, ValidationError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.ingest.readers import read_table


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        conv = pd.to_numeric(out[c], errors="coerce")
        # keep text where it is not a number, so errors can quote it
        out[c] = conv.where(conv.notna() | out[c].isna(), out[c])
    return out


def read_capture_histories(
    path: str | Path,
    *,
    lists: Sequence[str] | None = None,
    count: str | None = "count",
    strata: Sequence[str] = (),
) -> CaptureHistories | dict[tuple[Any, ...], CaptureHistories]:
    """A capture-history table from a file: one 0/1 column per list plus ``count`` (aggregated), or one
    row per person (``count=None``); with ``strata``, one table per stratum (a dict).

    Without ``count`` in the file and with every column 0/1, the file is read one row per person.
    """
    df, _ = read_table(path)
    name = Path(path).name
    df = _numeric(df)
    df.columns = [str(c).strip() for c in df.columns]
    if count is not None and count not in df.columns:
        others = [c for c in df.columns if c not in strata]
        if others and all(df[c].isin([0, 1]).all() for c in others):
            count = None
    try:
        if strata:
            return CaptureHistories.stratified_from_frame(
                df, strata=list(strata), lists=lists, count=count, source=name, drop_empty_lists=True
            )
        return CaptureHistories.from_frame(df, lists=lists, count=count, source=name)
    except ValidationError as exc:
        # a text column among the lists is most likely a stratum: say so
        hints = []
        for p in exc.problems:
            if p.code == "not_binary" and p.column and df[p.column].map(lambda v: isinstance(v, str)).any():
                hints.append(p.column)
        if hints:
            cols = sorted(set(hints))
            extra = Problem(name, None, None, "error", "stratum_hint",
                            f"column(s) {cols} hold text: if they are strata, pass --strata {' '.join(cols)}")
            raise ValidationError([*exc.problems, extra], summary=exc.summary) from None
        raise

