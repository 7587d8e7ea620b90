"""Hierarchical log-linear models on K lists: notation, terms, design, enumeration.

A term is a set of lists, stored as a bit mask (bit ``i`` = list ``i``); the empty term (mask 0) is
the intercept. A hierarchical model is a set of terms closed under taking subsets, always containing
every main effect; it is written by its generating class (its maximal terms) in the notation of
MultipleSystemsEstimation (Silverman, Chan & Vincent 2024): lists numbered from 1 in column order,
``"[123,14,34]"`` = the three-way term on lists 1, 2, 3 with its sub-terms, plus 1×4 and 3×4.
With ten or more lists, numbers inside a term are separated by dots (``"[1.10,3]"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import numpy as np

from cifranegra.errors import InputError


def popcount(x: int) -> int:
    return bin(x).count("1")


def _members(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if (mask >> i) & 1]


def _subsets(mask: int) -> Iterator[int]:
    """All non-empty subsets of a mask (including itself)."""
    sub = mask
    while sub:
        yield sub
        sub = (sub - 1) & mask


@dataclass(frozen=True)
class HierarchicalModel:
    """A hierarchical log-linear model: the set of its interaction terms (main effects implied)."""

    n_lists: int
    terms: frozenset[int]  # every non-empty term, main effects included

    @classmethod
    def from_generators(cls, n_lists: int, generators: Iterable[int]) -> HierarchicalModel:
        full: set[int] = {1 << i for i in range(n_lists)}
        for g in generators:
            if g <= 0 or g >= (1 << n_lists):
                raise InputError(f"term {g} does not fit {n_lists} lists")
            full.update(_subsets(g))
        return cls(n_lists, frozenset(full))

    @classmethod
    def independence(cls, n_lists: int) -> HierarchicalModel:
        return cls.from_generators(n_lists, [])

    @classmethod
    def saturated_minus_top(cls, n_lists: int) -> HierarchicalModel:
        """All (K−1)-way terms: the richest model estimable from an incomplete 2^K table."""
        top = (1 << n_lists) - 1
        return cls.from_generators(n_lists, [top & ~(1 << i) for i in range(n_lists)])

    @classmethod
    def parse(cls, text: str, lists: Sequence[str]) -> HierarchicalModel:
        """Read ``"[123,14,34]"`` (numbers from 1), ``"[1.10,3]"``, or names ``"[LA:NG,PF]"``."""
        k = len(lists)
        s = text.strip()
        if s.lower() in {"main", "independence", "[]"}:
            return cls.independence(k)
        if not (s.startswith("[") and s.endswith("]")):
            raise InputError(f'model {text!r}: write it as a generating class in brackets, e.g. "[12,13,4]"')
        body = s[1:-1].strip()
        gens: list[int] = []
        if not body:
            return cls.independence(k)
        for raw in body.split(","):
            tok = raw.strip()
            if not tok:
                raise InputError(f"model {text!r}: empty term")
            if ":" in tok or (not tok.replace(".", "").isdigit()):
                parts = [p.strip() for p in re.split(r"[:*]", tok)]
                idx = []
                for p in parts:
                    if p not in lists:
                        raise InputError(f"model {text!r}: unknown list {p!r}; lists are {list(lists)}")
                    idx.append(lists.index(p))
            elif "." in tok:
                idx = [int(p) - 1 for p in tok.split(".")]
            elif k >= 10:
                idx = [int(tok) - 1]  # one list; terms of several lists are written with dots
            else:
                idx = [int(ch) - 1 for ch in tok]
            for i in idx:
                if not 0 <= i < k:
                    hint = ' (with 10 or more lists, write a term as "1.10")' if k >= 10 else ""
                    raise InputError(f"model {text!r}: list number {i + 1} is out of range 1..{k}{hint}")
            if len(set(idx)) != len(idx):
                raise InputError(f"model {text!r}: term {tok!r} repeats a list")
            gens.append(sum(1 << i for i in idx))
        return cls.from_generators(k, gens)

    # -- views
    @cached_property
    def generators(self) -> tuple[int, ...]:
        """Maximal terms, ordered as MultipleSystemsEstimation prints them (largest first)."""
        maximal = [t for t in self.terms if not any(t != u and (t & u) == t for u in self.terms)]
        return tuple(sorted(maximal, key=lambda t: (-popcount(t), _members(t))))

    @cached_property
    def columns(self) -> tuple[int, ...]:
        """Design columns: intercept (0) then terms by order and position."""
        return (0, *sorted(self.terms, key=lambda t: (popcount(t), _members(t))))

    @property
    def n_parameters(self) -> int:
        return len(self.terms) + 1

    @property
    def order(self) -> int:
        return max(popcount(t) for t in self.terms)

    @property
    def interactions(self) -> tuple[int, ...]:
        return tuple(t for t in self.columns if popcount(t) >= 2)

    def notation(self, lists: Sequence[str] | None = None) -> str:
        """Generating class in MultipleSystemsEstimation's notation, e.g. ``"[123,14,34]"``."""
        sep = "." if self.n_lists >= 10 else ""
        parts = [sep.join(str(i + 1) for i in _members(g)) for g in self.generators]
        return "[" + ",".join(parts) + "]"

    def term_names(self, lists: Sequence[str]) -> list[str]:
        return ["(Intercept)" if t == 0 else ":".join(lists[i] for i in _members(t)) for t in self.columns]

    def with_term(self, term: int) -> HierarchicalModel:
        return HierarchicalModel.from_generators(self.n_lists, [*self.generators, term])

    def __str__(self) -> str:
        return self.notation()


def design_matrix(n_lists: int, columns: Sequence[int], include_zero_cell: bool = False) -> np.ndarray:
    """0/1 design: rows = cells (masks 1..2^K−1, or 0..2^K−1), columns = terms; 1 if term ⊆ cell."""
    start = 0 if include_zero_cell else 1
    cells = np.arange(start, 2**n_lists)[:, None]
    cols = np.asarray(columns)[None, :]
    return ((cells & cols) == cols).astype(np.float64)


def enumerate_models(n_lists: int, max_order: int, *, limit: int = 250_000) -> list[HierarchicalModel]:
    """Every hierarchical model (all main effects) with interactions of order ≤ ``max_order``.

    Counts: 3 lists, order 2: 8; 4 lists, order 3: 113; 5 lists, order 3: 6,212 (order 4: 6,893); 6
    lists, order 2: 32,768 (as Rcapture's closedpMS.t and MultipleSystemsEstimation's catalogue).
    """
    for what, value in (("n_lists", n_lists), ("max_order", max_order)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InputError(f"{what} must be a whole number, not {value!r}")
    if max_order < 1:
        raise InputError("max_order must be at least 1")
    max_order = min(max_order, n_lists - 1) if n_lists > 1 else 1
    by_size = {s: [sum(1 << i for i in c) for c in combinations(range(n_lists), s)] for s in range(2, max_order + 1)}
    out: list[frozenset[int]] = []
    mains = frozenset(1 << i for i in range(n_lists))

    def rec(size: int, current: frozenset[int]) -> None:
        if size > max_order:
            out.append(current)
            if len(out) > limit:
                raise InputError(
                    f"more than {limit:,} hierarchical models on {n_lists} lists up to order {max_order}; "
                    "lower --max-order or use --select stepwise"
                )
            return
        cands = [t for t in by_size[size] if size == 2 or all((t & ~(1 << i)) in current for i in _members(t))]
        for r in range(len(cands) + 1):
            for chosen in combinations(cands, r):
                rec(size + 1, current | frozenset(chosen))

    rec(2, mains)
    return [HierarchicalModel(n_lists, m) for m in out]


def count_hierarchical(
    n_lists: int, max_order: int, *, cap: int | None = None, budget: int = 100_000
) -> tuple[int, bool]:
    """How many hierarchical models :func:`enumerate_models` would list, without listing them.

    Returns ``(count, exact)``. Terms are chosen level by level (two-list terms, then three-list terms
    whose two-list sub-terms are all chosen, …); the last level is free among its candidates, so it
    counts 2^candidates at once, and order 2 is 2^(K choose 2). The count stops early, with ``exact``
    False and ``count`` a lower bound, once it exceeds ``cap`` or would visit more than ``budget``
    partial choices: enough to apply a limit in milliseconds. Counts: 5 lists up to order 3: 6,212
    (order 4: 6,893); 6 lists up to order 2: 32,768 (order 3: 3,702,013); 7 lists up to order 2:
    2,097,152.
    """
    max_order = max(1, min(max_order, n_lists - 1)) if n_lists > 1 else 1
    if max_order <= 1:
        return 1, True
    if max_order == 2:
        return 2 ** (n_lists * (n_lists - 1) // 2), True
    lower, exact = count_hierarchical(n_lists, max_order - 1, cap=cap, budget=budget)
    if not exact or lower > budget or (cap is not None and lower > cap):
        return lower, False  # every model of a lower order is one of this order too
    by_size = {s: [sum(1 << i for i in c) for c in combinations(range(n_lists), s)] for s in range(2, max_order + 1)}
    total = 0
    visited = 0

    def rec(size: int, current: frozenset[int]) -> bool:
        nonlocal total, visited
        cands = [t for t in by_size[size] if size == 2 or all((t & ~(1 << i)) in current for i in _members(t))]
        if size == max_order:
            total += 2 ** len(cands)
            return cap is None or total <= cap
        for r in range(len(cands), -1, -1):  # the largest choices first: they count the most
            for chosen in combinations(cands, r):
                visited += 1
                if visited > budget or not rec(size + 1, current | frozenset(chosen)):
                    return False
        return True

    if rec(2, frozenset()):
        return total, True
    return max(lower, total), False


@dataclass(frozen=True, eq=False)
class ModelSpace:
    """A candidate set of hierarchical models as a boolean matrix over shared design columns.

    Row ``i`` marks the terms of model ``i`` among ``columns`` (intercept first). Model selection
    works on this matrix; :class:`HierarchicalModel` objects are built only for the rows shown.
    """

    n_lists: int
    columns: tuple[int, ...]
    matrix: np.ndarray  # (n_models, n_columns) bool; column 0 (intercept) always True

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def model(self, i: int) -> HierarchicalModel:
        row = self.matrix[i]
        terms = frozenset(t for t, on in zip(self.columns, row, strict=True) if on and t)
        return HierarchicalModel(self.n_lists, terms)

    @classmethod
    def from_models(cls, models: Sequence[HierarchicalModel]) -> ModelSpace:
        k = models[0].n_lists
        order = max(m.order for m in models)
        cols = master_columns(k, order)
        index = {t: j for j, t in enumerate(cols)}
        mat = np.zeros((len(models), len(cols)), dtype=bool)
        mat[:, 0] = True
        for i, m in enumerate(models):
            mat[i, [index[t] for t in m.terms]] = True
        return cls(k, cols, mat)

    @classmethod
    def all_hierarchical(cls, n_lists: int, max_order: int, *, limit: int = 250_000) -> ModelSpace:
        """Every hierarchical model up to ``max_order`` (see :func:`enumerate_models`)."""
        max_order = max(1, min(max_order, n_lists - 1))
        cols = master_columns(n_lists, max_order)
        index = {t: j for j, t in enumerate(cols)}
        base = sum(1 << j for j, t in enumerate(cols) if popcount(t) <= 1)
        by_size = {s: [t for t in cols if popcount(t) == s] for s in range(2, max_order + 1)}
        rows: list[int] = []

        def rec(size: int, current: int) -> None:
            if size > max_order:
                rows.append(current)
                if len(rows) > limit:
                    raise InputError(
                        f"more than {limit:,} hierarchical models on {n_lists} lists up to order "
                        f"{max_order}; lower --max-order or use --select stepwise"
                    )
                return
            cands = [
                t for t in by_size[size] if size == 2 or all((current >> index[t & ~(1 << i)]) & 1 for i in _members(t))
            ]
            for r in range(len(cands) + 1):
                for chosen in combinations(cands, r):
                    rec(size + 1, current | sum(1 << index[t] for t in chosen))

        rec(2, base)
        nbytes = (len(cols) + 7) // 8
        raw = np.frombuffer(b"".join(r.to_bytes(nbytes, "little") for r in rows), dtype=np.uint8)
        mat = np.unpackbits(raw.reshape(len(rows), nbytes), axis=1, bitorder="little")[:, : len(cols)].astype(bool)
        return cls(n_lists, cols, mat)


def master_columns(n_lists: int, max_order: int) -> tuple[int, ...]:
    """All terms up to ``max_order``: intercept first, then by order and position."""
    cols: list[int] = [0]
    for s in range(1, max_order + 1):
        for c in combinations(range(n_lists), s):
            cols.append(sum(1 << i for i in c))
    return tuple(cols)


def default_max_order(n_lists: int) -> int:
    """As MultipleSystemsEstimation: 2 lists → 1, 3 → 2, 4–5 → 3, 6 → 2 (and 2 beyond)."""
    return {2: 1, 3: 2, 4: 3, 5: 3}.get(n_lists, 2)


def default_ntop(n_lists: int) -> int | None:
    """Models kept for the bootstrap (Silverman, Chan & Vincent 2024): all for 2–3 lists, 20 for 4,
    100 for 5–6. ``None`` means all."""
    if n_lists <= 3:
        return None
    return 20 if n_lists == 4 else 100
