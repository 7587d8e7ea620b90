"""Capture histories: the incomplete 2^K table that every estimator reads.

A :class:`CaptureHistories` holds, for K lists, the number of people observed with each capture
pattern. Patterns are stored as bit masks (bit ``i`` set = on list ``i``, lists in column order), so
``counts[mask]`` is the count of that pattern and ``counts[0]`` (never observed) is always 0.

It is the seam between linkage and estimation (DESIGN.md): built from an aggregated table (one 0/1
column per list plus ``count``), from one row per person, or from an entities table produced by
linkage. Every problem in the input is collected and reported at once.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cifranegra.errors import InputError, Problem, ValidationError

if TYPE_CHECKING:  # pandas is imported where a frame is read or made: estimating a table needs none
    import pandas as pd

#: Largest number of lists a :class:`CaptureHistories` holds. The table is dense, 2^K counts: at
#: 24 lists that is 2^24 × 8 bytes = 128 MiB per table (and as much again while it is built, per
#: stratum), beyond which memory, not statistics, decides; the methods' own limits are lower
#: (docs/estimation.md). ``describe`` summarizes wider tables from their observed patterns only.
MAX_LISTS = 24
#: Most lists a table can be read with at all (patterns are 64-bit masks); ``describe`` summarizes
#: tables between :data:`MAX_LISTS` and this from their observed patterns.
MAX_PATTERN_LISTS = 62


class TooManyListsError(InputError):
    """A table has more lists than a :class:`CaptureHistories` holds; ``n_lists`` says how many, so
    that a caller can name the limit of the method it was asked for instead."""

    def __init__(self, message: str, n_lists: int) -> None:
        super().__init__(message)
        self.n_lists = n_lists


def check_table_size(n_lists: int, source: str | None = None) -> None:
    """Refuse, before anything is allocated, a table of more than :data:`MAX_LISTS` lists."""
    if n_lists > MAX_LISTS:
        where = f"{source}: " if source else ""
        raise TooManyListsError(
            f"{where}{n_lists} lists: a capture-history table holds one count for each of the 2^K "
            f"patterns, and cifranegra estimates from at most {MAX_LISTS} lists (2^{MAX_LISTS} cells, "
            f"128 MiB). Merge lists that hold the same kind of source, or leave out small lists; "
            "`cifranegra describe` can still summarize the table",
            n_lists,
        )


class CaptureDataWarning(UserWarning):
    """Something in the capture data was adjusted or is worth knowing (e.g. duplicate patterns summed)."""


#: Largest count of people, in one row and in the whole table: more than any country but two has
#: inhabitants, and far enough below 2^53 (where float64, in which the fits work, stops counting
#: people exactly) that estimates a million times the observed count stay exact.
MAX_COUNT = 10**9

#: words that may stand for 0/1 in a list column; the only text a message quotes back
_KNOWN_WORDS = frozenset(
    {"yes", "no", "y", "n", "si", "sí", "true", "false", "t", "f", "x", "-", "na", "n/a", "nd", "s/d", ".", "nan"}
)


def _show(value: Any) -> str | None:
    """A cell's value as a message may quote it, or None when it must not be shown: small numbers
    as written and a few known words quoted; any other text, long number or date stays hidden (a
    misaligned row can put a name, a CURP or a birth date in any column)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        if math.isnan(value) or math.isinf(value) or abs(value) >= 100_000:
            return None
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
    text = str(value)
    return repr(text) if text.strip().lower() in _KNOWN_WORDS else None


def _kind(value: Any) -> str:
    """What a hidden value is, in words."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return "a large number" if math.isfinite(float(value)) else "not a finite number"
    return "text"


def _popcount(masks: np.ndarray) -> np.ndarray:
    out = np.zeros(masks.shape, dtype=np.int64)
    m = masks.astype(np.int64).copy()
    while np.any(m):
        out += m & 1
        m >>= 1
    return out


@dataclass(frozen=True, eq=False)
class CaptureHistories:
    """Counts of capture patterns over ``lists`` (an incomplete 2^K contingency table).

    ``counts`` has length ``2**n_lists``; ``counts[mask]`` is the number of people seen on exactly the
    lists whose bits are set in ``mask`` (list ``i`` is bit ``i``). ``counts[0]`` is 0: the unobserved
    cell is what we estimate. ``source`` names where the table came from (for messages), ``notes`` keeps
    what was done to the input (e.g. duplicate rows summed).
    """

    lists: tuple[str, ...]
    counts: np.ndarray
    source: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        k = len(self.lists)
        check_table_size(k, self.source)
        counts = np.asarray(self.counts)
        if counts.shape != (2**k,):
            raise InputError(f"counts must have length 2**{k} = {2**k}, got shape {counts.shape}")
        if not np.issubdtype(counts.dtype, np.integer) and (
            not np.all(np.isfinite(counts)) or np.any(counts != np.round(counts))
        ):
            raise InputError("capture counts must be whole numbers")
        if counts.size and (float(np.max(counts)) > MAX_COUNT or float(np.sum(counts, dtype=float)) > MAX_COUNT):
            raise InputError(
                f"capture counts add up to more than {MAX_COUNT:,} people, the limit cifranegra estimates "
                "from (float64 fits count people exactly only well below 2^53); check the counts"
            )
        counts = counts.astype(np.int64)
        counts.setflags(write=False)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "lists", tuple(str(x) for x in self.lists))
        problems = _check_table(self.lists, counts, self.source)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            what = f"capture histories {self.source}" if self.source else "capture histories"
            raise ValidationError(problems, summary=f"{what} cannot be used")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_counts(
        cls,
        counts: Mapping[tuple[int, ...] | str, int] | Sequence[int] | np.ndarray,
        lists: Sequence[str],
        *,
        source: str | None = None,
    ) -> CaptureHistories:
        """From a mask-indexed array of length 2^K, or a mapping pattern → count (patterns as 0/1 tuples
        or strings such as ``"101"``, list 1 first)."""
        k = len(lists)
        check_table_size(k, source)
        if isinstance(counts, Mapping):
            arr = np.zeros(2**k, dtype=np.float64)  # checked as the array form is (whole, finite, >= 0)
            for pattern, c in counts.items():
                if isinstance(pattern, str):
                    bits = [int(ch) if ch in "01" else -1 for ch in pattern]
                else:
                    bits = list(pattern) if isinstance(pattern, (tuple, list)) else [-1]
                if len(bits) != k or any(isinstance(b, bool) or b not in (0, 1) for b in bits):
                    raise InputError(f"pattern {pattern!r} does not have {k} 0/1 entries")
                if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)):
                    raise InputError(f"the count of pattern {pattern!r} must be a whole number, not "
                                     f"{type(c).__name__}")
                mask = sum(b << i for i, b in enumerate(bits))
                arr[mask] += float(c)
            if arr[0] > 0:
                raise InputError(
                    "the all-zero pattern has a positive count; people on no list are unobservable by "
                    "definition: remove that row"
                )
            return cls(tuple(lists), arr, source=source)
        return cls(tuple(lists), np.asarray(counts), source=source)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        lists: Sequence[str] | None = None,
        count: str | None = "count",
        source: str | None = None,
    ) -> CaptureHistories:
        """From a table with one 0/1 column per list and, in aggregated mode, a ``count`` column.

        ``count=None`` reads one row per person. Without ``lists``, every column except ``count`` is a
        list. Duplicate patterns are summed (and a :class:`CaptureDataWarning` says so).
        """
        return _from_frame(cls, df, lists=lists, count=count, strata=(), source=source)[()]

    @classmethod
    def stratified_from_frame(
        cls,
        df: pd.DataFrame,
        *,
        strata: Sequence[str],
        lists: Sequence[str] | None = None,
        count: str | None = "count",
        source: str | None = None,
        drop_empty_lists: bool = False,
    ) -> StrataTables:
        """One table per combination of the ``strata`` columns (keys are tuples of stratum values).

        A list with no one in some stratum makes that stratum's table unusable; with
        ``drop_empty_lists`` it is left out of that stratum only (and the table's notes say so).
        Strata that still cannot be used are listed, with the reason, in the result's ``skipped``.
        """
        from cifranegra._names import as_items

        strata = as_items(strata)  # strata="sex" is the column sex, not s, e and x
        if not strata:
            raise InputError("stratified_from_frame needs at least one stratum column")
        return _from_frame(
            cls, df, lists=lists, count=count, strata=tuple(strata), source=source, drop_empty_lists=drop_empty_lists
        )

    @classmethod
    def from_entities(
        cls,
        entities: pd.DataFrame,
        *,
        entity: str = "entity_id",
        list_column: str = "source",
        lists: Sequence[str] | None = None,
        source: str | None = None,
    ) -> CaptureHistories:
        """From a linkage result: one row per record with the person (entity) id and the list it is on.

        A person on a list twice (duplicates within one list) counts once on that list.
        """
        wide = _entities_to_wide(entities, entity=entity, list_column=list_column, lists=lists, strata=())
        return cls.from_frame(wide.drop(columns=[entity]), lists=list(wide.columns[1:]), count=None, source=source)

    @classmethod
    def stratified_from_entities(
        cls,
        entities: pd.DataFrame,
        *,
        strata: Sequence[str],
        entity: str = "entity_id",
        list_column: str = "source",
        lists: Sequence[str] | None = None,
        source: str | None = None,
    ) -> StrataTables:
        """One table per stratum. A person whose records disagree on a stratum value (say one agency
        recorded the sex and another did not) is assigned the most frequent non-missing value, ties
        broken by sort order; each such resolution is counted in the tables' ``notes``."""
        if not strata:
            raise InputError("stratified_from_entities needs at least one stratum column")
        wide = _entities_to_wide(entities, entity=entity, list_column=list_column, lists=lists, strata=tuple(strata))
        list_cols = [c for c in wide.columns if c not in (entity, *strata)]
        conflicts = wide.attrs.get("stratum_conflicts", 0)
        out = _from_frame(
            cls,
            wide.drop(columns=[entity]),
            lists=list_cols,
            count=None,
            strata=tuple(strata),
            source=source,
            drop_empty_lists=True,
        )
        if conflicts:
            note = f"{conflicts} person(s) had records disagreeing on a stratum; the most frequent value was used"
            for key, v in list(out.items()):
                out[key] = CaptureHistories(v.lists, v.counts, v.source, (*v.notes, note))
        return out

    # ------------------------------------------------------------------ basic facts
    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def observed(self) -> int:
        """Number of distinct people observed on at least one list."""
        return int(self.counts.sum())

    def pattern_matrix(self, *, observed_only: bool = True) -> np.ndarray:
        """0/1 matrix of patterns (rows) × lists, mask order; only positive-count rows by default."""
        masks = self.masks(observed_only=observed_only)
        return ((masks[:, None] >> np.arange(self.n_lists)) & 1).astype(np.int8)

    def masks(self, *, observed_only: bool = True) -> np.ndarray:
        all_masks = np.arange(1, 2**self.n_lists)
        if observed_only:
            return all_masks[self.counts[1:] > 0]
        return all_masks

    def list_sizes(self) -> pd.Series:
        """People on each list."""
        return _list_sizes(self.lists, *self._observed())

    def list_size_counts(self) -> dict[str, int]:
        """People on each list, by list name (as :meth:`list_sizes`, without building a pandas object)."""
        sizes = _list_size_array(self.n_lists, *self._observed())
        return {name: int(v) for name, v in zip(self.lists, sizes, strict=True)}

    def overlaps(self) -> pd.DataFrame:
        """Pairwise overlaps: people on both lists i and j (diagonal = list sizes)."""
        return _overlaps(self.lists, *self._observed())

    def _observed(self) -> tuple[np.ndarray, np.ndarray]:
        masks = np.flatnonzero(self.counts)
        return masks, self.counts[masks]

    def non_overlapping_pairs(self) -> list[tuple[str, str]]:
        """Pairs of lists with no one in common (their interaction cannot be estimated)."""
        ov = _overlap_matrix(self.n_lists, *self._observed())
        return [
            (self.lists[i], self.lists[j])
            for i in range(self.n_lists)
            for j in range(i + 1, self.n_lists)
            if ov[i, j] == 0
        ]

    def counts_by_number_of_lists(self) -> pd.Series:
        """People seen on exactly 1, 2, ..., K lists."""
        return _by_number_of_lists(self.n_lists, *self._observed())

    def to_frame(self, *, include_zero: bool = False) -> pd.DataFrame:
        """Aggregated table: one 0/1 column per list plus ``count`` (mask order)."""
        import pandas as pd

        masks = self.masks(observed_only=not include_zero)
        mat = ((masks[:, None] >> np.arange(self.n_lists)) & 1).astype(np.int64)
        df = pd.DataFrame(mat, columns=list(self.lists))
        df["count"] = self.counts[masks]
        return df

    def fingerprint(self) -> str:
        """SHA-256 of the list names and counts: identifies the input of every result."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.lists).encode())
        h.update(b"\x1e")
        h.update(self.counts.astype("<i8").tobytes())
        return h.hexdigest()

    def with_counts(self, counts: np.ndarray) -> CaptureHistories:
        """Same lists, other counts (used by the bootstrap and the jackknife); unchecked fast path."""
        obj = object.__new__(CaptureHistories)
        c = np.asarray(counts, dtype=np.int64)
        c.setflags(write=False)
        object.__setattr__(obj, "lists", self.lists)
        object.__setattr__(obj, "counts", c)
        object.__setattr__(obj, "source", self.source)
        object.__setattr__(obj, "notes", self.notes)
        return obj

    def select_lists(self, keep: Sequence[str | int]) -> CaptureHistories:
        """The table restricted to some lists (people seen only on dropped lists disappear)."""
        if isinstance(keep, str):
            keep = [keep]
        idx = []
        for x in keep:
            if isinstance(x, str) and x in self.lists:
                idx.append(self.lists.index(x))
            elif isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= int(x) < self.n_lists:
                idx.append(int(x))
            else:
                raise InputError(f"no list {x!r}; lists are {list(self.lists)} (or their positions 0 to "
                                 f"{self.n_lists - 1})")
        if len(set(idx)) != len(idx):
            raise InputError("a list is named twice; name each once")
        k2 = len(idx)
        new = np.zeros(2**k2, dtype=np.int64)
        masks, counts = self._observed()
        np.add.at(new, _gather_bits(masks, idx), counts)
        new[0] = 0
        return CaptureHistories(tuple(self.lists[i] for i in idx), new, source=self.source)

    def merge_lists(self, groups: Sequence[Sequence[str]], names: Sequence[str] | None = None) -> CaptureHistories:
        """Merge lists: a person is on a merged list if on any of its members. ``groups`` partition
        (a subset of) the lists; lists not named keep their own column."""
        named = [x for g in groups for x in g]
        for x in named:
            if x not in self.lists:
                raise InputError(f"cannot merge unknown list {x!r}; lists are {list(self.lists)}")
        if len(set(named)) != len(named):
            raise InputError("a list appears in two merge groups")
        if names is not None and len(names) != len(groups):
            raise InputError(f"{len(names)} name(s) for {len(groups)} merge group(s); give one name per group")
        new_groups: list[list[int]] = []
        new_names: list[str] = []
        for gi, g in enumerate(groups):
            new_groups.append([self.lists.index(x) for x in g])
            new_names.append(names[gi] if names else "+".join(g))
        for i, x in enumerate(self.lists):
            if x not in named:
                new_groups.append([i])
                new_names.append(x)
        new = np.zeros(2 ** len(new_groups), dtype=np.int64)
        masks, counts = self._observed()
        merged = np.zeros(masks.shape, dtype=np.int64)
        for gi, members in enumerate(new_groups):
            group_mask = sum(1 << i for i in members)
            merged |= ((masks & group_mask) != 0).astype(np.int64) << gi
        np.add.at(new, merged, counts)
        return CaptureHistories(tuple(new_names), new, source=self.source)

    def describe(self) -> dict[str, Any]:
        """Everything `cifranegra describe` shows, as plain data."""
        masks, counts = self._observed()
        return describe_patterns(
            self.lists, masks, counts, source=self.source, notes=self.notes, fingerprint=self.fingerprint()
        )

    def __repr__(self) -> str:
        return f"CaptureHistories(lists={list(self.lists)}, observed={self.observed})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CaptureHistories):
            return NotImplemented
        return self.lists == other.lists and np.array_equal(self.counts, other.counts)

    def __hash__(self) -> int:
        return hash((self.lists, self.counts.tobytes()))


#: Largest file the plain reading takes (a 24-list table of every pattern is about 1.3 MB per million rows)
_PLAIN_MAX_BYTES = 64 * 1024**2


def read_plain_csv(
    path: str | Path, *, lists: Sequence[str] | None = None, count: str = "count"
) -> CaptureHistories | None:
    """An aggregated table read without pandas when the file is as plain as a table can be, else None.

    Plain means: a ``.csv`` file in UTF-8, comma-separated, no quotes, a header of distinct non-blank
    names holding ``count`` and the lists, every row with as many fields as the header, list cells
    exactly ``0`` or ``1``, counts written as digits, no row on no list and no pattern listed twice.
    Anything else returns None and :func:`cifranegra.ingest.capture_table.read_capture_histories` reads
    the file with the general reader, which finds and reports every problem; so this changes how fast
    a table is read, never what is read or what is said about it. Why: the bundled tables and the
    ``capture_histories.csv`` a run writes are plain, and importing pandas costs more than most estimators take
    (issue #17, item 7).
    """
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return None
    try:
        if not p.is_file() or p.stat().st_size > _PLAIN_MAX_BYTES:
            return None
        text = p.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if '"' in text or "\x00" in text:
        return None
    rows = text.splitlines()
    if len(rows) < 2:
        return None
    names = [h.strip() for h in rows[0].split(",")]
    if any(not h for h in names) or len(set(names)) != len(names) or count not in names:
        return None
    wanted = [h for h in names if h != count] if lists is None else [str(x) for x in lists]
    if not 2 <= len(wanted) <= MAX_LISTS or any(h not in names or h == count for h in wanted):
        return None
    where = [names.index(h) for h in wanted]
    at_count = names.index(count)
    width = len(names)
    masks: list[int] = []
    counts: list[int] = []
    for line in rows[1:]:
        cells = line.split(",")
        if len(cells) != width:
            return None
        mask = 0
        for bit, i in enumerate(where):
            cell = cells[i]
            if cell == "1":
                mask |= 1 << bit
            elif cell != "0":
                return None
        value = cells[at_count]
        if mask == 0 or not (value.isascii() and value.isdigit()) or len(value) > 15:
            return None
        masks.append(mask)
        counts.append(int(value))
    if len(set(masks)) != len(masks):
        return None  # repeated patterns are summed by the general reader, with a warning
    table = np.zeros(2 ** len(wanted), dtype=np.int64)
    table[masks] = counts
    try:
        return CaptureHistories(tuple(wanted), table, source=p.name)
    except (InputError, ValidationError):
        return None  # the general reader reports it, by row


# ---------------------------------------------------------------------- summaries from observed patterns
def _list_size_array(k: int, masks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts.astype(np.int64) @ _bits(masks, k))


def _list_sizes(lists: Sequence[str], masks: np.ndarray, counts: np.ndarray) -> pd.Series:
    import pandas as pd

    sizes = _list_size_array(len(lists), masks, counts)
    return pd.Series([int(x) for x in sizes], index=list(lists), name="size")


def _overlap_matrix(k: int, masks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    on = _bits(masks, k)
    return np.asarray((on * counts.astype(np.int64)[:, None]).T @ on)


def _overlaps(lists: Sequence[str], masks: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(_overlap_matrix(len(lists), masks, counts), index=list(lists), columns=list(lists))


def _by_number_of_lists(k: int, masks: np.ndarray, counts: np.ndarray) -> pd.Series:
    import pandas as pd

    n_on = _popcount(np.asarray(masks, dtype=np.int64))
    vals = np.bincount(n_on, weights=counts, minlength=k + 1)[1 : k + 1].astype(np.int64)
    return pd.Series([int(v) for v in vals], index=pd.RangeIndex(1, k + 1, name="lists"), name="people")


def describe_patterns(
    lists: Sequence[str],
    masks: np.ndarray,
    counts: np.ndarray,
    *,
    source: str | None = None,
    notes: Sequence[str] = (),
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """List sizes, pairwise overlaps, people by number of lists and the observed patterns, from the
    observed patterns alone (bit masks and counts): no 2^K table, so it serves tables of up to
    :data:`MAX_PATTERN_LISTS` lists."""
    masks = np.asarray(masks, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    order = np.argsort(masks, kind="stable")
    masks, counts = masks[order], counts[order]
    keep = counts > 0
    masks, counts = masks[keep], counts[keep]
    lists = list(lists)
    k = len(lists)
    ov = _overlap_matrix(k, masks, counts)
    bits = _bits(masks, k)
    return {
        "source": source,
        "lists": lists,
        "observed": int(counts.sum()),
        "list_sizes": {a: int(ov[i, i]) for i, a in enumerate(lists)},
        "overlaps": {f"{a}&{lists[j]}": int(ov[i, j]) for i, a in enumerate(lists) for j in range(i + 1, k)},
        "non_overlapping_pairs": [[a, lists[j]] for i, a in enumerate(lists) for j in range(i + 1, k) if ov[i, j] == 0],
        "by_number_of_lists": {m: int(v) for m, v in _by_number_of_lists(k, masks, counts).items()},
        "patterns": {"".join(str(b) for b in row): int(c) for row, c in zip(bits, counts, strict=True)},
        "fingerprint": fingerprint,
        "notes": list(notes),
    }


def describe_frame(
    df: pd.DataFrame,
    *,
    lists: Sequence[str] | None = None,
    count: str | None = "count",
    strata: Sequence[str] = (),
    source: str | None = None,
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """:func:`describe_patterns` of a table given as a frame (one per stratum, keyed by the stratum
    values; one with key ``()`` without strata), every row checked as for estimation. Works up to
    :data:`MAX_PATTERN_LISTS` lists, beyond the :data:`MAX_LISTS` of a :class:`CaptureHistories`."""
    strata = tuple(strata)
    # the summed duplicates are a note of each stratum's description (describe prints it), not also a warning
    df, names, mask, cnt, dup = _parse_rows(df, lists=lists, count=count, strata=strata, source=source, warn=False)
    groups = _stratum_indices(df, strata) if strata else {(): np.arange(len(df))}
    out = []
    texts = _stratum_texts(strata, groups)
    for key, idx in groups.items():
        uniq, inverse = np.unique(mask[idx], return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=cnt[idx], minlength=uniq.size).astype(np.int64)
        label = source if not key else f"{source or 'table'} stratum {texts[key]}"
        out.append((key, describe_patterns(names, uniq, counts, source=label, notes=_duplicate_notes(dup[idx]))))
    return out


# ---------------------------------------------------------------------- helpers
def _check_table(lists: tuple[str, ...], counts: np.ndarray, source: str | None) -> list[Problem]:
    problems: list[Problem] = []
    k = len(lists)
    if k < 2:
        problems.append(
            Problem(
                source,
                None,
                None,
                "error",
                "too_few_lists",
                f"capture–recapture needs at least two lists, found {k} ({list(lists)}); "
                "add another agency's list or check the column names",
            )
        )
        return problems
    if len(set(lists)) != k:
        dup = sorted({x for x in lists if lists.count(x) > 1})
        problems.append(
            Problem(
                source,
                None,
                None,
                "error",
                "duplicate_list_name",
                f"list names must be unique, repeated: {dup}; rename the columns",
            )
        )
    if np.any(counts < 0):
        problems.append(Problem(source, None, "count", "error", "negative_count", "counts must be zero or positive"))
    if counts[0] > 0:
        problems.append(
            Problem(
                source,
                None,
                None,
                "error",
                "all_zero_pattern",
                f"the all-zero pattern has count {int(counts[0])}: people on no list are "
                "unobservable by definition; remove that row",
            )
        )
    masks = np.arange(2**k)
    for i, name in enumerate(lists):
        if counts[(masks >> i) & 1 == 1].sum() == 0:
            problems.append(
                Problem(
                    source,
                    None,
                    name,
                    "error",
                    "empty_list",
                    f"list {name!r} has no records; drop the column or check the data",
                )
            )
    return problems


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class StrataTables(dict[tuple[Any, ...], CaptureHistories]):
    """Tables by stratum; ``skipped`` maps strata that cannot be used to the reason. ``pooled`` is
    the whole table (every row, whatever its stratum: the pooled fit that the stratified total is
    set against), or None with the reason in ``pooled_error``."""

    skipped: dict[tuple[Any, ...], str]
    #: persons observed in each skipped stratum
    skipped_observed: dict[tuple[Any, ...], int]
    #: each skipped stratum's lists and 2^K counts (not a table: it could not be one), so that what
    #: is written of the strata still holds every person
    skipped_counts: dict[tuple[Any, ...], tuple[tuple[str, ...], np.ndarray]]
    pooled: CaptureHistories | None
    pooled_error: str | None

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.skipped = {}
        self.skipped_observed = {}
        self.skipped_counts = {}
        self.pooled = None
        self.pooled_error = None


def _from_frame(
    cls: type[CaptureHistories],
    df: pd.DataFrame,
    *,
    lists: Sequence[str] | None,
    count: str | None,
    strata: tuple[str, ...],
    source: str | None,
    drop_empty_lists: bool = False,
) -> StrataTables:
    resolved = lists if lists is not None else [str(c) for c in df.columns if str(c) != count and str(c) not in strata]
    check_table_size(len(resolved), source)  # before anything of size 2^K
    df, lists, mask, cnt, dup = _parse_rows(df, lists=lists, count=count, strata=strata, source=source)
    notes = _duplicate_notes(dup)
    k = len(lists)
    groups: dict[tuple[Any, ...], np.ndarray] = {}
    group_notes: dict[tuple[Any, ...], list[str]] = {}
    if strata:
        indices = _stratum_indices(df, strata)
        _check_strata_memory(len(indices), k, source)
        for key_t, idx in indices.items():
            groups[key_t] = np.bincount(mask[idx], weights=cnt[idx], minlength=2**k).astype(np.int64)
            group_notes[key_t] = _duplicate_notes(dup[idx])
    else:
        groups[()] = np.bincount(mask, weights=cnt, minlength=2**k).astype(np.int64)
        group_notes[()] = notes
    out = StrataTables()
    texts = _stratum_texts(strata, groups)
    for key, arr in groups.items():
        label = source if not key else f"{source or 'table'} stratum {texts[key]}"
        names = tuple(lists)
        notes_k = list(group_notes[key])
        if strata and drop_empty_lists:
            observed = np.flatnonzero(arr)
            on = _bits(observed, k)
            empty = [i for i in range(k) if arr[observed][on[:, i] == 1].sum() == 0]
            if empty:
                keep = [i for i in range(k) if i not in empty]
                new = np.zeros(2 ** len(keep), dtype=np.int64)
                np.add.at(new, _gather_bits(observed, keep), arr[observed])
                new[0] = 0
                notes_k.append(
                    "list(s) "
                    + ", ".join(repr(names[i]) for i in empty)
                    + " have no one in this stratum and were left out of it"
                )
                arr, names = new, tuple(names[i] for i in keep)
        problems_k = _check_table(names, arr, label)
        errors_k = [p for p in problems_k if p.severity == "error"]
        if errors_k and strata:
            out.skipped[key] = "; ".join(p.message for p in errors_k)
            out.skipped_observed[key] = int(arr.sum())
            out.skipped_counts[key] = (names, arr)
            continue
        if errors_k:
            raise ValidationError(problems_k, summary=f"{source or 'the table'} cannot be used")
        out[key] = cls(names, arr, source=label, notes=tuple(notes_k))
    if strata:
        whole = np.bincount(mask, weights=cnt, minlength=2**k).astype(np.int64)
        errors = [p for p in _check_table(tuple(lists), whole, source) if p.severity == "error"]
        if errors:
            out.pooled_error = "; ".join(p.message for p in errors)
        else:
            out.pooled = cls(tuple(lists), whole, source=source, notes=tuple(notes))
    return out


#: memory the dense tables of all strata may take together (2 GiB)
STRATA_MEMORY = 2 * 1024**3


def _check_strata_memory(n_strata: int, k: int, source: str | None) -> None:
    need = n_strata * 2**k * 8 * 2  # int64 counts, and as much again while each is built
    if need > STRATA_MEMORY:
        raise InputError(
            f"{source + ': ' if source else ''}{n_strata} strata × 2^{k} patterns would take "
            f"{need / 1024**3:.1f} GiB (the limit is {STRATA_MEMORY / 1024**3:.0f} GiB); use fewer strata "
            "(coarser groups) or fewer lists"
        )


def _stratum_texts(strata: Sequence[str], keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], str]:
    """Each stratum as messages may show it (a column that looks like an identifier masked:
    :func:`cifranegra.schema.records.stratum_labels`)."""
    from cifranegra.schema.records import stratum_labels

    if not strata:
        return {}
    return {k: ", ".join(f"{c}={v}" for c, v in d.items()) for k, d in stratum_labels(strata, keys).items()}


def _stratum_indices(df: pd.DataFrame, strata: Sequence[str]) -> dict[tuple[Any, ...], np.ndarray]:
    keyframe = df[list(strata)].astype(object).where(df[list(strata)].notna(), "unknown")
    out = {}
    for key, idx in keyframe.groupby(list(strata), sort=True, dropna=False).indices.items():
        out[tuple(key) if isinstance(key, tuple) else (key,)] = np.asarray(idx)
    return out


def _bits(masks: np.ndarray, k: int) -> np.ndarray:
    """patterns × lists 0/1 matrix of bit masks."""
    return ((np.asarray(masks, dtype=np.int64)[:, None] >> np.arange(k)) & 1).astype(np.int64)


def _gather_bits(masks: np.ndarray, keep: Sequence[int]) -> np.ndarray:
    """The masks restricted to the lists ``keep``, renumbered in that order."""
    masks = np.asarray(masks, dtype=np.int64)
    out = np.zeros(masks.shape, dtype=np.int64)
    for pos, i in enumerate(keep):
        out |= ((masks >> i) & 1) << pos
    return out


def _parse_rows(
    df: pd.DataFrame,
    *,
    lists: Sequence[str] | None,
    count: str | None,
    strata: tuple[str, ...],
    source: str | None,
    warn: bool = True,
) -> tuple[pd.DataFrame, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every row checked (every problem at once): the frame, the lists, each row's pattern as a bit
    mask and its count, and which rows repeat a pattern of their stratum (summed; with ``warn``, a
    :class:`CaptureDataWarning` says how many). Nothing here is of size 2^K (masks hold up to 62 lists)."""
    import pandas as pd

    problems: list[Problem] = []
    columns = [str(c) for c in df.columns]
    df = df.copy()
    df.columns = columns
    for s in strata:
        if s not in columns:
            problems.append(
                Problem(
                    source, None, s, "error", "missing_column", f"stratum column {s!r} not found; columns are {columns}"
                )
            )
    if count is not None and count not in columns:
        problems.append(
            Problem(
                source,
                None,
                count,
                "error",
                "missing_count",
                f"no {count!r} column: an aggregated table needs one count per pattern; name the count "
                "column with --count COL, or, for one row per person, pass --per-person "
                "(count=None in Python)",
            )
        )
    if lists is None:
        lists = [c for c in columns if c != count and c not in strata]
    else:
        for c in lists:
            if c not in columns:
                problems.append(
                    Problem(
                        source,
                        None,
                        c,
                        "error",
                        "missing_column",
                        f"list column {c!r} not found; columns are {columns}",
                    )
                )
    if problems:
        raise ValidationError(problems, summary=f"{source or 'the table'} cannot be read")
    lists = list(lists)
    if len(lists) > MAX_PATTERN_LISTS:
        raise InputError(
            f"{source + ': ' if source else ''}{len(lists)} lists: a capture pattern is held as a 64-bit mask, "
            f"so at most {MAX_PATTERN_LISTS} lists can be read; merge lists or leave some out"
        )
    if len(lists) < 2:
        raise ValidationError(
            [
                Problem(
                    source,
                    None,
                    None,
                    "error",
                    "too_few_lists",
                    f"capture–recapture needs at least two lists, found {len(lists)} ({lists}); "
                    "each list is one 0/1 column",
                )
            ],
            summary=f"{source or 'the table'} cannot be used",
        )
    # --- cell-level checks, every problem at once
    values: dict[str, np.ndarray] = {}
    invalid = np.zeros(len(df), dtype=bool)
    for c in lists:
        col = df[c]
        num = pd.to_numeric(col, errors="coerce")
        bad = ~num.isin([0, 1]) | num.isna()
        shown = 3 if bad.mean() > 0.5 else 100
        for r in np.flatnonzero(bad.to_numpy())[:shown]:
            v = col.iloc[r]
            quoted = _show(v)
            if _is_blank(v):
                what = "is empty"
            elif quoted is None:
                what = f"is {_kind(v)}, not 0 or 1 (not shown: it may identify someone)"
            else:
                what = f"{quoted} is not 0 or 1"
            problems.append(
                Problem(
                    source,
                    int(r) + 1,
                    c,
                    "error",
                    "not_binary",
                    f"value {what}; list columns hold 0 (not on the list) or 1 (on it)",
                )
            )
        if bad.sum() > shown:
            problems.append(
                Problem(
                    source,
                    None,
                    c,
                    "error",
                    "not_binary",
                    f"{int(bad.sum()) - shown} more values in {c!r} are not 0 or 1",
                )
            )
        invalid |= bad.to_numpy()
        values[c] = num.where(~bad, 0).to_numpy().astype(np.int64)
    if count is not None:
        col = df[count]
        num = pd.to_numeric(col, errors="coerce")
        numv = num.to_numpy(dtype=float)
        bad_nan = ~np.isfinite(numv)
        with np.errstate(invalid="ignore"):
            bad_neg = ~bad_nan & (numv < 0)
            bad_huge = ~bad_nan & (numv > MAX_COUNT)
            bad_frac = ~bad_nan & ~bad_huge & (numv != np.round(numv))
        bad_any = bad_nan | bad_neg | bad_huge | bad_frac
        for r in np.flatnonzero(bad_any)[:100]:
            v = col.iloc[r]
            quoted = _show(v)
            if _is_blank(v):
                why = "is empty"
            elif bad_nan[r]:
                hidden = "is text, not a number (not shown: it may identify someone)"
                why = "is infinite" if np.isinf(numv[r]) else (f"{quoted} is not a number" if quoted else hidden)
            elif bad_neg[r]:
                why = f"{quoted} is negative" if quoted else "is negative"
            elif bad_huge[r]:
                why = f"is above the limit of {MAX_COUNT:,} people"
            else:
                why = f"{quoted} is not a whole number" if quoted else "is not a whole number"
            problems.append(
                Problem(
                    source,
                    int(r) + 1,
                    count,
                    "error",
                    "bad_count",
                    f"count {why}; counts are whole numbers of people from 0 to {MAX_COUNT:,}",
                )
            )
        if bad_any.sum() > 100:
            problems.append(
                Problem(source, None, count, "error", "bad_count", f"{int(bad_any.sum()) - 100} more bad counts")
            )
        cnt = np.where(bad_any, 0, numv).astype(np.int64)
        if not bad_any.any() and float(numv.sum()) > MAX_COUNT:
            problems.append(
                Problem(
                    source,
                    None,
                    count,
                    "error",
                    "too_many_people",
                    f"the counts add up to more than {MAX_COUNT:,} people, the limit cifranegra "
                    "estimates from (float64 fits count people exactly only well below 2^53); "
                    "check the count column",
                )
            )
    else:
        cnt = np.ones(len(df), dtype=np.int64)
    mask = np.zeros(len(df), dtype=np.int64)
    for i, c in enumerate(lists):
        mask |= values[c] << i
    zero_rows = np.flatnonzero((mask == 0) & (cnt > 0) & ~invalid)
    # columns left unread because the caller chose the lists (--lists): a row is then all zeros over
    # the chosen lists when its people are only on the others; "remove this row" would mislead
    not_read = [c for c in columns if c not in lists and c != count and c not in strata]
    if count is not None:
        for r in zero_rows[:100]:
            why = (
                "its people are on none of the lists read, only on column(s) not read as lists"
                if not_read
                else "people on no list are unobservable by definition; remove this row"
            )
            problems.append(
                Problem(
                    source, int(r) + 1, None, "error", "all_zero_pattern",
                    f"pattern of all zeros with count {int(cnt[r])}: {why}",
                )
            )
    elif len(zero_rows):
        problems.append(
            Problem(
                source,
                int(zero_rows[0]) + 1,
                None,
                "error",
                "all_zero_pattern",
                f"{len(zero_rows)} person row(s) are on no list (first: row "
                f"{int(zero_rows[0]) + 1}); every person must be on at least one list",
            )
        )
    if not_read and len(zero_rows):
        problems.append(
            Problem(
                source, None, None, "error", "all_zero_pattern",
                f"only {lists} are read as lists (--lists; lists= in Python), so the column(s) {not_read} are "
                "not, and rows whose people are only on those have a pattern of all zeros: to estimate from "
                "the chosen lists alone, leave those rows out of the table (their people are unseen by "
                "these lists); to use every list, name them all or leave out --lists",
            )
        )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(problems, summary=f"{source or 'the table'} cannot be used")
    dup = np.zeros(len(mask), dtype=bool)
    if count is not None:
        keys = pd.DataFrame({"mask": mask, **{s: df[s].to_numpy() for s in strata}})
        dup = (keys.duplicated(keep=False) & (cnt >= 0)).to_numpy()
        if warn and dup.any():
            warnings.warn(f"{source or 'table'}: {_duplicate_notes(dup)[0]}", CaptureDataWarning, stacklevel=4)
    return df, lists, mask, cnt, dup


def _duplicate_notes(dup: np.ndarray) -> list[str]:
    """The note on rows that repeat a capture pattern, among the rows ``dup`` flags (of one stratum,
    or of the whole table)."""
    n = int(dup.sum())
    return [f"{n} rows repeat a capture pattern already listed; their counts were summed"] if n else []


def _entities_to_wide(
    entities: pd.DataFrame,
    *,
    entity: str,
    list_column: str,
    lists: Sequence[str] | None,
    strata: tuple[str, ...],
) -> pd.DataFrame:
    import pandas as pd

    missing = [c for c in (entity, list_column, *strata) if c not in entities.columns]
    if missing:
        raise InputError(f"the entities table lacks column(s) {missing}; it has {list(entities.columns)}")
    if entities[entity].isna().any():
        raise InputError(
            f"{int(entities[entity].isna().sum())} record(s) have no {entity!r}: every record "
            "must belong to a person (a singleton is its own person)"
        )
    present = sorted(entities[list_column].astype(str).unique())
    if lists is None:
        lists = present
    else:
        unknown = sorted(set(present) - set(lists))
        if unknown:
            raise InputError(f"records on list(s) {unknown} not named in lists={list(lists)}")
    flags = pd.crosstab(entities[entity], entities[list_column].astype(str)).reindex(columns=list(lists), fill_value=0)
    wide = (flags > 0).astype(np.int64)
    wide.columns = [str(c) for c in wide.columns]
    wide = wide.reset_index()
    conflicts = 0
    for s in strata:
        sub = entities[[entity, s]].dropna()
        sub = sub[sub[s].astype(str).str.lower() != "unknown"]
        nun = sub.groupby(entity)[s].nunique()
        conflicts += int((nun > 1).sum())
        best = (
            sub.groupby([entity, s])
            .size()
            .rename("n")
            .reset_index()
            .sort_values([entity, "n", s], ascending=[True, False, True])
            .drop_duplicates(entity)
            .set_index(entity)[s]
        )
        wide[s] = wide[entity].map(best).fillna("unknown")
    wide.attrs["stratum_conflicts"] = conflicts
    return wide
