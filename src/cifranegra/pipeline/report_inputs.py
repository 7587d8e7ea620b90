"""What the report needs from a run besides the estimates, computed once and written to ``internal/``.

- :func:`fitted_patterns`: observed and fitted count of every capture pattern under the chosen model
  (the goodness-of-fit plot). Only log-linear models have fitted counts per pattern; for other
  methods the note says so.
- :func:`drop_one_list`: the estimate with each list left out, for the run's first method, point
  estimates only (log-linear without interval, as the linkage sensitivity): cheap, and the spread it
  shows is about which list drives the estimate, not about sampling.
- :func:`identifier_counts`: records per list with a valid CURP (ingest empties an invalid one), a
  full name (given name(s) and first surname) and a complete birth date, from the normalized records
  (counts only; the shares are published from the disclosure-controlled counts).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import CifranegraError
from cifranegra.estimation import CaptureHistories, estimate

#: Methods whose model is a hierarchical log-linear model with fitted counts per capture pattern.
LOGLINEAR_METHODS = ("loglinear", "independence", "saturated")
#: Identifier kinds counted per list, and the columns that must all be present for each.
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "curp": ("curp",),
    "full_name": ("given_names", "first_surname"),
    "birth_date": ("birth_date",),
}


def identifier_counts(records: pd.DataFrame) -> dict[str, int]:
    """Records with each identifier (:data:`IDENTIFIERS`) among ``records`` (one list's normalized rows)."""
    out = {}
    for kind, cols in IDENTIFIERS.items():
        have = pd.Series(True, index=records.index)
        for col in cols:
            if col not in records.columns:
                have &= False
                continue
            values = records[col]
            have &= values.notna() & (values.astype(str).str.strip() != "")
        out[kind] = int(have.sum())
    return out


def fitted_patterns(histories: CaptureHistories, method: str, model: str | None) -> dict[str, Any]:
    """Observed and fitted count of each capture pattern under ``model`` (``rows``: the lists' 0/1 columns,
    ``pattern``, ``observed``, ``fitted``), or a ``note`` saying why there are none."""
    base: dict[str, Any] = {"method": method, "model": model, "rows": [], "note": None}
    if method not in LOGLINEAR_METHODS:
        return {**base, "note": f"fitted counts per capture pattern are given for log-linear models; the first "
                                f"method is {method}"}
    if not model:
        return {**base, "note": f"{method} fitted no model to all persons"}
    from cifranegra.estimation.fitting import fit_one
    from cifranegra.estimation.models import HierarchicalModel

    lists = list(histories.lists)
    try:
        fit = fit_one(HierarchicalModel.parse(model, lists), np.asarray(histories.counts, dtype=float))
    except (CifranegraError, ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
        return {**base, "note": f"the model {model} could not be refitted for its fitted counts ({exc})"}
    rows = []
    for cell in range(1, 2 ** len(lists)):
        bits = {name: (cell >> j) & 1 for j, name in enumerate(lists)}
        rows.append({**bits, "pattern": "".join(str(bits[n]) for n in lists),
                     "observed": int(histories.counts[cell]), "fitted": float(fit.fitted[cell - 1])})
    return {**base, "rows": rows, "deviance": float(fit.deviance), "df": int(fit.df)}


def drop_one_list(
    histories: CaptureHistories, method: str, options: Mapping[str, Any], seed: int | None
) -> list[dict[str, Any]]:
    """The first method's point estimate with each list left out (``list``, ``lists``, ``observed``,
    ``estimate``, ``model``, ``error``); a scenario that cannot be estimated keeps its row with the error."""
    opts = dict(options)
    if method in LOGLINEAR_METHODS:
        opts["interval"] = "none"
    rows = []
    for name in histories.lists:
        keep = [x for x in histories.lists if x != name]
        row: dict[str, Any] = {"list": name, "method": method, "lists": len(keep)}
        try:
            h = histories.select_lists(keep)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = estimate(h, method, seed=seed, **opts)
            row.update({"observed": int(h.observed), "estimate": float(res.estimate), "model": res.model,
                        "error": None})
        except CifranegraError as exc:
            row.update({"observed": None, "estimate": None, "model": None, "error": str(exc)})
        rows.append(row)
    return rows
