"""Secondary suppression by Gaussian elimination (the idea of Langsrud 2024, Statistics Norway).

Cells are visited in order of preference for publication. The span of what is already published
(plus the equal-margin relations, which are known to be zero) is kept in reduced echelon form; a
withheld cell is exactly recomputable iff its reduced row is zero. A candidate whose publication
would reduce some withheld cell's row to zero is withheld instead (secondary suppression); any other
candidate is published and becomes a pivot. The result: no withheld cell is a linear combination of
published cells, whatever combination of tables, differences or equation solving an attacker uses.
Non-negativity and interval width are left to the linear-programming audit (:mod:`.audit`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_TOL = 1e-9


def gauss_suppress(matrix: np.ndarray, links: np.ndarray, withheld: Sequence[int], order: Sequence[int]) -> list[int]:
    """Cells of ``order`` (candidates, most wanted in publication first) that must also be withheld.

    ``matrix`` rows are cells over the unknowns, ``links`` rows are relations known to be zero,
    ``withheld`` are the cells already withheld (primary). Returns the secondary suppressions in the
    order they were chosen.
    """
    n_links = links.shape[0]
    work = np.vstack([links, matrix[list(withheld)], matrix[list(order)]]).astype(np.float64)
    first_withheld, first_candidate = n_links, n_links + len(withheld)
    hidden = list(range(first_withheld, first_candidate))  # rows of ``work`` that are withheld
    chosen: list[int] = []
    for i in range(work.shape[0]):
        if first_withheld <= i < first_candidate:
            continue
        row = work[i]
        pivot = int(np.argmax(np.abs(row)))
        if abs(row[pivot]) <= _TOL:
            continue  # already determined by what is published: publishing it adds nothing
        if i >= first_candidate and _would_reveal(work[hidden], row, pivot):
            hidden.append(i)
            chosen.append(int(order[i - first_candidate]))
            continue
        _eliminate(work, np.concatenate([np.asarray(hidden, dtype=np.int64), np.arange(i + 1, work.shape[0])]),
                   row, pivot)
    return chosen


def _would_reveal(hidden_rows: np.ndarray, row: np.ndarray, pivot: int) -> bool:
    """Whether some withheld row is a multiple of ``row`` (so publishing ``row`` pins it)."""
    if hidden_rows.shape[0] == 0:
        return False
    factor = hidden_rows[:, pivot] / row[pivot]
    candidates = np.abs(factor) > _TOL
    if not candidates.any():
        return False
    rest = hidden_rows[candidates] - np.outer(factor[candidates], row)
    return bool((np.abs(rest).max(axis=1) <= _TOL * np.maximum(1.0, np.abs(hidden_rows[candidates]).max(axis=1)))
                .any())


def _eliminate(work: np.ndarray, rows: np.ndarray, row: np.ndarray, pivot: int) -> None:
    """Remove ``row``'s pivot coordinate from ``work[rows]`` (only rows that have it are touched)."""
    touched = rows[np.abs(work[rows, pivot]) > _TOL]
    if touched.size:
        work[touched] -= np.outer(work[touched, pivot] / row[pivot], row)
        work[touched, pivot] = 0.0
