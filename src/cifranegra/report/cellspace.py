"""The linear structure of tables released together (for disclosure control).

Every published count is a sum of cells of one unknown population table cross-classified by *all* the
dimensions of the release. An attacker who reads every table knows exactly that, plus non-negativity.
That joint table can be huge (the capture-pattern table times year × state × sex × ...), so it is
represented by the cells of the maximal cliques of a triangulated graph of the dimensions (two
dimensions are joined when some table cross-classifies them), tied together by equal margins on the
separators of a junction tree. For such a decomposable cover, clique tables that are non-negative and
agree on their separators are exactly the margins of some non-negative joint table (Vorob'ev 1962;
Lauritzen 1996, ch. 3), so the linear system and the attacker's linear programmes over the clique
cells are those over the full joint table, at a fraction of its size.

This module only reads tables and builds that structure; :mod:`.suppression` and :mod:`.audit` use it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cifranegra.errors import InputError

TOTAL = "total"
"""The value of a dimension on a margin row."""

FLAG = "flag"
"""The column that says why a value is withheld."""

MAX_CLIQUE_CELLS = 200_000
"""Largest joint table (over one clique of dimensions) the release may imply."""


@dataclass(frozen=True)
class Cell:
    """One published cell: its table, its row position, its dimension values and its count."""

    table: str
    row: int
    labels: tuple[tuple[str, str], ...]  # (dimension, value or "total") in the table's column order
    value: int

    @property
    def key(self) -> frozenset[tuple[str, str]]:
        """The cell's meaning across tables: its non-total (dimension, value) pairs."""
        return frozenset((d, v) for d, v in self.labels if v != TOTAL)

    @property
    def totals(self) -> int:
        return sum(v == TOTAL for _, v in self.labels)


@dataclass(frozen=True)
class _Table:
    name: str
    dims: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    labels: list[tuple[str, ...]]  # per row, dimension values as text
    values: np.ndarray  # per row
    inner: np.ndarray  # the inner cells as an array over dims (levels order)


@dataclass
class CellSpace:
    """Published cells as linear functionals of non-negative unknowns (clique cells).

    ``matrix[i]`` is cell ``i`` as a 0/1 row over the unknowns; ``links`` are rows that are zero for
    every consistent population (equal margins between cliques). Unknowns that a published zero forces
    to zero (by non-negativity) are dropped from both.
    """

    cells: list[Cell]
    matrix: np.ndarray
    links: np.ndarray
    dims: dict[str, tuple[str, ...]]
    cliques: list[tuple[str, ...]]

    @property
    def values(self) -> np.ndarray:
        return np.array([c.value for c in self.cells], dtype=np.int64)

    @property
    def n_unknowns(self) -> int:
        return int(self.matrix.shape[1])


def read_tables(tables: Mapping[str, pd.DataFrame], measure: str) -> CellSpace:
    """Check the tables of one release and build their :class:`CellSpace` (InputError if they cannot be used)."""
    if not tables:
        raise InputError("no tables to protect: pass at least one table (name → data frame)")
    parsed = [_read_table(str(name), frame, measure) for name, frame in tables.items()]
    dims = _shared_levels(parsed)
    _check_agreement(parsed, dims)
    cliques = _cliques([t.dims for t in parsed], dims)
    return _build(parsed, dims, cliques)


# ---------------------------------------------------------------------------------------------- one table
def _read_table(name: str, frame: pd.DataFrame, measure: str) -> _Table:
    where = f"table {name!r}"
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{where} is not a data frame (got {type(frame).__name__})")
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise InputError(f"{where}: a column name appears twice; give every dimension its own column")
    if measure not in columns:
        raise InputError(f"{where} has no {measure!r} column with the counts; name the counts column {measure!r}")
    if FLAG in columns:
        raise InputError(f"{where} already has a {FLAG!r} column; pass the unprotected table, without flags")
    dims = tuple(c for c in columns if c != measure)
    if not dims:
        raise InputError(f"{where} has no dimension columns besides {measure!r}")
    values = _counts(where, frame.iloc[:, columns.index(measure)], measure)
    labels: list[tuple[str, ...]] = []
    for i, row in enumerate(frame.loc[:, [c for c in frame.columns if str(c) != measure]].itertuples(index=False)):
        texts = []
        for dim, value in zip(dims, row, strict=True):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                raise InputError(
                    f"{where}, row {i + 1}, column {dim!r}: empty; write the category, or {TOTAL!r} on a margin row"
                )
            texts.append(str(value).strip())
        labels.append(tuple(texts))
    if len(set(labels)) != len(labels):
        dup = next(i for i, lab in enumerate(labels) if labels.index(lab) != i)
        raise InputError(f"{where}, row {dup + 1}: the same combination of {', '.join(dims)} as an earlier row; "
                         "keep one row per cell")
    levels: dict[str, tuple[str, ...]] = {}
    for j, dim in enumerate(dims):
        seen = dict.fromkeys(lab[j] for lab in labels if lab[j] != TOTAL)
        if not seen:
            raise InputError(f"{where}, column {dim!r}: every row is {TOTAL!r}; a dimension needs its categories")
        levels[dim] = tuple(seen)
    inner = _inner(where, dims, levels, labels, values)
    _check_margins(where, dims, levels, labels, values, inner)
    return _Table(name, dims, levels, labels, values, inner)


def _counts(where: str, column: pd.Series, measure: str) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce")
    for i, (raw, num) in enumerate(zip(column, numbers, strict=True)):
        ok = pd.notna(num) and math.isfinite(float(num)) and float(num) >= 0 and float(num).is_integer()
        if not ok or isinstance(raw, bool):
            raise InputError(f"{where}, row {i + 1}, column {measure!r}: not a count (a whole number of at least 0); "
                             "counts must be complete before disclosure control")
    return numbers.to_numpy(dtype=np.float64).astype(np.int64)


def _inner(where: str, dims: tuple[str, ...], levels: dict[str, tuple[str, ...]], labels: list[tuple[str, ...]],
           values: np.ndarray) -> np.ndarray:
    shape = tuple(len(levels[d]) for d in dims)
    inner = np.zeros(shape, dtype=np.int64)
    seen = np.zeros(shape, dtype=bool)
    index = {d: {v: k for k, v in enumerate(levels[d])} for d in dims}
    for lab, value in zip(labels, values, strict=True):
        if TOTAL not in lab:
            pos = tuple(index[d][v] for d, v in zip(dims, lab, strict=True))
            inner[pos] = value
            seen[pos] = True
    if not seen.all():
        missing = np.argwhere(~seen)[0]
        cell = ", ".join(f"{d}={levels[d][k]}" for d, k in zip(dims, missing, strict=True))
        raise InputError(f"{where}: no row for {cell}; every combination of the categories needs a row "
                         "(write 0 for an empty cell)")
    return inner


def _check_margins(where: str, dims: tuple[str, ...], levels: dict[str, tuple[str, ...]],
                   labels: list[tuple[str, ...]], values: np.ndarray, inner: np.ndarray) -> None:
    index = {d: {v: k for k, v in enumerate(levels[d])} for d in dims}
    for i, (lab, value) in enumerate(zip(labels, values, strict=True)):
        if TOTAL in lab:
            sl = tuple(slice(None) if v == TOTAL else index[d][v] for d, v in zip(dims, lab, strict=True))
            if int(inner[sl].sum()) != int(value):
                shown = ", ".join(f"{d}={v}" for d, v in zip(dims, lab, strict=True))
                raise InputError(f"{where}, row {i + 1} ({shown}): the margin does not equal the sum of its cells; "
                                 "recompute the margins from the same data")


# ---------------------------------------------------------------------------------------------- across tables
def _shared_levels(tables: Sequence[_Table]) -> dict[str, tuple[str, ...]]:
    dims: dict[str, tuple[str, ...]] = {}
    first: dict[str, str] = {}
    for t in tables:
        for d in t.dims:
            if d not in dims:
                dims[d], first[d] = t.levels[d], t.name
            elif set(dims[d]) != set(t.levels[d]):
                extra = sorted(set(dims[d]) ^ set(t.levels[d]))[0]
                raise InputError(
                    f"tables {first[d]!r} and {t.name!r} have different categories of {d!r} ({extra!r} is in only "
                    f"one); tables released together must count the same people over the same categories"
                )
    return dims


def _margin(t: _Table, over: Sequence[str], dims: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    """The table's inner cells summed to ``over`` (in ``over`` order, levels in release order)."""
    drop = tuple(i for i, d in enumerate(t.dims) if d not in over)
    kept = [d for d in t.dims if d in over]
    arr = t.inner.sum(axis=drop) if drop else t.inner
    if kept:
        perms = [[t.levels[d].index(v) for v in dims[d]] for d in kept]
        arr = arr[np.ix_(*perms)]
        arr = np.transpose(arr, [kept.index(d) for d in over])
    return np.asarray(arr)


def _check_agreement(tables: Sequence[_Table], dims: Mapping[str, tuple[str, ...]]) -> None:
    for a, b in itertools.combinations(tables, 2):
        common = [d for d in a.dims if d in b.dims]
        if not np.array_equal(_margin(a, common, dims), _margin(b, common, dims)):
            over = ", ".join(common) if common else "the grand total"
            raise InputError(f"tables {a.name!r} and {b.name!r} disagree on their common margin ({over}); tables "
                             "released together must count the same people")


def _cliques(table_dims: Sequence[tuple[str, ...]], dims: Mapping[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Maximal cliques of the dimension graph triangulated by greedy minimum-fill elimination."""
    order = list(dims)
    graph: dict[str, set[str]] = {d: set() for d in order}
    for td in table_dims:
        for a, b in itertools.combinations(td, 2):
            graph[a].add(b)
            graph[b].add(a)
    found: list[set[str]] = []
    remaining = set(order)
    while remaining:
        def fill(v: str) -> int:
            nb = graph[v] & remaining
            return sum(1 for a, b in itertools.combinations(sorted(nb), 2) if b not in graph[a])

        v = min(sorted(remaining, key=order.index), key=fill)
        nb = graph[v] & remaining
        for a, b in itertools.combinations(nb, 2):
            graph[a].add(b)
            graph[b].add(a)
        found.append({v, *nb})
        remaining.discard(v)
    maximal = [c for i, c in enumerate(found) if not any(c < o or (c == o and j < i) for j, o in enumerate(found))]
    cliques = [tuple(d for d in order if d in c) for c in maximal]
    for c in cliques:
        size = math.prod(len(dims[d]) for d in c)
        if size > MAX_CLIQUE_CELLS:
            raise InputError(
                f"the tables released together cross-classify {', '.join(c)} ({size:,} combinations, more than "
                f"{MAX_CLIQUE_CELLS:,}); release fewer cross-classifications or coarser categories"
            )
    return cliques


def _junction_edges(cliques: Sequence[tuple[str, ...]]) -> list[tuple[int, int]]:
    """A maximum-weight spanning tree on separator sizes (Kruskal); zero-weight edges join the grand totals."""
    pairs = sorted(itertools.combinations(range(len(cliques)), 2),
                   key=lambda p: (-len(set(cliques[p[0]]) & set(cliques[p[1]])), p))
    parent = list(range(len(cliques)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges = []
    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
            edges.append((a, b))
    return edges


def _selector(clique: tuple[str, ...], dims: Mapping[str, tuple[str, ...]], fixed: Mapping[str, int]) -> np.ndarray:
    """Flat indices of the clique cells with the given (dimension → level index) values."""
    shape = tuple(len(dims[d]) for d in clique)
    sl = tuple(fixed.get(d, slice(None)) for d in clique)
    return np.asarray(np.arange(math.prod(shape)).reshape(shape)[sl]).ravel()


def _build(tables: Sequence[_Table], dims: Mapping[str, tuple[str, ...]], cliques: list[tuple[str, ...]]) -> CellSpace:
    offsets = np.cumsum([0] + [math.prod(len(dims[d]) for d in c) for c in cliques])
    n = int(offsets[-1])
    index = {d: {v: k for k, v in enumerate(levels)} for d, levels in dims.items()}
    cells: list[Cell] = []
    rows: list[np.ndarray] = []
    for t in tables:
        home = next(i for i, c in enumerate(cliques) if set(t.dims) <= set(c))
        for r, (lab, value) in enumerate(zip(t.labels, t.values, strict=True)):
            fixed = {d: index[d][v] for d, v in zip(t.dims, lab, strict=True) if v != TOTAL}
            row = np.zeros(n)
            row[offsets[home] + _selector(cliques[home], dims, fixed)] = 1.0
            rows.append(row)
            cells.append(Cell(t.name, r, tuple(zip(t.dims, lab, strict=True)), int(value)))
    links: list[np.ndarray] = []
    for a, b in _junction_edges(cliques):
        sep = [d for d in cliques[a] if d in cliques[b]]
        for combo in itertools.product(*(range(len(dims[d])) for d in sep)):
            fixed = dict(zip(sep, combo, strict=True))
            row = np.zeros(n)
            row[offsets[a] + _selector(cliques[a], dims, fixed)] = 1.0
            row[offsets[b] + _selector(cliques[b], dims, fixed)] = -1.0
            links.append(row)
    matrix = np.array(rows)
    link_matrix = np.array(links).reshape(len(links), n)
    keep = _nonzero_unknowns(matrix, link_matrix, np.array([c.value for c in cells]))
    return CellSpace(cells, matrix[:, keep], link_matrix[:, keep], dict(dims), cliques)


def _nonzero_unknowns(matrix: np.ndarray, links: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Unknowns not forced to zero by a published zero (propagated through equal margins)."""
    zero = (matrix[values == 0] > 0).any(axis=0)
    changed = True
    while changed:
        changed = False
        for row in links:
            pos, neg = row > 0, row < 0
            if zero[pos].all() and not zero[neg].all():
                zero |= neg
                changed = True
            elif zero[neg].all() and not zero[pos].all():
                zero |= pos
                changed = True
    keep: np.ndarray = ~zero
    return keep
