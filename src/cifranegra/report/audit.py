"""The attacker audit: how far can each withheld cell be pinned down from what is published?

For every withheld cell, two linear programmes (scipy's HiGHS) give the smallest and largest value it
can take over all non-negative populations that reproduce every published cell, the equal margins
between tables, and what the flags say: a primary cell is between 1 and threshold − 1, a secondary
cell at least the threshold (zeros are never withheld). Integers are relaxed to reals, then the bounds
are rounded inwards to whole numbers (what an integer attacker gets at least).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from cifranegra.errors import InputError


@dataclass(frozen=True)
class Bounds:
    """An attacker's range for one withheld cell; ``binding`` are published cells that limit it."""

    lower: int
    upper: int | None  # None: unbounded above
    binding: tuple[int, ...]

    @property
    def width(self) -> float:
        return math.inf if self.upper is None else float(self.upper - self.lower)


def attacker_bounds(matrix: np.ndarray, links: np.ndarray, values: np.ndarray, published: Sequence[int],
                    flags: dict[int, tuple[float, float]], cells: Sequence[int]) -> dict[int, Bounds]:
    """Bounds for each of ``cells`` given the published cells and the flags' ranges ``flags`` (cell → (lo, hi))."""
    published = list(published)
    a_eq = sparse.vstack([sparse.csr_matrix(links), sparse.csr_matrix(matrix[published])]).tocsr()
    b_eq = np.concatenate([np.zeros(links.shape[0]), values[published].astype(np.float64)])
    ub_rows, ub_rhs = [], []
    for cell, (lo, hi) in flags.items():
        ub_rows.append(-matrix[cell])
        ub_rhs.append(-lo)
        if math.isfinite(hi):
            ub_rows.append(matrix[cell])
            ub_rhs.append(hi)
    a_ub = sparse.csr_matrix(np.array(ub_rows).reshape(len(ub_rows), matrix.shape[1]))
    b_ub = np.array(ub_rhs, dtype=np.float64)
    out: dict[int, Bounds] = {}
    for cell in cells:
        low, low_dual = _optimise(matrix[cell], a_ub, b_ub, a_eq, b_eq)
        high, high_dual = _optimise(-matrix[cell], a_ub, b_ub, a_eq, b_eq)
        n_links = links.shape[0]
        duals = np.abs(low_dual[n_links:]) + np.abs(high_dual[n_links:])
        binding = tuple(published[j] for j in np.flatnonzero(duals > 1e-9))
        upper = None if high is None else math.floor(-high + 1e-6)
        out[cell] = Bounds(math.ceil((low or 0.0) - 1e-6), upper, binding)
    return out


def _optimise(c: np.ndarray, a_ub: sparse.csr_matrix, b_ub: np.ndarray, a_eq: sparse.csr_matrix,
              b_eq: np.ndarray) -> tuple[float | None, np.ndarray]:
    """The minimum of ``c @ x`` (None when unbounded) and the equality constraints' marginals."""
    res = linprog(c, A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
                  A_eq=a_eq if a_eq.shape[0] else None, b_eq=b_eq if a_eq.shape[0] else None,
                  bounds=(0, None), method="highs")
    if res.status == 3:
        return None, np.zeros(a_eq.shape[0])
    if res.status != 0:
        raise InputError(
            "the disclosure audit found no population consistent with the published tables "
            f"(linear programme status {res.status}: {res.message}); the tables do not add up"
        )
    marginals = res.eqlin.marginals if a_eq.shape[0] else np.zeros(0)
    return float(res.fun), np.asarray(marginals)
