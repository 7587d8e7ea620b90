"""Disclosure control: the one place every published table and estimate passes through.

- :class:`DisclosurePolicy`: the rules (threshold, protection width, rounding, when an estimate may be
  published), validated with the key named.
- :func:`protect_tables`: primary suppression of counts 1..threshold−1, secondary suppression across
  all the tables released together (Gaussian elimination, :mod:`.suppression`), then the attacker
  audit (:mod:`.audit`), adding suppressions until every withheld cell keeps a wide enough range.
- :func:`protect_estimates`: rounding and the "not estimable" rule.
- :func:`capture_pattern_table`: the national 2^K table as a tidy table ready for :func:`protect_tables`.
- :func:`shown`: how a value looks in a report ("<11" for a primary suppression).

Published frames are tidy: one column per dimension (``total`` on margin rows), the measure columns
(a withheld value is missing, written as an empty cell) and a ``flag`` column saying why.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.report.audit import Bounds, attacker_bounds
from cifranegra.report.cellspace import FLAG, TOTAL, CellSpace, read_tables
from cifranegra.report.suppression import gauss_suppress

PRIMARY = "primary"
SECONDARY = "secondary"
NOT_ESTIMABLE = "not estimable"
MAX_PATTERN_LISTS = 10
"""The 2^K capture-pattern table is published for at most this many lists."""


@dataclass(frozen=True)
class DisclosurePolicy:
    """The disclosure rules of a release (defaults: the Counter Trafficking Data Collaborative's threshold).

    - ``threshold``: counts from 1 to threshold − 1 are withheld; zeros are published.
    - ``protection_width``: the least width max − min an attacker's range for a withheld cell must keep
      for a primary cell (default: (threshold − 1) // 3, i.e. 3 for a threshold of 11: the attacker is
      left with at least 4 possible values); a secondary cell must only not be pinned.
    - ``round_to`` / ``round_large_to`` / ``large_above``: estimates are rounded to the nearest
      ``round_to``, or the nearest ``round_large_to`` when above ``large_above``.
    - ``min_observed`` / ``min_lists``: an estimate is published only for a stratum with at least this
      many observed persons and lists with records.
    """

    threshold: int = 11
    protection_width: int | None = None
    round_to: int = 10
    round_large_to: int = 100
    large_above: int = 10_000
    min_observed: int = 11
    min_lists: int = 3

    def __post_init__(self) -> None:
        problems = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "protection_width" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                problems.append(f"{f.name!r} must be a whole number, got {_shown(value)}")
        if not problems:
            problems += self._limits()
        if problems:
            raise InputError("disclosure policy: " + "; ".join(problems))

    def _limits(self) -> list[str]:
        out = []
        if self.threshold < 3:
            out.append(f"'threshold' must be at least 3 (got {self.threshold}): with a smaller threshold the flag "
                       "'<threshold' would itself give the withheld count away")
        elif self.protection_width is not None and not 1 <= self.protection_width <= self.threshold - 2:
            out.append(f"'protection_width' must be between 1 and threshold − 2 = {self.threshold - 2} (got "
                       f"{self.protection_width}): a primary cell is known to lie in 1..{self.threshold - 1}")
        for key in ("round_to", "round_large_to", "min_observed"):
            if getattr(self, key) < 1:
                out.append(f"{key!r} must be at least 1 (got {getattr(self, key)})")
        if self.large_above < 0:
            out.append(f"'large_above' must be at least 0 (got {self.large_above})")
        if self.min_lists < 2:
            out.append(f"'min_lists' must be at least 2 (got {self.min_lists}): estimation needs two lists")
        return out

    @property
    def width(self) -> int:
        """The protection width in force."""
        return self.protection_width if self.protection_width is not None else max(1, (self.threshold - 1) // 3)

    def to_dict(self) -> dict[str, int]:
        """JSON-able, with the protection width in force."""
        out: dict[str, int] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["protection_width"] = self.width
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "disclosure policy") -> DisclosurePolicy:
        """From a mapping (a project file's section); unknown keys are errors naming the known ones."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = [str(k) for k in data if k not in known]
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; the keys are "
                             f"{', '.join(known)}")
        return cls(**{str(k): v for k, v in data.items()})


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else f"a {type(value).__name__}"


# ------------------------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class ProtectedRelease:
    """Tables after disclosure control, and the audit's JSON-able summary for the metadata."""

    tables: dict[str, pd.DataFrame]
    audit: dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        return bool(self.audit["passed"])


def protect_tables(tables: Mapping[str, pd.DataFrame], policy: DisclosurePolicy | None = None, *,
                   measure: str = "count") -> ProtectedRelease:
    """Suppress and audit ALL the count tables released together (they share margins).

    Each table is tidy: one column per dimension (the value ``total`` on margin rows, which must equal the
    sum of their cells) and the count column ``measure``; every combination of categories has a row, and
    tables released together count the same people (their common margins agree). Returns the tables with
    withheld counts missing and a ``flag`` column (``primary`` / ``secondary`` / empty), and the audit.
    Raises :class:`InputError` for tables that cannot be used, or if no suppression pattern passes the audit.
    """
    policy = policy or DisclosurePolicy()
    space = read_tables(tables, measure)
    values = space.values
    primary = [i for i, v in enumerate(values) if 0 < v < policy.threshold]
    candidates = sorted((i for i, v in enumerate(values) if v >= policy.threshold),
                        key=lambda i: (-values[i], -space.cells[i].totals, i))
    secondary = gauss_suppress(space.matrix, space.links, primary, candidates)
    bounds, at_flag_limit, rounds, solves = _audit_until_safe(space, policy, primary, secondary, candidates)
    flags = dict.fromkeys(primary, PRIMARY) | dict.fromkeys(secondary, SECONDARY)
    out = {name: _flagged(frame, measure, space, str(name), flags) for name, frame in tables.items()}
    audit = _audit_summary(space, policy, flags, bounds, at_flag_limit, rounds, solves)
    return ProtectedRelease(out, audit)


def _audit_until_safe(space: CellSpace, policy: DisclosurePolicy, primary: list[int], secondary: list[int],
                      order: list[int]) -> tuple[dict[int, Bounds], set[int], int, int]:
    """Audit; while a withheld cell's range is too narrow, also withhold a published cell that limits it.

    A range limited by no published cell (every limiting constraint has a zero dual) cannot be widened by
    withholding more: it is what the flags themselves say (a withheld count is at least 1; a primary one
    at most threshold − 1). Such cells are accepted if not pinned and returned as ``at_flag_limit``.
    """
    values = space.values
    bounds: dict[int, Bounds] = {}
    audited_in: dict[int, int] = {}
    at_flag_limit: set[int] = set()
    todo = set(primary) | set(secondary)
    rounds = solves = 0
    while todo:
        rounds += 1
        withheld = set(primary) | set(secondary)
        published = [i for i in range(len(values)) if i not in withheld]
        ranges = {i: ((1.0, policy.threshold - 1.0) if i in primary else (float(policy.threshold), math.inf))
                  for i in withheld}
        found = attacker_bounds(space.matrix, space.links, values, published, ranges, sorted(_distinct(space, todo)))
        solves += 2 * len(found)
        for i in todo:
            bounds[i] = found[_representative(space, i, found)]
            audited_in[i] = rounds
            at_flag_limit.discard(i)
        added: list[int] = []
        for i in sorted(todo):
            if bounds[i].width >= _required(policy, i in primary):
                continue
            extra = _widen(space, bounds[i], i, set(published), added)
            if extra is None and bounds[i].width < 1:
                raise InputError(
                    "disclosure control cannot keep every withheld count of these tables from being recomputed "
                    "(not even by withholding every other count); publish coarser categories or fewer "
                    "cross-classifications"
                )
            if extra is None:
                at_flag_limit.add(i)
            elif extra not in added:
                added.append(extra)
        if added:
            # the new suppressions must not be recomputable either: Gaussian elimination again
            hidden = [*primary, *secondary, *added]
            rest = [j for j in order if j not in set(hidden)]
            added += gauss_suppress(space.matrix, space.links, hidden, rest)
        secondary.extend(added)
        todo = ({i for i in todo if bounds[i].width < _required(policy, i in primary)} - at_flag_limit) | set(added)
    stale = [i for i in bounds if audited_in[i] < rounds]
    if stale:
        # later suppressions can only widen a range: audit the final release once more, for exact bounds
        withheld = set(primary) | set(secondary)
        ranges = {i: ((1.0, policy.threshold - 1.0) if i in primary else (float(policy.threshold), math.inf))
                  for i in withheld}
        published = [i for i in range(len(values)) if i not in withheld]
        found = attacker_bounds(space.matrix, space.links, values, published, ranges, _distinct(space, set(stale)))
        solves += 2 * len(found)
        for i in stale:
            bounds[i] = found[_representative(space, i, found)]
    return bounds, at_flag_limit, rounds, solves


def _required(policy: DisclosurePolicy, primary: bool) -> int:
    """The least range an attacker must be left with: the protection width for a primary cell; for a
    secondary one (not sensitive in itself), only that it is not pinned."""
    return policy.width if primary else 1


def _distinct(space: CellSpace, cells: set[int]) -> list[int]:
    """One cell per meaning (the same margin in two tables is one unknown)."""
    seen: dict[frozenset[tuple[str, str]], int] = {}
    for i in sorted(cells):
        seen.setdefault(space.cells[i].key, i)
    return list(seen.values())


def _representative(space: CellSpace, i: int, found: Mapping[int, Bounds]) -> int:
    key = space.cells[i].key
    return next(j for j in found if space.cells[j].key == key)


def _widen(space: CellSpace, bounds: Bounds, cell: int, published: set[int], added: Sequence[int]) -> int | None:
    """The published cell to withhold next for ``cell`` (None if no published cell limits its range).

    One already chosen this round if it limits ``cell``; else, among the limiting cells (non-zero duals),
    one of the same table and shape (a row or column mate, the classic partner that opens a box of
    withheld cells), then the smallest (least information lost).
    """
    values = space.values
    binding = [j for j in bounds.binding if j in published and values[j] > 0]
    if not binding:
        return None
    pending = [j for j in binding if j in added]
    if pending:
        return pending[0]
    me = space.cells[cell]
    shape = {d for d, _ in me.key}

    def rank(j: int) -> tuple[bool, bool, int, int]:
        other = space.cells[j]
        return (other.table != me.table, {d for d, _ in other.key} != shape, int(values[j]), j)

    return min(binding, key=rank)


def _flagged(frame: pd.DataFrame, measure: str, space: CellSpace, name: str, flags: Mapping[int, str]) -> pd.DataFrame:
    out = frame.copy()
    first = next(i for i, c in enumerate(space.cells) if c.table == name)
    n = len(frame)
    flag = [flags.get(first + r, "") for r in range(n)]
    counts = pd.array([None if flag[r] else int(space.cells[first + r].value) for r in range(n)], dtype="Int64")
    out[measure] = counts
    out[FLAG] = flag
    return out


def _audit_summary(space: CellSpace, policy: DisclosurePolicy, flags: Mapping[int, str], bounds: Mapping[int, Bounds],
                   at_flag_limit: set[int], rounds: int, solves: int) -> dict[str, Any]:
    per_table: dict[str, dict[str, int]] = {}
    cells = []
    for i, cell in enumerate(space.cells):
        t = per_table.setdefault(cell.table, {"cells": 0, "published": 0, PRIMARY: 0, SECONDARY: 0})
        t["cells"] += 1
        if i not in flags:
            t["published"] += 1
            continue
        t[flags[i]] += 1
        b = bounds[i]
        cells.append({"table": cell.table, "cell": dict(cell.labels), "flag": flags[i], "lower": b.lower,
                      "upper": b.upper, "at_flag_limit": i in at_flag_limit})
    ok = [bounds[i].width >= _required(policy, flags[i] == PRIMARY) or (i in at_flag_limit and bounds[i].width >= 1)
          for i in flags]
    narrowest = min((bounds[i].width for i in flags), default=math.inf)
    return {
        "method": "primary suppression of counts 1 to threshold − 1; secondary suppression by Gaussian elimination "
                  "across all tables released together (Langsrud 2024); attacker audit by linear programming "
                  "(bounds of every withheld count given all published counts, the flags and non-negativity)",
        "policy": policy.to_dict(),
        "tables": per_table,
        "cells": len(space.cells),
        "withheld": len(flags),
        PRIMARY: sum(f == PRIMARY for f in flags.values()),
        SECONDARY: sum(f == SECONDARY for f in flags.values()),
        "unknowns": space.n_unknowns,
        "audit_rounds": rounds,
        "linear_programmes": solves,
        "required_range": {PRIMARY: policy.width, SECONDARY: 1},
        "narrowest_range": None if math.isinf(narrowest) else int(narrowest),
        "at_flag_limit": len(at_flag_limit),
        "passed": all(ok),
        "withheld_cells": cells,
    }


# ------------------------------------------------------------------------------------------------- estimates
def round_estimate(value: float, policy: DisclosurePolicy | None = None) -> float:
    """Round half up to the nearest ``round_to`` (``round_large_to`` above ``large_above``); non-finite unchanged."""
    policy = policy or DisclosurePolicy()
    if not math.isfinite(value):
        return value
    step = policy.round_large_to if abs(value) > policy.large_above else policy.round_to
    return float(math.floor(value / step + 0.5) * step)


def protect_estimates(frame: pd.DataFrame, policy: DisclosurePolicy | None = None, *,
                      observed: str = "observed", lists: str = "lists_with_records",
                      measures: Sequence[str] = ("estimate", "lower", "upper"),
                      reason: str | None = "reason") -> pd.DataFrame:
    """Round the estimates and withhold those of strata below the policy's minimums.

    ``observed`` (observed persons) and ``lists`` (lists with records) decide whether a row's estimate may
    be published; they are counts, so they are NOT passed through (publish detected counts with
    :func:`protect_tables`). A non-empty ``reason`` column (e.g. the model did not converge) also makes a
    row not estimable. Returns the other columns, the rounded ``measures`` (missing where withheld) and a
    ``flag`` column: empty, or ``not estimable: <reason>``.
    """
    policy = policy or DisclosurePolicy()
    needed = [observed, lists, *measures]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"the estimates table has no column(s) {', '.join(map(repr, missing))}; it needs "
                         f"{', '.join(map(repr, needed))}")
    if FLAG in frame.columns:
        raise InputError(f"the estimates table already has a {FLAG!r} column; pass it before disclosure control")
    has_reason = reason is not None and reason in frame.columns
    out = frame.drop(columns=[observed, lists, *([reason] if has_reason else [])]).copy()
    flags = []
    for r in range(len(frame)):
        why = _why_not(frame, r, policy, observed, lists, reason if has_reason else None)
        if not why and pd.isna(pd.to_numeric(pd.Series([frame[measures[0]].iloc[r]]), errors="coerce").iloc[0]):
            why = "no estimate"
        if why.lower().startswith(("not estimated: ", f"{NOT_ESTIMABLE}: ")):  # the run's own wording
            why = why.partition(": ")[2]
        flags.append(f"{NOT_ESTIMABLE}: {why}" if why else "")
    for m in measures:
        nums = pd.to_numeric(frame[m], errors="coerce").to_numpy(dtype=np.float64)
        out[m] = [np.nan if flags[r] else round_estimate(float(nums[r]), policy) for r in range(len(frame))]
    out[FLAG] = flags
    return out


def _why_not(frame: pd.DataFrame, r: int, policy: DisclosurePolicy, observed: str, lists: str,
             reason: str | None) -> str:
    given = frame[reason].iloc[r] if reason else None
    given_text = "" if given is None or (not isinstance(given, str) and pd.isna(given)) else str(given).strip()
    # The policy's minimums come before the run's own reason: below them only "fewer than …" is published. The
    # run's reasons describe the stratum's capture table (which lists hold all of its persons, that no one is on
    # two lists, even its observed count), which is what a stratum below the minimums must not have published.
    for col, least, noun in ((observed, policy.min_observed, "observed persons"),
                             (lists, policy.min_lists, "lists with records")):
        value = pd.to_numeric(pd.Series([frame[col].iloc[r]]), errors="coerce").iloc[0]
        if pd.isna(value):
            if given_text:
                continue
            raise InputError(f"the estimates table, row {r + 1}, column {col!r}: not a number; it must hold the "
                             f"number of {noun}")
        if value < least:
            return f"fewer than {least} {noun}"
    if any(ch.isdigit() for ch in given_text):
        # above the minimums the run's reason is published, but not a number in it: it can be a count this
        # release publishes only rounded or not at all (dga: "max_n must exceed the observed count N")
        return RUN_REASON_WITH_NUMBERS
    return given_text


#: What a release says instead of a run's reason that holds a number (a count, a list's size)
RUN_REASON_WITH_NUMBERS = (
    "the estimator could not be used on this stratum's table (the reason is in the internal results)"
)


# ------------------------------------------------------------------------------------------------- capture patterns
def capture_pattern_table(histories: CaptureHistories, *, pairs: bool = True) -> pd.DataFrame:
    """The national capture-pattern table as a tidy table for :func:`protect_tables`.

    One column per list (1 = on the list, 0 = not, ``total`` on margins) and ``count``: every one of
    the 2^K patterns (the all-zero one is 0: an observed person is on some list), each list's size
    (its 1, the other lists ``total``), with ``pairs`` each pairwise overlap, and the grand total n.
    Its grand total is the number of observed persons, the same as that of the other tables released.
    """
    k = histories.n_lists
    if k > MAX_PATTERN_LISTS:
        raise InputError(f"the capture-pattern table of {k} lists has 2^{k} cells; it is published for at most "
                         f"{MAX_PATTERN_LISTS} lists (merge lists first)")
    names = list(histories.lists)
    clash = [n for n in names if n in ("count", FLAG)]
    if clash:
        raise InputError(f"a list is named {clash[0]!r}, which the published table uses for its own column; "
                         "rename the list")
    counts = np.asarray(histories.counts)
    masks = np.arange(2**k)
    bits = (masks[:, None] >> np.arange(k)) & 1
    rows: list[dict[str, Any]] = [{**{n: int(b) for n, b in zip(names, bits[m], strict=True)},
                                   "count": int(counts[m])} for m in masks]
    rows.append({**dict.fromkeys(names, TOTAL), "count": int(counts.sum())})
    for j, name in enumerate(names):
        rows.append({**dict.fromkeys(names, TOTAL), name: 1, "count": int(counts[bits[:, j] == 1].sum())})
    if pairs and k > 2:  # with two lists the one overlap is already the pattern 11
        for a in range(k):
            for b in range(a + 1, k):
                both = (bits[:, a] == 1) & (bits[:, b] == 1)
                rows.append({**dict.fromkeys(names, TOTAL), names[a]: 1, names[b]: 1,
                             "count": int(counts[both].sum())})
    return pd.DataFrame(rows, columns=[*names, "count"])


# ------------------------------------------------------------------------------------------------- display
def shown(value: Any, flag: str, policy: DisclosurePolicy | None = None, *,
          number: Callable[[Any], str] = str, withheld: str = "[c]", not_estimable: str = "n.e.") -> str:
    """How a published value appears in a report: ``<11`` for a primary suppression (threshold-aware),
    ``withheld`` for a secondary one, ``not_estimable`` for an estimate not published, else ``number(value)``."""
    policy = policy or DisclosurePolicy()
    if flag == PRIMARY:
        return f"<{policy.threshold}"
    if flag == SECONDARY:
        return withheld
    if flag.startswith(NOT_ESTIMABLE):
        return not_estimable
    if flag:
        raise InputError(f"unknown disclosure flag {flag!r}; the flags are {PRIMARY!r}, {SECONDARY!r} and "
                         f"{NOT_ESTIMABLE!r}: <reason>")
    return number(value)
