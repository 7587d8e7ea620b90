"""Agency lists in: read → map columns → validate (every problem at once) → normalize.

:func:`read_list` returns the normalized Records frame of one file and its :class:`ListReport`;
:func:`read_lists` concatenates several; :func:`validate_files` only reports, for ``cifranegra
validate``. No row is dropped: a value that cannot be read becomes null and is reported.

No message quotes a value that could identify someone: cell values only when they are known
code-list values (else masked), headers only when they are recognised field names (else named by
position), and a misaligned row (a field count that differs from the header's) is reported by its
row number and field counts alone; its cells are not checked one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cifranegra.errors import InputError, Problem, ValidationError
from cifranegra.ingest.mapping import (
    ColumnMapping,
    header_key,
    header_label,
    load_mapping,
    map_columns,
)
from cifranegra.ingest.readers import Provenance, check_list_path, read_table
from cifranegra.schema import check_records
from cifranegra.schema.records import check_on_unrecognised

__all__ = [
    "ListReport",
    "ValidationReport",
    "read_list",
    "read_lists",
    "sibling_mapping",
    "validate_files",
]

_IDENTIFYING_INPUTS = ("given_names", "first_surname", "full_name", "curp")


@dataclass
class ListReport:
    """What reading one file found: its provenance, the columns used and every problem."""

    file: str
    source: str
    provenance: Provenance | None
    columns: dict[str, str] = field(default_factory=dict)  # canonical field → file header
    problems: list[Problem] = field(default_factory=list)
    n_records: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings pass)."""
        return not self.errors

    def summary(self) -> dict[str, int]:
        """Number of problems by ``severity:code``."""
        return dict(sorted(Counter(f"{p.severity}:{p.code}" for p in self.problems).items()))

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "source": self.source,
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "columns": dict(self.columns),
            "n_records": self.n_records,
            "summary": self.summary(),
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class ValidationReport:
    """Problems of several files (``cifranegra validate``)."""

    files: list[ListReport] = field(default_factory=list)
    unusable: list[Problem] = field(default_factory=list)  # files that could not be read at all

    @property
    def problems(self) -> list[Problem]:
        return [*self.unusable, *(p for r in self.files for p in r.problems)]

    @property
    def n_errors(self) -> int:
        return sum(p.severity == "error" for p in self.problems)

    @property
    def n_warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    @property
    def exit_code(self) -> int:
        """0 clean or warnings only, 1 errors found, 2 some input unusable."""
        if self.unusable:
            return 2
        return 1 if self.n_errors else 0

    def summary(self) -> dict[str, int]:
        return dict(sorted(Counter(f"{p.severity}:{p.code}" for p in self.problems).items()))

    def to_dict(self) -> dict[str, object]:
        return {
            "exit_code": self.exit_code,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "summary": self.summary(),
            "files": [
                {k: v for k, v in r.to_dict().items() if k != "problems"} for r in self.files
            ],
            "problems": [p.to_dict() for p in self.problems],
        }


def sibling_mapping(path: str | Path) -> Path | None:
    """The mapping file that sits next to a list, ``<name>.mapping.json`` or ``<name>.mapping.csv``
    (as ``cifranegra simulate`` writes them), if there is one."""
    p = check_list_path(path)
    if not p.name:  # "/" and the like: no name to put a mapping beside
        return None
    for ext in (".json", ".csv"):
        candidate = p.with_name(f"{p.stem}.mapping{ext}")
        if candidate.is_file():
            return candidate
    return None


def _no_name_column(file: str, headers: list[str], mapping: ColumnMapping) -> InputError:
    """The error for a file with no name or CURP column; it quotes only recognised headers (in a
    file without a header row the first record stands where the headers should be)."""
    known = [(h, header_label(h, mapping)) for h in headers]
    recognised = [f"{h!r} ({f})" for h, f in known if f is not None and f != "ignore"]
    others = [str(i) for i, (_, f) in enumerate(known, start=1) if f is None]
    parts = []
    if recognised:
        parts.append("recognised: " + ", ".join(recognised[:12]))
    if others:
        more = f" and {len(others) - 12} more" if len(others) > 12 else ""
        parts.append("not recognised: column(s) " + ", ".join(others[:12]) + more)
    return InputError(
        f"{file}: no column was recognised as a name or a CURP ({'; '.join(parts)}); if the "
        "file has no header row, add one; otherwise give a mapping file (--mapping) naming "
        "which column holds which field"
    )


def _check_file(
    path: str | Path,
    mapping: ColumnMapping,
    source: str | None,
    on_unrecognised: str = "error",
) -> tuple[pd.DataFrame, ListReport]:
    if mapping.path is None and not mapping.columns and mapping.source is None:
        sibling = sibling_mapping(path)
        if sibling is not None:
            mapping = load_mapping(sibling)
    df, prov = read_table(path)
    file = str(path)
    columns, problems = map_columns(list(df.columns), mapping, file=file)
    read_problems = list(df.attrs.get("read_problems", []))
    problems = [*read_problems, *problems]
    if not any(f in columns for f in _IDENTIFYING_INPUTS) and len(df.columns):
        raise _no_name_column(file, list(df.columns), mapping)
    explicit = {header_key(k) for k in mapping.columns}
    if (
        "given_names" in columns
        and "first_surname" not in columns
        and "full_name" not in columns
        and header_key(columns["given_names"]) not in explicit
    ):
        header = columns.pop("given_names")
        columns["full_name"] = header
        problems.append(
            Problem(file, None, header, "warning", "name_read_as_full_name",
                    f"there is no surname column, so {header!r} is read as the whole name "
                    "(given names, then surnames); map it to given_names in a mapping file if "
                    "it holds only given names")
        )
    raw = pd.DataFrame({f: df[h] for f, h in columns.items()}, index=df.index)
    src = source or mapping.source or Path(file).stem
    records, row_problems = check_records(
        raw,
        source=src,
        file=file,
        headers=columns,
        sex_convention=mapping.sex_convention,
        dayfirst=mapping.dayfirst,
        on_unrecognised=on_unrecognised,
    )
    # the cells of a misaligned row sit under the wrong headers: its one error says so, and
    # checking them one by one would only describe (and risk quoting) misplaced values
    misaligned = {p.row for p in read_problems if p.code == "malformed_row"}
    if misaligned:
        row_problems = [p for p in row_problems if p.row not in misaligned]
    records.attrs["provenance"] = [prov.to_dict()]
    report = ListReport(
        file=file,
        source=src,
        provenance=prov,
        columns=columns,
        problems=[*problems, *row_problems],
        n_records=len(records),
    )
    return records, report


def read_list(
    path: str | Path,
    mapping: str | Path | Mapping[str, object] | ColumnMapping | None = None,
    source: str | None = None,
    *,
    on_error: str = "raise",
    on_unrecognised: str = "error",
) -> tuple[pd.DataFrame, ListReport]:
    """Read, validate and normalize one agency file.

    ``mapping``: a mapping file or dict (see :mod:`cifranegra.ingest.mapping`); without one, a
    ``<name>.mapping.json`` (or ``.csv``) next to the file is used if present; ``source``: the
    agency id (default: the mapping's ``source``, else the file name without extension).
    ``on_error="raise"`` raises :class:`~cifranegra.errors.ValidationError` carrying every problem
    when errors are found (errors block); ``"report"`` returns anyway. ``on_unrecognised``:
    ``"error"`` (an unrecognised sex, state or form of exploitation is an error) or ``"unknown"``
    (read as unknown, the record kept, one ``unrecognised_as_unknown`` warning per column; see
    :func:`~cifranegra.schema.check_records`). Returns the Records frame
    (:data:`~cifranegra.schema.RECORD_COLUMNS`; provenance in ``df.attrs["provenance"]``) and the
    :class:`ListReport`. Raises :class:`~cifranegra.errors.InputError` for unusable input.
    """
    if on_error not in ("raise", "report"):
        raise InputError(f"on_error must be 'raise' or 'report', not {on_error!r}")
    check_on_unrecognised(on_unrecognised)
    records, report = _check_file(
        path, load_mapping(mapping), source, on_unrecognised  # type: ignore[arg-type]
    )
    if on_error == "raise" and not report.ok:
        raise ValidationError(problems=report.problems, summary=f"{path}: the list has errors")
    return records, report


def read_lists(
    paths: Iterable[str | Path],
    mapping: str | Path | Mapping[str, object] | ColumnMapping | None = None,
    *,
    on_error: str = "raise",
    on_unrecognised: str = "error",
) -> tuple[pd.DataFrame, list[ListReport]]:
    """:func:`read_list` for several files, concatenated (one row per record, all sources).
    With ``on_error="raise"`` every file is read before the errors of all of them are raised."""
    from cifranegra._names import as_items

    check_on_unrecognised(on_unrecognised)
    files = as_items(paths)  # one path given alone is one file, not its letters
    if not files:  # an empty frame without the record columns came back
        raise InputError("no files given; name the agency lists to read")
    frames, reports = [], []
    for p in files:
        df, rep = read_list(p, mapping, on_error="report", on_unrecognised=on_unrecognised)
        frames.append(df)
        reports.append(rep)
    if on_error == "raise" and any(not r.ok for r in reports):
        raise ValidationError(
            problems=[p for r in reports for p in r.problems], summary="the lists have errors"
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.attrs["provenance"] = [r.provenance.to_dict() for r in reports if r.provenance]
    return out, reports


def validate_files(
    paths: Iterable[str | Path],
    mapping: str | Path | Mapping[str, object] | ColumnMapping | None = None,
    source: str | None = None,
    *,
    on_unrecognised: str = "error",
) -> ValidationReport:
    """Every problem of every file, never raising for data problems; files that cannot be read at
    all are listed as ``unusable_input`` errors (exit code 2). ``on_unrecognised`` as in
    :func:`read_list`."""
    from cifranegra._names import as_items

    check_on_unrecognised(on_unrecognised)
    report = ValidationReport()
    cm = load_mapping(mapping)  # type: ignore[arg-type]
    for p in as_items(paths):  # one path given alone is one file, not its letters
        try:
            _, rep = _check_file(p, cm, source, on_unrecognised)
        except InputError as exc:
            message = str(exc)
            if message.startswith(f"{p}: "):
                message = message[len(f"{p}: ") :]
            report.unusable.append(Problem(str(p), None, None, "error", "unusable_input", message))
            continue
        report.files.append(rep)
    return report
