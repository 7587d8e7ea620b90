"""Read capture-history tables (aggregated or one row per person) from CSV, XLSX or Parquet files.

Whatever the file holds, the outcome is a table or a :class:`~cifranegra.errors.ValidationError`
listing every problem by row and column: misaligned rows (wrong number of fields), repeated
headers, values that are not 0/1, counts that are empty, negative, fractional, infinite or above
:data:`~cifranegra.estimation.histories.MAX_COUNT`. No message quotes a cell's text, nor the headers of
a file whose header row is a record (an agency list without one: see :func:`_data_headers`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cifranegra.errors import CifranegraError, Problem, ValidationError
from cifranegra.estimation.histories import CaptureHistories, describe_frame, read_plain_csv

if TYPE_CHECKING:  # the general reader (pandas) is imported only when the plain reading below does not apply
    import pandas as pd

T = TypeVar("T")


def _numeric(df: pd.DataFrame, keep_text: Sequence[str] = ()) -> pd.DataFrame:
    """Number-like cells as numbers, except in the columns named in ``keep_text`` (the strata: a
    state written ``01`` is the stratum ``01``, as the run that wrote the table labels it, not 1)."""
    import pandas as pd

    out = df.copy()
    keep = set(keep_text)
    for i in range(out.shape[1]):
        if str(out.columns[i]).strip() in keep:
            continue
        col = out.iloc[:, i]
        conv = pd.to_numeric(col, errors="coerce")
        # keep text where it is not a number, so errors can say what kind of value it is
        out.isetitem(i, conv.where(conv.notna() | col.isna(), col).to_numpy())
    return out


def _header_problems(columns: list[str], name: str, blank: Sequence[int] = ()) -> list[Problem]:
    """Blank and repeated headers; ``blank``: 0-based positions the reader found without a header (it
    names them ``Unnamed: i``, as pandas does)."""
    problems = []
    seen: dict[str, int] = {}
    for i, c in enumerate(columns, start=1):
        if not c or i - 1 in blank:
            problems.append(Problem(name, None, None, "error", "blank_header",
                                    f"column {i} has no header; name it (a list name, 'count' or a stratum)"))
        elif c in seen:
            problems.append(Problem(name, None, c, "error", "duplicate_header",
                                    f"columns {seen[c]} and {i} have the same header; every column needs its own "
                                    "name: rename or remove the repeated one"))
        else:
            seen[c] = i
    return problems


def read_capture_histories(
    path: str | Path,
    *,
    lists: Sequence[str] | None = None,
    count: str | None = "count",
    strata: Sequence[str] = (),
) -> CaptureHistories | dict[tuple[Any, ...], CaptureHistories]:
    """A capture-history table from a file: one 0/1 column per list plus ``count`` (aggregated), or one
    row per person (``count=None``; ``--per-person`` on the command line); with ``strata``, one
    table per stratum (a dict).

    Without ``count`` in the file, with every column 0/1 and some pattern on two rows or more, the file
    is read one row per person, and the table's notes say so; when no pattern repeats (an aggregated table
    that lost its count column reads the same) the missing column is an error unless ``count=None``.
    """
    if not strata and count is not None:
        plain = read_plain_csv(path, lists=lists, count=count)
        if plain is not None:
            _refuse_identifying_headers(plain.lists, Path(path).name)
            return plain

    def build(df: pd.DataFrame, name: str) -> CaptureHistories | dict[tuple[Any, ...], CaptureHistories]:
        cnt = _count_column(df, count, strata)
        out: CaptureHistories | dict[tuple[Any, ...], CaptureHistories]
        if strata:
            out = CaptureHistories.stratified_from_frame(
                df, strata=list(strata), lists=lists, count=cnt, source=name, drop_empty_lists=True
            )
        else:
            out = CaptureHistories.from_frame(df, lists=lists, count=cnt, source=name)
        return _noted(out, _per_person_note(len(df), count)) if count is not None and cnt is None else out

    return _read(path, build, strata)


def describe_capture_table(
    path: str | Path,
    *,
    lists: Sequence[str] | None = None,
    count: str | None = "count",
    strata: Sequence[str] = (),
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """What ``cifranegra describe`` shows (list sizes, overlaps, patterns), per stratum, read and checked
    as :func:`read_capture_histories` does but from the observed patterns only, so that tables with
    more lists than any estimator takes (up to 62) can still be summarized."""

    def build(df: pd.DataFrame, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        cnt = _count_column(df, count, strata)
        out = describe_frame(df, lists=lists, count=cnt, strata=strata, source=name)
        return _noted(out, _per_person_note(len(df), count)) if count is not None and cnt is None else out

    return _read(path, build, strata)


def read_table(path: str | Path) -> tuple[pd.DataFrame, Any]:
    """:func:`cifranegra.ingest.readers.read_table`, imported when a file needs it (it brings pandas)."""
    from cifranegra.ingest.readers import read_table as general

    return general(path)


def _data_headers(columns: Sequence[str], df: pd.DataFrame | None = None) -> dict[str, str]:
    """``{header: masked label}`` when the header row may hold a record rather than names (an agency
    list without a header row, or one passed where a capture table is expected): some header is shaped
    like a CURP, a date, a long number or an e-mail, or fewer than two columns of ``df`` look like list
    columns (at least half of their filled cells 0 or 1), as every capture table has at least two. The
    second test catches a first record of names only ("MARÍA,HERNÁNDEZ,LÓPEZ,F"), which no shape test
    can tell from list names. Then no header may be quoted, as no cell may; each is shown masked with
    its position (``'RI*** #1'``). Else ``{}``: the headers are list, count and stratum names, quoted as
    they are."""
    from cifranegra.schema.shapes import looks_identifying

    if any(looks_identifying(c) for c in columns) or (df is not None and _list_like_columns(df) < 2):
        return {c: _masked_header(c, i) for i, c in enumerate(columns, start=1)}
    return {}


def _masked_header(header: str, position: int) -> str:
    """A header as messages may show one that could be data: masked, with its position (``'RI*** #1'``)."""
    from cifranegra.schema.fields import mask_value

    return f"{mask_value(header)} #{position}"


def _list_like_columns(df: pd.DataFrame) -> int:
    """How many columns of ``df`` have at least half of their filled cells equal to 0 or 1 (as text
    or as numbers), as a list column of a capture table has all of them."""
    found = 0
    for i in range(df.shape[1]):
        cells = df.iloc[:, i].dropna().astype(str).str.strip()
        cells = cells[cells != ""]
        if len(cells) and 2 * int(cells.isin(("0", "1", "0.0", "1.0")).sum()) >= len(cells):
            found += 1
    return found


def _without_headers(exc: CifranegraError, labels: dict[str, str]) -> CifranegraError:
    """``exc`` with every header of ``labels`` replaced by its masked label, in the problems' column
    and in the messages (which quote columns as ``repr``, alone or in a list of them), and without
    the hint that text columns may be strata (it names them unquoted, to be copied)."""
    order = sorted(labels, key=len, reverse=True)
    # a cell quoted as "value 'F'" (a known code) is a value, not the header that happens to match it
    quoted = re.compile("(?<!value )(" + "|".join(re.escape(repr(c)) for c in order) + ")") if order else None
    by_repr = {repr(c): repr(labels[c]) for c in order}

    def clean(text: str) -> str:
        return quoted.sub(lambda m: by_repr[m.group(1)], text) if quoted else text

    if isinstance(exc, ValidationError):
        problems = [
            Problem(p.file, p.row, labels.get(p.column, p.column) if p.column is not None else None,
                    p.severity, p.code, clean(p.message))
            for p in exc.problems
            if p.code != "stratum_hint"  # its --strata names columns bare; data are no strata anyway
        ]
        return ValidationError(problems, summary=clean(exc.summary))
    cleaned = copy.copy(exc)
    cleaned.args = (clean(str(exc)),)
    return cleaned


def _read(path: str | Path, build: Callable[[pd.DataFrame, str], T], strata: Sequence[str] = ()) -> T:
    df, _ = read_table(path)
    columns = [str(c).strip() for c in df.columns]
    name = Path(path).name
    try:
        out = _read_frame(df, name, build, strata)
    except CifranegraError as exc:
        labels = _data_headers(columns, df)  # only when there is something to say: it reads every cell
        if not labels:
            raise
        raise _without_headers(exc, labels) from None
    _refuse_identifying_headers(columns, name)
    return out


def _refuse_identifying_headers(columns: Sequence[str], name: str) -> None:
    """A table that reads but whose headers are shaped like identifiers is refused: list, count and
    stratum names are printed in every output (describe, estimate, compare), so they must not identify
    anyone. Such headers are most often a first record where a header row should be."""
    from cifranegra.schema.shapes import looks_identifying

    shaped = [i for i, c in enumerate(columns, start=1) if looks_identifying(str(c))]
    if shaped:
        raise ValidationError(
            [Problem(name, None, _masked_header(str(columns[i - 1]), i), "error", "identifying_header",
                     f"the header of column {i} is shaped like a CURP, a date, a long number or an e-mail "
                     "(not shown): list, count and stratum names are printed in every output, so they must not "
                     "identify anyone; rename the column (if the file has no header row, add one)")
             for i in shaped],
            summary=f"{name} cannot be used")


def _read_frame(df: pd.DataFrame, name: str, build: Callable[[pd.DataFrame, str], T], strata: Sequence[str]) -> T:
    read_errors = [p for p in df.attrs.get("read_problems", []) if p.severity == "error"]
    columns = [str(c).strip() for c in df.columns]
    header = _header_problems(columns, name, df.attrs.get("blank_headers", ()))
    if header:
        raise ValidationError([*header, *read_errors], summary=f"{name} cannot be read")
    df = _numeric(df, strata)
    df.columns = columns
    if read_errors:
        # misaligned rows are not checked cell by cell (their values may sit under the wrong column);
        # the other rows are, so that every problem is reported at once
        bad_rows = {p.row for p in read_errors if p.row is not None}
        keep = [i for i in range(len(df)) if i + 1 not in bad_rows]
        problems = list(read_errors)
        try:
            _with_hints(df, name, build, keep)
        except ValidationError as exc:
            renumber = dict(enumerate((i + 1 for i in keep), start=1))
            problems += [
                Problem(p.file, renumber.get(p.row, p.row) if p.row is not None else None, p.column,
                        p.severity, p.code, p.message)
                for p in exc.problems
                if p.row is not None  # table-wide findings would describe the table without those rows
            ]
        raise ValidationError(problems, summary=f"{name} cannot be used")
    return _with_hints(df, name, build, None)


def _count_column(df: pd.DataFrame, count: str | None, strata: Sequence[str]) -> str | None:
    """``count``, or None (one row per person) when the file has no such column, every other column
    is 0/1 and some capture pattern (with its strata) appears on two rows or more. When every row's
    pattern differs the file reads as well as an aggregated table that lost its count column, so it
    is not guessed: ``count`` is returned and the missing column is reported (pass ``--per-person``
    to read it one row per person)."""
    if count is not None and count not in df.columns:
        others = [c for c in df.columns if c not in strata]
        if others and all(df[c].isin([0, 1]).all() for c in others):
            if len(df) > 1 and not df.duplicated().any():
                return count
            return None
    return count


def _per_person_note(n_rows: int, count: str) -> str:
    return (f"no {count!r} column and every list column 0 or 1, with patterns repeated: read as one row per "
            f"person ({n_rows:,} rows); pass --per-person to say so, or --count COL if a column holds counts")


def _noted(result: Any, note: str) -> Any:
    """``result`` (a table, a dict of them by stratum, or describe's list) with ``note`` added."""
    if isinstance(result, CaptureHistories):
        return CaptureHistories(result.lists, result.counts, result.source, (*result.notes, note))
    if isinstance(result, dict):
        return {k: _noted(v, note) for k, v in result.items()}
    for _key, described in result:
        described["notes"] = [*described.get("notes", []), note]
    return result


def _with_hints(
    df: pd.DataFrame, name: str, build: Callable[[pd.DataFrame, str], T], keep: list[int] | None
) -> T:
    part = df if keep is None else df.iloc[keep].reset_index(drop=True)
    try:
        return build(part, name)
    except ValidationError as exc:
        # a text column among the lists is most likely a stratum: say so
        hints: list[str] = []
        for p in exc.problems:
            if p.code == "not_binary" and p.column is not None and p.column in part.columns and part[
                p.column
            ].map(lambda v: isinstance(v, str)).any():
                hints.append(p.column)
        if hints:
            cols = sorted(set(hints))
            extra = Problem(name, None, None, "error", "stratum_hint",
                            f"column(s) {cols} hold text: if they are strata, pass --strata {' '.join(cols)}")
            raise ValidationError([*exc.problems, extra], summary=exc.summary) from None
        raise
