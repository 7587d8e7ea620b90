"""Helpers for the disclosure tests: tidy tables with margins, and an attacker written independently of
cifranegra.report (the full joint table over every dimension, no cliques, no Gaussian elimination)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linprog


def with_margins(inner: Mapping[tuple[str, ...], int], dims: Sequence[str]) -> pd.DataFrame:
    """A tidy table: every cell of ``inner`` and every margin (``total``), as ``dims`` + ``count``."""
    levels = [sorted({k[j] for k in inner}) for j in range(len(dims))]
    rows = []
    for combo in itertools.product(*([*lv, "total"] for lv in levels)):
        value = sum(v for k, v in inner.items() if all(c in ("total", x) for c, x in zip(combo, k, strict=True)))
        rows.append({**dict(zip(dims, combo, strict=True)), "count": value})
    return pd.DataFrame(rows)


def margin_of(joint: Mapping[tuple[str, ...], int], all_dims: Sequence[str], dims: Sequence[str]) -> pd.DataFrame:
    """The table over ``dims`` (with margins) of a joint table over ``all_dims``."""
    inner: dict[tuple[str, ...], int] = {}
    for key, v in joint.items():
        sub = tuple(key[all_dims.index(d)] for d in dims)
        inner[sub] = inner.get(sub, 0) + v
    return with_margins(inner, dims)


def attacker(tables: Mapping[str, pd.DataFrame], protected: Mapping[str, pd.DataFrame], threshold: int,
             measure: str = "count") -> dict[tuple[str, int], tuple[float, float]]:
    """Min and max of every withheld cell over non-negative joint tables that reproduce every published cell
    and what the flags say (primary: 1..threshold−1; secondary: at least threshold)."""
    dims: list[str] = []
    levels: dict[str, list[str]] = {}
    for frame in tables.values():
        for d in frame.columns:
            if d != measure:
                if d not in levels:
                    dims.append(d)
                    levels[d] = []
                levels[d] = sorted(set(levels[d]) | {str(v) for v in frame[d] if str(v) != "total"})
    joint = list(itertools.product(*(levels[d] for d in dims)))
    rows, eq_rows, eq_rhs, ub_rows, ub_rhs, withheld = [], [], [], [], [], []
    for name, frame in tables.items():
        out = protected[name]
        tdims = [d for d in frame.columns if d != measure]
        for r in range(len(frame)):
            lab = {d: str(frame[d].iloc[r]) for d in tdims}
            row = np.array([all(lab[d] in ("total", key[dims.index(d)]) for d in tdims) for key in joint], float)
            rows.append(row)
            flag = out["flag"].iloc[r]
            if not flag:
                eq_rows.append(row)
                eq_rhs.append(float(out[measure].iloc[r]))
            elif flag == "primary":
                ub_rows += [row, -row]
                ub_rhs += [threshold - 1.0, -1.0]
                withheld.append((name, r, row))
            else:
                ub_rows.append(-row)
                ub_rhs.append(-float(threshold))
                withheld.append((name, r, row))
    bounds = {}
    for name, r, row in withheld:
        ends = []
        for sign in (1.0, -1.0):
            res = linprog(sign * row, A_ub=np.array(ub_rows), b_ub=np.array(ub_rhs),
                          A_eq=np.array(eq_rows) if eq_rows else None, b_eq=np.array(eq_rhs) if eq_rows else None,
                          bounds=(0, None), method="highs")
            assert res.status in (0, 3), res.message
            ends.append(np.inf if res.status == 3 else sign * res.fun)
        bounds[(name, r)] = (ends[0], ends[1])
    return bounds
