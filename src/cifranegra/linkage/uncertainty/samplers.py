"""Draw plausible linkages (record → person assignments) from scored pairs.

Two samplers, both seeded, both returning an ``(M, n_records)`` array of person ids aligned to the
records (ids numbered by first appearance in each draw):

* :func:`sample_components` (cheap): each kept pair is a link with its probability, independently;
  persons are the connected components of the drawn links. When the lists are de-duplicated (a
  person appears at most once per list), a component holding two records of one list is repaired by
  maximum-weight assignment (``scipy.optimize.linear_sum_assignment``), list by list: the records of
  the largest list in the component seed the persons, and each further list's records are assigned
  to them (or start a person of their own) so that the summed probability of the drawn links kept
  is largest.
* :func:`sample_gibbs` (principled): a Gibbs sampler over record → person assignments. The target is
  ``prior(partition) × Π_{pairs in one person} w_ij``, with ``w_ij`` the pair's Bayes factor
  ``odds(p_ij) / odds(λ)`` (λ the prior match probability of a random pair) and, for a pair of one
  person that was not kept (scored below ``keep_pairs_above`` or never blocked), weight 0 by
  default (a person's records must all be linked pairwise by kept pairs: the model already scored
  such a pair as almost surely different people, or blocking never put the two together), or the
  Bayes factor of a ``floor`` probability when one is given. Records move only between persons of
  their block (connected component of the kept pairs), so the work is proportional to the blocks,
  not to all pairs of records.

  ``prior="beta"`` (de-duplicated lists): the lists are taken in order; each record of list k either
  joins a person formed by lists 1..k-1 or starts one; the number of list-k records that join is
  beta-binomial(n_k, α, β) and, given that number, every choice of which records join and whom they
  join is equally likely. For two lists this is the prior of Sadinle (2017, JASA 112:600–612, "Bayesian
  estimation of bipartite matchings for record linkage"), and the Gibbs step is his: record j of list 2
  joins record i of list 1 with weight ``w_ij`` and stays alone with weight
  ``(n_1 - L)(n_2 - L - 1 + β) / (L + α)``, L the links among the other records.
  ``prior="pairwise"`` (lists that may hold duplicates): every partition equally likely a priori and
  ``w_ij = odds(p_ij)`` (the prior already in the probability); an isolated pair is then linked
  with exactly its probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cifranegra._random import make_rng
from cifranegra.errors import InputError

PRIORS = ("beta", "pairwise")
_EPS = 1e-12


@dataclass(frozen=True, eq=False)
class PairGraph:
    """Records (by position) and the kept pairs between them, ready for the samplers.

    ``list_index[r]`` is the list of record r (position in ``lists``); ``left``/``right`` are the
    positions of each pair's records and ``probability`` its match probability; ``floor`` is the
    probability assumed for a pair that was not kept (``None``: such a pair is never one person).
    """

    lists: tuple[str, ...]
    list_index: np.ndarray
    left: np.ndarray
    right: np.ndarray
    probability: np.ndarray
    floor: float | None

    @property
    def n_records(self) -> int:
        return int(self.list_index.size)

    def without_within_list_pairs(self) -> PairGraph:
        """The graph without pairs of two records of one list (impossible in de-duplicated lists)."""
        keep = self.list_index[self.left] != self.list_index[self.right]
        return PairGraph(
            self.lists, self.list_index, self.left[keep], self.right[keep], self.probability[keep], self.floor
        )


def pair_graph(records: pd.DataFrame, pairs: pd.DataFrame, *, floor: float | None = None) -> PairGraph:
    """A :class:`PairGraph` from a records table (``source``, ``record_id``, one row per record) and
    a pairs table (``source_l``, ``record_id_l``, ``source_r``, ``record_id_r``,
    ``match_probability``), as in :class:`~cifranegra.linkage.link.LinkageResult`.

    Pairs naming a record absent from ``records`` are an error; a pair given twice keeps its
    highest probability; a pair of a record with itself is ignored.
    """
    for name, frame, cols in (
        ("records", records, ("source", "record_id")),
        ("pairs", pairs, ("source_l", "record_id_l", "source_r", "record_id_r", "match_probability")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InputError(f"the {name} table lacks column(s) {missing}")
    if floor is not None and not 0.0 < floor < 1.0:
        raise InputError(f"the floor probability must be between 0 and 1, not {floor}")
    key = pd.MultiIndex.from_arrays([records["source"].astype(str), records["record_id"].astype(str)])
    if not key.is_unique:
        raise InputError("(source, record_id) must identify each record once")
    li = key.get_indexer(pd.MultiIndex.from_arrays([pairs["source_l"].astype(str), pairs["record_id_l"].astype(str)]))
    ri = key.get_indexer(pd.MultiIndex.from_arrays([pairs["source_r"].astype(str), pairs["record_id_r"].astype(str)]))
    if (li < 0).any() or (ri < 0).any():
        raise InputError(f"{int(((li < 0) | (ri < 0)).sum())} pair(s) name a record that is not in the records table")
    p = pairs["match_probability"].to_numpy(float)
    if not np.all((p >= 0) & (p <= 1)):
        raise InputError("match probabilities must lie between 0 and 1")
    lo, hi = np.minimum(li, ri), np.maximum(li, ri)
    keep = lo != hi
    lo, hi, p = lo[keep], hi[keep], p[keep]
    if lo.size:
        order = np.lexsort((-p, hi, lo))
        lo, hi, p = lo[order], hi[order], p[order]
        first = np.ones(lo.size, bool)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        lo, hi, p = lo[first], hi[first], p[first]
    names, index = np.unique(records["source"].astype(str).to_numpy(), return_inverse=True)
    return PairGraph(
        tuple(str(x) for x in names), index.astype(np.int64), lo.astype(np.int64), hi.astype(np.int64), p,
        None if floor is None else float(floor),
    )


def renumber(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... in the order of their first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    return remap[inverse].astype(np.int64)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(left.size), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _repair(members: np.ndarray, lst: np.ndarray, edges: dict[tuple[int, int], float]) -> list[list[int]]:
    """Split one component into persons with at most one record per list (maximum-weight assignment)."""
    by_list: dict[int, list[int]] = {}
    for r in members.tolist():
        by_list.setdefault(int(lst[r]), []).append(r)
    order = sorted(by_list, key=lambda k: (-len(by_list[k]), k))
    persons: list[list[int]] = [[r] for r in by_list[order[0]]]
    for k in order[1:]:
        recs = by_list[k]
        n_p, n_r = len(persons), len(recs)
        w = np.full((n_r, n_p + n_r), -1e9)
        for i, r in enumerate(recs):
            w[i, n_p + i] = 0.0
            for j, person in enumerate(persons):
                total = sum(edges.get((min(r, s), max(r, s)), 0.0) for s in person)
                if total > 0:
                    w[i, j] = total
        rows, cols = linear_sum_assignment(w, maximize=True)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if j < n_p:
                persons[j].append(recs[i])
            else:
                persons.append([recs[i]])
    return persons


def links_to_persons(graph: PairGraph, linked: np.ndarray, *, deduplicated: bool) -> np.ndarray:
    """Person labels (renumbered) from a 0/1 choice of links among the graph's pairs: connected
    components, repaired where de-duplicated lists put two records of one list in one person."""
    n = graph.n_records
    left, right = graph.left[linked], graph.right[linked]
    labels = _components(n, left, right)
    if deduplicated and left.size:
        k = len(graph.lists)
        cell = labels.astype(np.int64) * k + graph.list_index
        cells, counts = np.unique(cell, return_counts=True)
        bad = np.unique(cells[counts > 1] // k)
        if bad.size:
            weights = graph.probability[linked]
            in_bad = np.isin(labels[left], bad)
            edges = {
                (int(a), int(b)): float(w)
                for a, b, w in zip(left[in_bad].tolist(), right[in_bad].tolist(), weights[in_bad].tolist(), strict=True)
            }
            next_label = int(labels.max()) + 1
            order = np.argsort(labels, kind="stable")
            starts = np.searchsorted(labels[order], bad)
            ends = np.searchsorted(labels[order], bad, side="right")
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                for person in _repair(order[s:e], graph.list_index, edges)[1:]:
                    labels[person] = next_label
                    next_label += 1
    return renumber(labels)


def sample_components(graph: PairGraph, n_draws: int, rng: object = None, *, deduplicated: bool = False) -> np.ndarray:
    """``n_draws`` linkages by independent pair draws and connected components (repaired when the
    lists are de-duplicated); an ``(n_draws, n_records)`` int64 array of person ids."""
    _check_draws(n_draws)
    gen = make_rng(rng)  # type: ignore[arg-type]
    if deduplicated:
        graph = graph.without_within_list_pairs()
    out = np.empty((n_draws, graph.n_records), dtype=np.int64)
    for m in range(n_draws):
        linked = gen.random(graph.probability.size) < graph.probability
        out[m] = links_to_persons(graph, linked, deduplicated=deduplicated)
    return out


def _check_draws(n_draws: int) -> None:
    if not isinstance(n_draws, (int, np.integer)) or isinstance(n_draws, bool) or not 1 <= n_draws <= 100_000:
        raise InputError(f"the number of imputations must be a whole number from 1 to 100000, not {n_draws!r}")


def _logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.asarray(np.log(q) - np.log1p(-q))


@dataclass(frozen=True)
class GibbsOptions:
    """Settings of :func:`sample_gibbs`.

    ``prior``: ``"beta"`` (de-duplicated lists; Sadinle's prior for two lists) or ``"pairwise"``.
    ``prior_match_probability``: λ, the probability that two random records match (the Splink
    model's ``probability_two_random_records_match``); needed by ``"beta"`` to turn pair
    probabilities into Bayes factors. ``alpha``, ``beta``: the beta prior on the share of a list's
    records that join an earlier list's person (1, 1: uniform). ``burn_in`` sweeps are discarded,
    then one draw is kept every ``thin`` sweeps.
    """

    prior: str = "pairwise"
    prior_match_probability: float | None = None
    alpha: float = 1.0
    beta: float = 1.0
    burn_in: int = 10
    thin: int = 2

    def __post_init__(self) -> None:
        problems = []
        if self.prior not in PRIORS:
            problems.append(f"prior must be one of {', '.join(PRIORS)}, not {self.prior!r}")
        lam = self.prior_match_probability
        if self.prior == "beta" and (lam is None or not 0.0 < float(lam) < 1.0):
            problems.append(
                "the beta prior needs prior_match_probability strictly between 0 and 1 "
                "(the linkage model's probability_two_random_records_match)"
            )
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) < float("inf"):
                problems.append(f"{name} must be a positive number, not {v!r}")
        for name, low in (("burn_in", 0), ("thin", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not low <= int(v) <= 100_000:
                problems.append(f"{name} must be a whole number from {low} to 100000, not {v!r}")
        if problems:
            raise InputError("invalid linkage imputation options:\n  - " + "\n  - ".join(problems))


def beta_log_prior(links: list[int] | np.ndarray, sizes: list[int] | np.ndarray, alpha: float, beta: float) -> float:
    """Log of the beta prior of a partition of de-duplicated lists (up to a constant), from
    ``links[k]``, the number of list-k records joining a person of an earlier list (``links[0]`` = 0),
    and the list sizes."""
    total = 0.0
    formed = 0  # persons formed by lists 0..k-1
    for k, (n_k, l_k) in enumerate(zip(sizes, links, strict=True)):
        if k > 0:
            total += (
                math.lgamma(formed - l_k + 1) - math.lgamma(formed + 1)
                + math.lgamma(l_k + alpha) + math.lgamma(n_k - l_k + beta)
            )
        formed += int(n_k) - int(l_k)
    return total


def _joined(lists_of_person: list[int]) -> list[int]:
    """Lists whose record in this person joins an earlier list's record (all but the first list)."""
    return sorted(lists_of_person)[1:]


class _Gibbs:
    """State and moves of the Gibbs sampler (plain Python over the records of non-trivial blocks)."""

    def __init__(self, graph: PairGraph, start: np.ndarray, options: GibbsOptions, deduplicated: bool) -> None:
        self.lst = graph.list_index.tolist()
        self.dedup = deduplicated
        self.beta_prior = options.prior == "beta"
        self.alpha, self.beta = float(options.alpha), float(options.beta)
        shift = float(_logit(options.prior_match_probability or 0.5)) if self.beta_prior else 0.0
        weights = (_logit(graph.probability) - shift).tolist()
        self.w_missing = -math.inf if graph.floor is None else float(_logit(graph.floor)) - shift
        self.prior_shift = shift
        self.shift = 0.0  # added to every pair's log-odds (moment matching, :class:`LinkTargets`)
        self.left, self.right = graph.left.tolist(), graph.right.tolist()
        self.list_index = graph.list_index
        self.n_lists = len(graph.lists)
        self.adj: dict[int, dict[int, float]] = {}
        for a, b, w in zip(self.left, self.right, weights, strict=True):
            self.adj.setdefault(a, {})[b] = w
            self.adj.setdefault(b, {})[a] = w
        self.active = sorted(self.adj)
        # with a floor, a record may join any person of its block, neighbour or not
        self.block: dict[int, list[int]] | None = None
        if graph.floor is not None:
            comp = _components(graph.n_records, graph.left, graph.right)
            self.block = {}
            for r in self.active:
                self.block.setdefault(int(comp[r]), []).append(r)
            self.block = {r: self.block[int(comp[r])] for r in self.active}
        self.ent = start.astype(np.int64).tolist()
        self.members: dict[int, set[int]] = {}
        for r, e in enumerate(self.ent):
            self.members.setdefault(e, set()).add(r)
        self.next_label = max(self.ent, default=-1) + 1
        self.sizes = np.bincount(graph.list_index, minlength=len(graph.lists)).tolist()
        self.links = [0] * len(self.sizes)
        self._prior_cache: dict[tuple[int, ...], float] = {}
        if self.beta_prior:
            for mem in self.members.values():
                for k in _joined([self.lst[s] for s in mem]):
                    self.links[k] += 1

    def _log_prior(self, links: list[int]) -> float:
        if not self.beta_prior:
            return 0.0
        key = tuple(links)
        value = self._prior_cache.get(key)
        if value is None:
            if len(self._prior_cache) > 100_000:
                self._prior_cache.clear()
            value = self._prior_cache[key] = beta_log_prior(links, self.sizes, self.alpha, self.beta)
        return value

    def move(self, r: int, u: float) -> None:
        e = self.ent[r]
        mem = self.members[e]
        k = self.lst[r]
        base = self.links
        if self.beta_prior:
            base = list(self.links)
            for j in _joined([self.lst[s] for s in mem]):
                base[j] -= 1
            mem.discard(r)
            for j in _joined([self.lst[s] for s in mem]):
                base[j] += 1
        else:
            mem.discard(r)
        if not mem:
            del self.members[e]
        adj_r = self.adj[r]
        cands = []
        logits = [self._log_prior(base)]
        seen: set[int] = set()
        for s in adj_r if self.block is None else self.block[r]:
            if s == r:
                continue
            c = self.ent[s]
            if c in seen:
                continue
            seen.add(c)
            group = self.members[c]
            group_lists = [self.lst[t] for t in group]
            if self.dedup and k in group_lists:
                continue
            loglik = sum(adj_r.get(t, self.w_missing) for t in group) + self.shift * len(group)
            if loglik == -math.inf:
                continue
            if self.beta_prior:
                links = list(base)
                for j in _joined(group_lists):
                    links[j] -= 1
                for j in _joined([*group_lists, k]):
                    links[j] += 1
                loglik += self._log_prior(links)
            cands.append(c)
            logits.append(loglik)
        top = max(logits)
        cum = 0.0
        probs = [math.exp(x - top) for x in logits]
        target = u * sum(probs)
        choice = len(probs) - 1
        for i, q in enumerate(probs):
            cum += q
            if target < cum:
                choice = i
                break
        if choice == 0:
            new = self.next_label
            self.next_label += 1
            self.members[new] = {r}
            self.ent[r] = new
        else:
            c = cands[choice - 1]
            if self.beta_prior:
                group_lists = [self.lst[t] for t in self.members[c]]
                for j in _joined(group_lists):
                    base[j] -= 1
                for j in _joined([*group_lists, k]):
                    base[j] += 1
            self.members[c].add(r)
            self.ent[r] = c
        if self.beta_prior:
            self.links = base

    def set_logits(self, logits: np.ndarray) -> None:
        """Replace every kept pair's log-odds (same pairs, same order as the graph)."""
        for a, b, w in zip(self.left, self.right, (np.asarray(logits, float) - self.prior_shift).tolist(), strict=True):
            self.adj[a][b] = w
            self.adj[b][a] = w

    def between_links(self) -> int:
        """Pairs of records of different lists that the current state puts in one person."""
        ent = np.asarray(self.ent, dtype=np.int64)
        cell = np.bincount(ent * self.n_lists + self.list_index, minlength=(int(ent.max()) + 1) * self.n_lists)
        per = cell.reshape(-1, self.n_lists)
        total = per.sum(axis=1)
        return int((total * total - (per * per).sum(axis=1)).sum() // 2)

    def sweep(self, gen: np.random.Generator) -> None:
        us = gen.random(len(self.active)).tolist()
        for r, u in zip(self.active, us, strict=True):
            self.move(r, u)


@dataclass(frozen=True, eq=False)
class LinkTargets:
    """Moment matching for :func:`sample_gibbs`: draw m uses the pair log-odds ``logits_for(m)``
    (aligned to the graph's pairs; e.g. a calibration with its parameters drawn for that imputation)
    plus one shift δ common to all pairs, tuned while sampling so that the number of linked
    between-list record pairs is ``targets[m]`` on average (the calibration's expected number of true
    matches among the kept pairs).

    Why: a calibrated probability is a pair's *marginal* chance of being a match, averaged over pairs
    that compete for the same record; used as a pair's odds in the Gibbs target, competition is
    counted twice and the draws link too little (on 5,000 common-name victims, 1.9% too many persons
    with probabilities calibrated on the truth itself; bench/bench_gibbs_shift.py,
    docs/linkage.md). δ puts the amount of linking
    where the calibration says it is, and the Gibbs moves decide which records link.
    """

    logits_for: Callable[[int], np.ndarray]
    targets: np.ndarray
    gain: float = 0.7


def _adapt_shift(state: _Gibbs, logits: np.ndarray, between: np.ndarray, target: float, gain: float) -> int:
    """One damped Newton step of δ towards ``target`` between-list links; returns the links now."""
    links = state.between_links()
    p = 1.0 / (1.0 + np.exp(-(logits[between] - state.prior_shift + state.shift)))
    slope = max(float(np.sum(p * (1.0 - p))), 1.0)
    step = float(np.clip(gain * (target - links) / slope, -2.0, 2.0))
    state.shift = float(np.clip(state.shift + step, -50.0, 50.0))
    return links


def _expected_links(z: np.ndarray) -> float:
    return float(np.sum(1.0 / (1.0 + np.exp(-z))))


def _solve_shift(z: np.ndarray, goal: float) -> float:
    """The δ with Σ σ(z + δ) = goal (bisection; clipped to ±50)."""
    lo, hi = -50.0, 50.0
    goal = min(max(goal, 0.0), float(z.size))
    for _ in range(60):
        mid = (lo + hi) / 2
        if _expected_links(z + mid) < goal:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def sample_gibbs(
    graph: PairGraph,
    n_draws: int,
    rng: object = None,
    *,
    deduplicated: bool = False,
    options: GibbsOptions | None = None,
    start: np.ndarray | None = None,
    targets: LinkTargets | None = None,
    trace: dict[str, list[float]] | None = None,
) -> np.ndarray:
    """``n_draws`` linkages from the Gibbs sampler (module docstring); an ``(n_draws, n_records)``
    int64 array of person ids. ``start`` (person labels) defaults to the components of the pairs
    with probability ≥ 0.5, repaired when the lists are de-duplicated. With ``targets``
    (:class:`LinkTargets`; pairwise prior only), each draw's pair odds and the amount of linking are
    set as it says: burn-in of at least 20 sweeps then, to tune δ, and at least 3 sweeps between
    draws, to follow the target. ``trace``, when given, receives each draw's ``shift`` and
    ``between_links``."""
    _check_draws(n_draws)
    options = options or GibbsOptions()
    if options.prior == "beta" and not deduplicated:
        raise InputError(
            "the beta (Sadinle) prior is defined for de-duplicated lists only; declare the lists "
            "de-duplicated or use the pairwise prior"
        )
    gen = make_rng(rng)  # type: ignore[arg-type]
    if deduplicated:
        graph = graph.without_within_list_pairs()
    if start is None:
        start = links_to_persons(graph, graph.probability >= 0.5, deduplicated=deduplicated)
    elif deduplicated:
        cell = np.asarray(start, np.int64) * len(graph.lists) + graph.list_index
        if np.unique(cell).size < cell.size:
            raise InputError("the starting linkage puts two records of one list in one person")
    state = _Gibbs(graph, np.asarray(start), options, deduplicated)
    out = np.empty((n_draws, graph.n_records), dtype=np.int64)
    if targets is None:
        for _ in range(int(options.burn_in)):
            state.sweep(gen)
        for m in range(n_draws):
            for _ in range(int(options.thin)):
                state.sweep(gen)
            out[m] = renumber(np.asarray(state.ent))
        return out
    if options.prior != "pairwise":
        raise InputError("link targets (moment matching) work with the pairwise prior only")
    goal = np.asarray(targets.targets, dtype=float)
    if goal.shape != (n_draws,) or not np.all(np.isfinite(goal)) or np.any(goal < 0):
        raise InputError(f"link targets must be {n_draws} non-negative numbers, one per draw")
    between = graph.list_index[graph.left] != graph.list_index[graph.right]
    logits = np.asarray(targets.logits_for(0), dtype=float)
    state.set_logits(logits)
    for _ in range(max(int(options.burn_in), 20)):
        state.sweep(gen)
        _adapt_shift(state, logits, between, float(goal[0]), targets.gain)
    for m in range(n_draws):
        if m:
            # feed forward: move δ by what the change of odds and of target asks under independent pairs
            offset = state.shift - state.prior_shift
            before = _expected_links(logits[between] + offset)
            logits = np.asarray(targets.logits_for(m), dtype=float)
            state.set_logits(logits)
            state.shift += _solve_shift(logits[between] + offset, before + float(goal[m] - goal[m - 1]))
        for _ in range(max(int(options.thin), 3)):
            state.sweep(gen)
            _adapt_shift(state, logits, between, float(goal[m]), targets.gain)
        out[m] = renumber(np.asarray(state.ent))
        if trace is not None:
            trace.setdefault("shift", []).append(state.shift)
            trace.setdefault("between_links", []).append(float(state.between_links()))
    return out
