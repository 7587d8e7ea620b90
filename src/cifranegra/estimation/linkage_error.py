"""Closed-form corrections of capture–recapture estimates for linkage errors (a cross-check).

A missed link splits one person into two entities and pushes N̂ up; a false link merges two people
and pushes it down. Given the linkage error rates (from a clerical review or a simulation), these
functions undo the expected effect of the errors in closed form:

* :func:`ding_fienberg` — Ding & Fienberg (1994): two lists, missed-link rate α (a person on both
  lists whose two records are not linked), false-link rate β (a record of the list linked *from*
  whose person is not on the other list, linked to some record there). The number of links has
  expectation ``(1−α)·M + β·(n_from − M)``; solving for the true overlap M gives
  ``N̂ = n_a·n_b·(1−α−β) / (m − β·n_from)``.
* :func:`modified_ding_fienberg` — Di Consiglio & Tuoto (2015): false links may start from the
  unmatched records of either list, ``E(m) = (1−α)·M + β·(n_a − M) + β·(n_b − M)``, so
  ``N̂ = n_a·n_b·(1−α−2β) / (m − β·(n_a + n_b))``.
* :func:`corrected_loglinear` — the K-list version (Di Consiglio & Tuoto 2018): the observed
  capture-pattern counts are a linear transform ``y = T x`` of the true ones, T built from per-pair
  missed-link rates and per-direction false-link rates; the counts are corrected by solving that
  system and the log-linear model is fitted to them (:func:`cifranegra.estimation.fitting.fit_one`).
  With two lists and the independence model it reproduces the two estimators above.
* :func:`linkage_free_estimate` — Račinskij, Smith & van der Heijden (2019): ``n_a·n_b / Σ p``
  over the scored cross-list pairs' match probabilities, without deciding any link (a diagnostic).

The two-list standard errors are Lincoln–Petersen's with the corrected overlap in place of m; like the
published figures they treat the error rates as known. Pure: no files, no printing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import fitting as F  # noqa: N812
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.models import HierarchicalModel

__all__ = [
    "KListCorrection",
    "LinkageFreeEstimate",
    "TwoListCorrection",
    "corrected_counts",
    "corrected_loglinear",
    "ding_fienberg",
    "lincoln_petersen",
    "linkage_free_estimate",
    "modified_ding_fienberg",
    "transition_matrix",
]

#: the K-list correction enumerates subsets of each pattern (3^K work); beyond this it is refused
MAX_LISTS = 8

RateSpec = float | Mapping[tuple[str, str], float] | np.ndarray | list[list[float]]


# ---------------------------------------------------------------------------------------- two lists
@dataclass(frozen=True)
class TwoListCorrection:
    """A two-list estimate corrected for linkage errors (or the naive one, with both rates zero)."""

    method: str  # "lincoln_petersen", "ding_fienberg" or "modified_ding_fienberg"
    estimate: float
    std_error: float
    matches: float  # the estimated true overlap M̂ (the links observed, corrected)
    list_sizes: tuple[int, int]
    linked: int
    missed_link_rate: float
    false_link_rate: float
    linked_from: str  # "a" or "b"

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Chao's (1987) log-normal interval for the unseen part (never below the number observed)."""
        if not (isinstance(level, float | int) and not isinstance(level, bool) and 0 < level < 1):
            raise InputError(f"level must be a number strictly between 0 and 1, got {level!r}")
        observed = self.list_sizes[0] + self.list_sizes[1] - self.matches
        unseen = self.estimate - observed
        var = self.std_error**2
        if unseen <= 0 or var <= 0:
            return (self.estimate, self.estimate)
        z = float(stats.norm.ppf(0.5 + level / 2))
        c = math.exp(z * math.sqrt(math.log(1 + var / unseen**2)))
        return (observed + unseen / c, observed + unseen * c)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "matches": self.matches,
            "list_sizes": list(self.list_sizes),
            "linked": self.linked,
            "missed_link_rate": self.missed_link_rate,
            "false_link_rate": self.false_link_rate,
            "linked_from": self.linked_from,
        }


def _whole(name: str, value: object, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float | np.floating):
        raise InputError(f"{name} must be a whole number, got {type(value).__name__}")
    if not math.isfinite(float(value)) or float(value) != round(float(value)) or float(value) < lo:
        raise InputError(f"{name} must be a whole number >= {lo}, got {value!r}")
    return int(value)


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float | np.floating):
        raise InputError(f"{name} must be a number in [0, 1), got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or not 0.0 <= v < 1.0:
        raise InputError(f"{name} must be a rate in [0, 1), got {value!r}; give it as a fraction, e.g. 9/2676")
    return v


_Inputs = tuple[int, int, int, float, float, str]  # n_a, n_b, linked, α, β, linked_from


def _two_list_inputs(
    n_a: object, n_b: object, linked: object, alpha: object, beta: object, linked_from: object
) -> _Inputs:
    a = _whole("n_a", n_a, 1)
    b = _whole("n_b", n_b, 1)
    m = _whole("linked", linked, 0)
    if m > min(a, b):
        raise InputError(f"linked = {m} exceeds the smaller list ({min(a, b)}): a record is linked at most once")
    al = _rate("missed_link_rate", alpha)
    be = _rate("false_link_rate", beta)
    if linked_from not in ("a", "b"):
        raise InputError(
            f"linked_from must be 'a' or 'b' (the list whose records were searched for), got {linked_from!r}"
        )
    return a, b, m, al, be, str(linked_from)


def _finish(method: str, inputs: _Inputs, numerator: float, denominator: float, what: str) -> TwoListCorrection:
    """``M̂ = denominator / numerator`` (the corrected overlap), then ``N̂ = n_a·n_b/M̂`` and its variance."""
    a, b, m, al, be, frm = inputs
    if denominator <= 0:
        raise InputError(
            f"false_link_rate = {be:.6g} implies {what} = {m - denominator:.1f} false links, at least the "
            f"{m} links observed: the rate is too high for these lists (check that it is the share of "
            "unmatched records falsely linked, not of links)"
        )
    matches = denominator / numerator
    if matches > min(a, b):
        raise InputError(
            f"missed_link_rate = {al:.6g} implies {matches:.1f} true matches, more than the smaller list "
            f"({min(a, b)}): the rate is too high for these lists"
        )
    if matches <= 0:
        raise ModelError("the corrected overlap is zero: the two lists share no one and N is infinite")
    est = a * b / matches
    var = a * b * (a - matches) * (b - matches) / matches**3
    return TwoListCorrection(method, est, math.sqrt(max(var, 0.0)), matches, (a, b), m, al, be, frm)


def lincoln_petersen(n_a: int, n_b: int, linked: int) -> TwoListCorrection:
    """The naive Lincoln–Petersen estimate ``n_a·n_b/m`` in the same form (no correction)."""
    inputs = _two_list_inputs(n_a, n_b, linked, 0.0, 0.0, "b")
    if inputs[2] == 0:
        raise ModelError("the two lists have no links: Lincoln–Petersen is infinite")
    return _finish("lincoln_petersen", inputs, 1.0, float(inputs[2]), "")


def ding_fienberg(
    n_a: int, n_b: int, linked: int, *, missed_link_rate: float, false_link_rate: float, linked_from: str = "b"
) -> TwoListCorrection:
    """Ding & Fienberg's (1994) estimate: ``n_a·n_b·(1−α−β) / (m − β·n_from)``.

    ``missed_link_rate`` α: share of the people on both lists whose records were not linked.
    ``false_link_rate`` β: share of the records of the list linked from (``linked_from``, "a" or "b")
    whose person is not on the other list that were nevertheless linked.
    """
    inputs = _two_list_inputs(n_a, n_b, linked, missed_link_rate, false_link_rate, linked_from)
    a, b, m, al, be, frm = inputs
    if al + be >= 1:
        raise InputError(f"missed_link_rate + false_link_rate must be below 1, got {al:.6g} + {be:.6g}")
    n_from = b if frm == "b" else a
    return _finish("ding_fienberg", inputs, 1 - al - be, m - be * n_from, f"false_link_rate × n_{frm}")


def modified_ding_fienberg(
    n_a: int, n_b: int, linked: int, *, missed_link_rate: float, false_link_rate: float, linked_from: str = "b"
) -> TwoListCorrection:
    """Di Consiglio & Tuoto's (2015) modified estimate: ``n_a·n_b·(1−α−2β) / (m − β·(n_a+n_b))``.

    False links may start from the unmatched records of either list, so the estimate does not depend on
    ``linked_from`` (kept in the result for the record).
    """
    inputs = _two_list_inputs(n_a, n_b, linked, missed_link_rate, false_link_rate, linked_from)
    a, b, m, al, be, _ = inputs
    if al + 2 * be >= 1:
        raise InputError(f"missed_link_rate + 2 × false_link_rate must be below 1, got {al:.6g} + 2 × {be:.6g}")
    return _finish("modified_ding_fienberg", inputs, 1 - al - 2 * be, m - be * (a + b), "false_link_rate × (n_a + n_b)")


# ------------------------------------------------------------------------------------------ K lists
def _rate_matrix(name: str, spec: RateSpec, lists: tuple[str, ...], *, symmetric: bool) -> np.ndarray:
    """A K × K matrix of rates from a number (every pair / direction), a mapping keyed by list names, or
    a K × K array; the diagonal is ignored."""
    k = len(lists)
    out = np.zeros((k, k))
    if isinstance(spec, Mapping):
        for key, value in spec.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise InputError(f"{name}: keys must be pairs of list names, got {key!r}")
            unknown = [x for x in key if x not in lists]
            if unknown:
                raise InputError(f"{name}: unknown list {unknown[0]!r}; the lists are {list(lists)}")
            i, j = lists.index(key[0]), lists.index(key[1])
            if i == j:
                raise InputError(f"{name}: a pair needs two different lists, got {key!r}")
            v = _rate(f"{name}[{key[0]!r}, {key[1]!r}]", value)
            if symmetric and out[j, i] not in (0.0, v):
                raise InputError(f"{name}: the pair {key!r} is given twice with different rates")
            out[i, j] = v
            if symmetric:
                out[j, i] = v
        return out
    if isinstance(spec, int | float | np.integer | np.floating) and not isinstance(spec, bool):
        v = _rate(name, spec)
        out[:] = v
        np.fill_diagonal(out, 0.0)
        return out
    try:
        arr = np.asarray(spec, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a rate, a mapping of list pairs to rates, or a {k} × {k} array") from None
    if arr.shape != (k, k):
        raise InputError(f"{name} must be a {k} × {k} array (one row and column per list), got shape {arr.shape}")
    for i in range(k):
        for j in range(k):
            if i != j:
                out[i, j] = _rate(f"{name}[{lists[i]!r}, {lists[j]!r}]", float(arr[i, j]))
    if symmetric and not np.allclose(out, out.T):
        raise InputError(f"{name} must be symmetric: a missed link between two lists has one rate")
    return out


def _members(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if (mask >> i) & 1]


def _split_part(k: int, alpha: np.ndarray) -> np.ndarray:
    """Expected number of entities with pattern P from one person with pattern S (P ⊆ S): the person's
    records form the connected components of the graph on S whose edge (u, v) is missed with
    probability α_uv independently. ``conn(P)`` = P(P's own graph connected) by the usual recursion."""
    size = 1 << k

    def cut_of(p: int, q: int) -> float:  # Π α_uv over u ∈ p, v ∈ q: every link between them missed
        v = 1.0
        for u in _members(p):
            for w in _members(q):
                v *= alpha[u, w]
        return v

    conn = np.zeros(size)
    for p in range(1, size):
        if p & (p - 1) == 0:
            conn[p] = 1.0
            continue
        low = p & -p
        total = 0.0
        sub = (p - 1) & p
        while sub:
            if sub & low:
                total += conn[sub] * cut_of(sub, p & ~sub)
            sub = (sub - 1) & p
        conn[p] = 1.0 - total
    T = np.zeros((size, size))
    for s in range(1, size):
        sub = s
        while sub:
            T[sub, s] += conn[sub] * (cut_of(sub, s & ~sub) if sub != s else 1.0)
            sub = (sub - 1) & s
    return T


def transition_matrix(
    counts: np.ndarray, missed: np.ndarray, false: np.ndarray, split: np.ndarray | None = None
) -> np.ndarray:
    """``T`` with ``E(observed) = T @ true`` (2^K × 2^K, cell 0 unused) for true counts ``counts``.

    ``missed[u, v]``: probability that a person on lists u and v has that link missed (symmetric).
    ``false[j, i]``: probability that a person on list j but not on list i has their entity falsely
    linked to a record on list i; the partner is a person on i and on none of the first person's lists,
    drawn in proportion to ``counts`` (which makes T depend on the counts; with two lists it does not).
    """
    k = missed.shape[0]
    size = 1 << k
    T = (_split_part(k, missed) if split is None else split).copy()
    x = np.clip(np.asarray(counts, dtype=float), 0.0, None)
    masks = np.arange(size)
    for s in range(1, size):
        for j in _members(s):
            for i in range(k):
                b = false[j, i]
                if (s >> i) & 1 or b == 0.0:
                    continue
                partners = masks[((masks >> i) & 1 == 1) & ((masks & s) == 0)]
                weight = x[partners]
                total = weight.sum()
                if total <= 0:
                    continue
                share = weight / total
                T[s, s] -= b
                T[partners, s] -= b * share
                T[partners | s, s] += b * share
    return T


def _check_lists(histories: CaptureHistories) -> None:
    if not isinstance(histories, CaptureHistories):
        raise InputError(f"histories must be CaptureHistories, got {type(histories).__name__}")
    if histories.n_lists > MAX_LISTS:
        raise InputError(
            f"the linkage-error correction works up to {MAX_LISTS} lists, these data have {histories.n_lists}; "
            "merge or drop lists"
        )


def corrected_counts(
    histories: CaptureHistories,
    missed_link_rates: RateSpec,
    false_link_rates: RateSpec,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[np.ndarray, int]:
    """The true capture-pattern counts implied by the observed ones and the error rates: the solution x
    of ``T(x) @ x = observed`` (fixed-point iterations, as T depends on x only through the false
    links' partner shares). Returns the counts (floats, length 2^K, cell 0 zero) and the iterations."""
    _check_lists(histories)
    lists = histories.lists
    missed = _rate_matrix("missed_link_rates", missed_link_rates, lists, symmetric=True)
    false = _rate_matrix("false_link_rates", false_link_rates, lists, symmetric=False)
    y = histories.counts.astype(float)
    split = _split_part(histories.n_lists, missed)
    x = y.copy()
    for it in range(1, max_iter + 1):
        T = transition_matrix(x, missed, false, split)[1:, 1:]
        if not np.all(np.isfinite(T)) or np.linalg.cond(T) > 1e12:
            raise InputError(
                "the missed_link_rates and false_link_rates given make the linkage-error transform singular "
                "(the rates are too high): check them"
            )
        new = _checked(np.concatenate([[0.0], np.linalg.solve(T, y[1:])]), y, lists)
        done = float(np.abs(new - x).max()) <= tol * max(1.0, float(y.sum()))
        x = new
        if done:
            return x, it
    raise ModelError(
        f"the linkage-error correction did not settle in {max_iter} iterations; the false_link_rates are "
        "probably too high for these counts"
    )


def _checked(x: np.ndarray, y: np.ndarray, lists: tuple[str, ...]) -> np.ndarray:
    floor = -1e-9 * max(1.0, float(y.sum()))
    bad = [m for m in range(1, x.size) if x[m] < floor]
    if bad:
        pattern = "".join(str((bad[0] >> i) & 1) for i in range(len(lists)))
        raise ModelError(
            f"the corrected count of capture pattern {pattern} (lists {', '.join(lists)}) is negative "
            f"({x[bad[0]]:.1f}): the error rates given imply more errors than these counts can hold; "
            "check the rates (they may be too high, or belong to another linkage)"
        )
    return np.where(x < 0, 0.0, x)


@dataclass(frozen=True)
class KListCorrection:
    """A log-linear estimate from counts corrected for linkage errors, with the naive one beside it."""

    estimate: float
    naive_estimate: float
    model: str
    lists: tuple[str, ...]
    observed_counts: tuple[int, ...]
    corrected_counts: tuple[float, ...]
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "naive_estimate": self.naive_estimate,
            "model": self.model,
            "lists": list(self.lists),
            "observed_counts": list(self.observed_counts),
            "corrected_counts": list(self.corrected_counts),
            "iterations": self.iterations,
        }


def _fit(model: HierarchicalModel, counts: np.ndarray, what: str) -> float:
    prep = F.prepare(model, counts)
    status = F.status_of(prep, counts)
    if status:
        reason = {1: "has no extended maximum-likelihood estimate", 2: "is not identifiable"}.get(
            status, "has no extended maximum-likelihood estimate and is not identifiable"
        )
        raise ModelError(f"the model {model.notation()} {reason} on the {what} counts; choose a smaller model")
    fit = F.fit_one(model, counts)
    if not fit.converged or not math.isfinite(fit.abundance):
        raise ModelError(f"the model {model.notation()} did not converge on the {what} counts; choose a smaller model")
    return float(fit.abundance)


def corrected_loglinear(
    histories: CaptureHistories,
    missed_link_rates: RateSpec,
    false_link_rates: RateSpec,
    *,
    model: str | HierarchicalModel = "independence",
) -> KListCorrection:
    """Fit the log-linear ``model`` (a generating class such as ``"[12,13]"``, or ``"independence"``)
    to the counts corrected for linkage errors (:func:`corrected_counts`) and to the observed ones.

    ``missed_link_rates``: one rate for every pair of lists, a mapping ``{(list, list): rate}`` or a
    symmetric K × K array. ``false_link_rates``: one rate for every direction, a mapping
    ``{(from_list, to_list): rate}`` (records of ``from_list`` whose person is not on ``to_list``,
    falsely linked to a record there) or a K × K array indexed [from, to]. Zero rates give the naive
    estimate exactly. Point estimate only: no interval (see docs/estimation.md).
    """
    _check_lists(histories)
    if isinstance(model, HierarchicalModel):
        if model.n_lists != histories.n_lists:
            raise InputError(f"the model is for {model.n_lists} lists, these data have {histories.n_lists}")
        spec = model
    elif isinstance(model, str):
        spec = HierarchicalModel.parse(model, histories.lists)
    else:
        raise InputError(f"model must be a generating class such as '[12,13]', got {type(model).__name__}")
    x, iterations = corrected_counts(histories, missed_link_rates, false_link_rates)
    y = histories.counts.astype(float)
    return KListCorrection(
        estimate=_fit(spec, x, "corrected"),
        naive_estimate=_fit(spec, y, "observed"),
        model=spec.notation(),
        lists=histories.lists,
        observed_counts=tuple(int(c) for c in histories.counts),
        corrected_counts=tuple(float(c) for c in x),
        iterations=iterations,
    )


# ------------------------------------------------------------------------------ linkage-free (2019)
@dataclass(frozen=True)
class LinkageFreeEstimate:
    """Račinskij, Smith & van der Heijden's estimate ``n_a·n_b / Σ p`` (a diagnostic line)."""

    estimate: float
    expected_matches: float  # Σ match_probability over the cross-list pairs
    n_pairs: int
    list_sizes: tuple[int, int]
    lists: tuple[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "expected_matches": self.expected_matches,
            "n_pairs": self.n_pairs,
            "list_sizes": list(self.list_sizes),
            "lists": list(self.lists),
        }


_PAIR_COLUMNS = ("source_l", "source_r", "match_probability")


def linkage_free_estimate(
    pairs: Any, n_a: int, n_b: int, *, list_a: str | None = None, list_b: str | None = None
) -> LinkageFreeEstimate:
    """``n_a·n_b / Σ p`` over the scored pairs between two lists, deciding no link.

    ``pairs`` is a frame with ``source_l``, ``source_r`` and ``match_probability`` (as
    ``LinkageResult.pairs``); pairs within one list are not between the lists and are not counted.
    ``list_a``/``list_b`` name the two lists (``n_a``, ``n_b`` their sizes); they may be left out when
    the cross-list pairs involve exactly two lists (then ``list_a`` is the first in sorted order).
    The probabilities must be calibrated, and pairs dropped below the kept floor make Σ p a little low.
    """
    import pandas as pd

    if not isinstance(pairs, pd.DataFrame):
        raise InputError(f"pairs must be a data frame of scored pairs, got {type(pairs).__name__}")
    missing = [c for c in _PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise InputError(f"pairs lacks column(s) {missing}; it needs {list(_PAIR_COLUMNS)} as LinkageResult.pairs has")
    a = _whole("n_a", n_a, 1)
    b = _whole("n_b", n_b, 1)
    left = pairs["source_l"].astype(str).to_numpy()
    right = pairs["source_r"].astype(str).to_numpy()
    cross = left != right
    if (list_a is None) != (list_b is None):
        raise InputError("name both lists (list_a and list_b) or neither")
    if list_a is None or list_b is None:
        found = sorted(set(left[cross]) | set(right[cross]))
        if len(found) != 2:
            raise InputError(
                f"the pairs link {len(found)} lists; name the two to use with list_a and list_b"
                if found
                else "pairs holds no pair between two different lists"
            )
        list_a, list_b = found[0], found[1]
    if list_a == list_b:
        raise InputError(f"list_a and list_b must differ, both are {list_a!r}")
    keep = ((left == list_a) & (right == list_b)) | ((left == list_b) & (right == list_a))
    prob = pd.to_numeric(pairs["match_probability"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(keep & ~((prob >= 0) & (prob <= 1)))
    if bad.size:
        row = int(bad[0])
        raw = pairs["match_probability"].iloc[row]
        shown = f"{float(prob[row])!r}" if math.isfinite(prob[row]) else ("missing" if pd.isna(raw) else "not a number")
        raise InputError(
            f"pairs row {row + 1}, column 'match_probability': {shown} is not a probability in [0, 1] "
            f"({bad.size} such row(s)); rescore or drop those pairs"
        )
    total = float(prob[keep].sum())
    if total <= 0:
        raise ModelError(
            f"the pairs between {list_a!r} and {list_b!r} have no match probability at all: the estimate is "
            "infinite (no evidence that anyone is on both lists)"
        )
    return LinkageFreeEstimate(a * b / total, total, int(keep.sum()), (a, b), (str(list_a), str(list_b)))
