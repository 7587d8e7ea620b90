"""Reading agency files as they come: CSV (UTF-8, UTF-8 with BOM, Latin-1/CP1252; comma, semicolon,
tab or bar separated), XLSX and Parquet, with provenance (file, sha256, rows, encoding) kept."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from cifranegra.errors import InputError, Problem

__all__ = ["Provenance", "detect_delimiter", "detect_encoding", "read_table"]

_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Provenance:
    """Where a table came from: enough to trace and re-run."""

    file: str
    sha256: str
    n_rows: int
    format: str  # "csv", "xlsx", "parquet"
    encoding: str | None = None
    delimiter: str | None = None
    columns: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["columns"] = list(self.columns)
        return d


def detect_encoding(data: bytes) -> str:
    """``utf-8-sig`` (BOM), ``utf-8``, or ``cp1252`` (``latin-1`` when CP1252 cannot decode)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(header_line: str) -> str:
    """The separator of a CSV from its header line: the most frequent of ``, ; TAB |`` outside
    quotes (comma on a tie or when none appears)."""
    counts = {}
    for d in _DELIMITERS:
        try:
            row = next(csv.reader([header_line], delimiter=d))
        except (csv.Error, StopIteration):
            row = []
        counts[d] = len(row) - 1
    best = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def _format_of(path: Path, head: bytes) -> str:
    ext = path.suffix.lower()
    if ext in (".xlsx", ".xlsm") or head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if ext in (".parquet", ".pq") or head.startswith(b"PAR1"):
        return "parquet"
    if ext == ".xls":
        raise InputError(f"{path}: old Excel .xls files are not read; save it as .xlsx or CSV")
    return "csv"


def read_table(path: str | Path) -> tuple[pd.DataFrame, Provenance]:
    """Read one agency file into a frame of raw values (strings for CSV; Excel and Parquet keep
    their cell types) and its :class:`Provenance`. Rows of a CSV with the wrong number of fields
    are kept and listed in ``df.attrs["read_problems"]``. Raises :class:`InputError` when the file
    cannot be used at all (missing, unreadable, empty)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise InputError(f"{path}: the file is empty; expected a header row and records")
    digest = hashlib.sha256(data).hexdigest()
    fmt = _format_of(path, data[:8])
    encoding = delimiter = None
    try:
        if fmt == "xlsx":
            df = pd.read_excel(io.BytesIO(data), dtype=object, engine="openpyxl")
        elif fmt == "parquet":
            df = pd.read_parquet(io.BytesIO(data))
        else:
            encoding = detect_encoding(data)
            text = data.decode(encoding)
            first_line = text.split("\n", 1)[0].rstrip("\r")
            delimiter = detect_delimiter(first_line)
            utf8 = data if encoding in ("utf-8", "utf-8-sig") else text.encode("utf-8")
            if encoding == "utf-8-sig":
                utf8 = utf8[3:]
            df = _read_csv_bytes(utf8, delimiter)
    except InputError:
        raise
    except Exception as exc:  # any parser failure means the file is unusable as given
        raise InputError(f"{path}: cannot be read as {fmt.upper()} ({exc})") from None
    read_problems = [
        Problem(str(path), p.row, p.column, p.severity, p.code, p.message)
        for p in df.attrs.get("read_problems", [])
    ]
    df.columns = [str(c).strip() for c in df.columns]
    if len(df.columns) == 0:
        raise InputError(f"{path}: no columns found; expected a header row")
    prov = Provenance(
        file=str(path),
        sha256=digest,
        n_rows=len(df),
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        columns=tuple(df.columns),
    )
    df.attrs["provenance"] = prov.to_dict()
    df.attrs["read_problems"] = read_problems
    return df, prov


def _read_csv_bytes(data: bytes, delimiter: str) -> pd.DataFrame:
    """CSV bytes (UTF-8) → frame of strings, blanks as missing (pyarrow's parser); a file whose
    rows do not all have the header's number of fields is read leniently (see below)."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=delimiter,
            dtype=str,
            engine="pyarrow",
            keep_default_na=False,
            na_values=[""],
        )
    except Exception:
        return _read_csv_lenient(data.decode("utf-8"), delimiter)


def _read_csv_lenient(text: str, delimiter: str) -> pd.DataFrame:
    """Every row kept: a row with too few fields is padded with empty cells, one with too many is
    cut to the header's length, and each is reported as a ``malformed_row`` error in
    ``df.attrs["read_problems"]`` (file set by the caller)."""
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        return pd.DataFrame()
    header = [h.strip() for h in rows[0]]
    width = len(header)
    body: list[list[str | None]] = []
    problems: list[Problem] = []
    for r in rows[1:]:
        if not r or not any(c.strip() for c in r):
            continue
        number = len(body) + 1
        if len(r) != width:
            problems.append(
                Problem(
                    None, number, None, "error", "malformed_row",
                    f"the row has {len(r)} fields and the header {width}; "
                    + ("the extra fields are not read" if len(r) > width
                       else "the missing fields are read as empty")
                    + f"; check the quoting and the separator ({delimiter!r})",
                )
            )
            r = (r + [""] * width)[:width]
        body.append([c if c.strip() else None for c in r])
    df = pd.DataFrame(body, columns=header, dtype=object)
    df.attrs["read_problems"] = problems
    return df
