"""Decomposable (chordal) graphs on K labelled lists, for decomposable-graph model averaging.

Every undirected graph on K vertices is one of the 2^(K(K-1)/2) edge sets; the decomposable ones are
those with a perfect elimination ordering (repeatedly remove a vertex whose neighbours form a
clique). For each decomposable graph we record that ordering as ``K`` (family, parents) pairs of
list subsets (bit masks): eliminating vertex ``v`` whose remaining neighbours are ``P`` contributes
the marginal table of ``P ∪ {v}`` over that of ``P``. The product telescopes to the
clique/separator formula of Dawid & Lauritzen (1993), which is how Madigan & York (1997) and R
``dga`` write the hyper-Dirichlet marginal likelihood, so the two are the same number; the (family,
parents) form needs no junction tree.

Counts (OEIS A058862): 3 lists 8 graphs, 4 → 61, 5 → 822, 6 → 18,154, 7 → 617,675. Enumerating 7
lists tests 2^21 edge sets (about a second, compiled, cached per process); 8 lists would mean 2^28
edge sets and 30.9 million graphs, which is why :data:`MAX_LISTS` is 7.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from cifranegra.errors import InputError

MAX_LISTS = 7
GRAPH_COUNTS = {1: 1, 2: 2, 3: 8, 4: 61, 5: 822, 6: 18154, 7: 617675}


def _enumerate_body(k: int, n_edges: int, edge_u: np.ndarray, edge_v: np.ndarray, cap: int):  # type: ignore[no-untyped-def]
    fam = np.zeros((cap, k), dtype=np.int16)
    par = np.zeros((cap, k), dtype=np.int16)
    edges = np.zeros(cap, dtype=np.int32)
    adj = np.zeros(k, dtype=np.int64)
    count = 0
    for emask in range(1 << n_edges):
        for v in range(k):
            adj[v] = 0
        for e in range(n_edges):
            if (emask >> e) & 1:
                adj[edge_u[e]] |= 1 << edge_v[e]
                adj[edge_v[e]] |= 1 << edge_u[e]
        remaining = (1 << k) - 1
        ok = True
        step = 0
        while remaining != 0:
            found = -1
            for v in range(k):
                if (remaining >> v) & 1:
                    nb = adj[v] & remaining
                    # simplicial: every neighbour is adjacent to every other neighbour
                    simp = True
                    for u in range(k):
                        if (nb >> u) & 1 and (nb & ~(1 << u)) & ~adj[u] != 0:
                            simp = False
                            break
                    if simp:
                        found = v
                        break
            if found < 0:
                ok = False
                break
            nb = adj[found] & remaining
            fam[count, step] = nb | (1 << found)
            par[count, step] = nb
            step += 1
            remaining &= ~(1 << found)
        if ok:
            edges[count] = emask
            count += 1
    return fam[:count], par[:count], edges[:count]


@lru_cache(maxsize=1)
def _compiled():  # type: ignore[no-untyped-def]
    import numba

    return numba.njit(cache=True)(_enumerate_body)


def _enumerate(k: int, n_edges: int, edge_u: np.ndarray, edge_v: np.ndarray, cap: int):  # type: ignore[no-untyped-def]
    """Every decomposable graph by simplicial elimination: plain Python up to 5 lists (1,024 edge
    sets, milliseconds, and no numba import), compiled (numba) from 6 lists."""
    run = _enumerate_body if k <= 5 else _compiled()
    return run(k, n_edges, edge_u, edge_v, cap)


def _edge_list(k: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)


@lru_cache(maxsize=8)
def decomposable_graphs(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All decomposable graphs on ``k`` lists: ``(families, parents, edge_masks)``.

    ``families[g, i]`` and ``parents[g, i]`` are list-subset bit masks (bit ``j`` = list ``j``) of
    the
    ``i``-th elimination step of graph ``g``; ``edge_masks[g]`` has bit ``e`` set for the ``e``-th
    pair in ``(0,1), (0,2), ..., (k-2,k-1)`` order. Arrays are read-only and cached.
    """
    if k < 1 or k > MAX_LISTS:
        raise InputError(
            f"decomposable-graph enumeration supports 1 to {MAX_LISTS} lists, got {k}; with more "
            "lists "
            "use method 'lcmcr' (latent classes) or log-linear stepwise selection, or merge lists"
        )
    eu, ev = _edge_list(k)
    fam, par, edges = _enumerate(k, len(eu), eu, ev, GRAPH_COUNTS[k])
    for a in (fam, par, edges):
        a.setflags(write=False)
    return fam, par, edges


def edge_names(edge_mask: int, lists: tuple[str, ...] | list[str]) -> list[str]:
    """The edges of a graph as ``"A-B"`` strings."""
    k = len(lists)
    out = []
    e = 0
    for i in range(k):
        for j in range(i + 1, k):
            if (int(edge_mask) >> e) & 1:
                out.append(f"{lists[i]}-{lists[j]}")
            e += 1
    return out


def cliques(edge_mask: int, k: int) -> list[frozenset[int]]:
    """Maximal cliques of a decomposable graph given by its edge mask (list indices)."""
    adj = [0] * k
    e = 0
    for i in range(k):
        for j in range(i + 1, k):
            if (int(edge_mask) >> e) & 1:
                adj[i] |= 1 << j
                adj[j] |= 1 << i
            e += 1
    found: list[int] = []
    remaining = (1 << k) - 1
    while remaining:
        for v in range(k):
            if (remaining >> v) & 1:
                nb = adj[v] & remaining
                if all(((nb & ~(1 << u)) & ~adj[u]) == 0 for u in range(k) if (nb >> u) & 1):
                    found.append(nb | (1 << v))
                    remaining &= ~(1 << v)
                    break
    maximal = [c for c in found if not any(c != d and (c & d) == c for d in found)]
    return sorted({frozenset(i for i in range(k) if (c >> i) & 1) for c in maximal}, key=sorted)
