"""Reading agency files as they come: CSV (UTF-8, UTF-8 with BOM, Latin-1/CP1252, UTF-16 and UTF-32
with or without BOM; comma, semicolon, tab or bar separated), XLSX and Parquet, with provenance
(file, sha256, rows, encoding) kept.

A file that is not one of these (compressed, an archive, an old Office file, a PDF, binary) is named
for what it is, with the fix; no error message ever quotes the file's contents.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from cifranegra.errors import InputError, Problem
from cifranegra.ingest.mapping import header_label
from cifranegra.schema import mask_value

__all__ = ["Provenance", "detect_delimiter", "detect_encoding", "read_table"]

_DELIMITERS = (",", ";", "\t", "|")

#: magic bytes of files that are not lists, and what to do about each
_NOT_A_LIST: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip-compressed file; decompress it first (gunzip) and give the list inside"),
    (b"BZh", "a bzip2-compressed file; decompress it first (bunzip2) and give the list inside"),
    (b"\xfd7zXZ\x00", "an xz-compressed file; decompress it first (unxz) and give the list inside"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file; decompress it first (unzstd) and give the list inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive; extract the list from it first"),
    (b"Rar!\x1a\x07", "a RAR archive; extract the list from it first"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     "an old Office file (Excel .xls or similar); open it and save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document; export the list from its source as CSV or XLSX"),
    (b"SQLite format 3\x00", "an SQLite database; export the list from it as CSV"),
)
_FIX = "expected a CSV, XLSX or Parquet file"


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
        """A JSON-ready dict; headers that are not recognised field names are masked (a file
        without a header row has data in its first line)."""
        d = asdict(self)
        d["columns"] = [_shown_header(c) for c in self.columns]
        return d


def _shown_header(header: str) -> str:
    return header if header_label(header) is not None else mask_value(header)


def detect_encoding(data: bytes) -> str:
    """The text encoding of a file's bytes: ``utf-32`` / ``utf-16`` (with a BOM),
    ``utf-32-le`` / ``utf-32-be`` / ``utf-16-le`` / ``utf-16-be`` (without one, recognised by
    their zero bytes), ``utf-8-sig`` (BOM), ``utf-8``, or ``cp1252`` (``latin-1`` when CP1252
    cannot decode)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    wide = _bomless_wide_encoding(data[:4096])
    if wide:
        return wide
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


def _bomless_wide_encoding(head: bytes) -> str | None:
    """UTF-16/32 without a BOM, from where the zero bytes of mostly-ASCII text fall."""
    n = len(head) - len(head) % 4
    if n < 4 or head.count(0) < n // 4:
        return None
    zero = [sum(1 for i in range(k, n, 4) if head[i] == 0) / (n // 4) for k in range(4)]
    if zero[1] > 0.9 and zero[2] > 0.9 and zero[3] > 0.9 and zero[0] < 0.5:
        return "utf-32-le"
    if zero[0] > 0.9 and zero[1] > 0.9 and zero[2] > 0.9 and zero[3] < 0.5:
        return "utf-32-be"
    even, odd = (zero[0] + zero[2]) / 2, (zero[1] + zero[3]) / 2
    if odd > 0.7 and even < 0.3:
        return "utf-16-le"
    if even > 0.7 and odd < 0.3:
        return "utf-16-be"
    return None


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


def _zip_kind(data: bytes) -> str:
    """``xlsx`` for an Excel workbook; otherwise raise naming the kind of ZIP file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InputError(
            "the file starts like a ZIP/XLSX file but is damaged; open it in Excel and save it "
            "again as .xlsx or CSV"
        ) from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        raise InputError(
            "the file is an OpenDocument file (.ods), not a list this reads; save it as .xlsx or CSV"
        )
    if "word/document.xml" in names:
        raise InputError("the file is a Word document; " + _FIX)
    raise InputError(
        f"the file is a ZIP archive ({len(names)} file(s) inside); extract the list from it first "
        "(unzip) and give the CSV or XLSX file"
    )


def _format_of(path: Path, data: bytes) -> str:
    """``csv``, ``xlsx`` or ``parquet``, from the magic bytes first and the extension second;
    raises :class:`InputError` (without the path) for anything else."""
    head = data[:16]
    ext = path.suffix.lower()
    for magic, what in _NOT_A_LIST:
        if head.startswith(magic):
            raise InputError(f"the file is {what}")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if head.startswith(b"PAR1"):
        return "parquet"
    if ext == ".xls":
        raise InputError("old Excel .xls files are not read; save it as .xlsx or CSV")
    if ext in (".xlsx", ".xlsm"):
        raise InputError(
            f"the file is named {ext} but is not an Excel workbook; save it again from Excel, or "
            "rename it .csv if it is a CSV"
        )
    if ext in (".parquet", ".pq"):
        raise InputError(f"the file is named {ext} but is not a Parquet file; " + _FIX)
    return "csv"


def check_list_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` after the checks a name needs before any file system call:
    not empty, no NUL byte, not a folder. Raises :class:`InputError` with the fix."""
    text = str(path)
    if not text.strip():
        raise InputError("an empty file name was given; name the list's file (CSV, XLSX or Parquet)")
    if "\x00" in text:
        raise InputError("a file name holds a NUL character, which no file name can contain; check the "
                         "script or project file that produced it")
    p = Path(text)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a list; name the list's file (e.g. {p / 'lista.csv'})")
    return p


def read_table(path: str | Path) -> tuple[pd.DataFrame, Provenance]:
    """Read one agency file into a frame of raw values (strings for CSV; Excel and Parquet keep
    their cell types) and its :class:`Provenance`. Rows of a CSV with the wrong number of fields
    are kept and listed in ``df.attrs["read_problems"]`` (``malformed_row``). Raises
    :class:`InputError` when the file cannot be used at all: missing, unreadable, empty, not a
    list (compressed, an archive, binary...), a header named twice, or no data rows."""
    path = check_list_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        df, fmt, encoding, delimiter = _parse(path, data)
        read_problems = [
            Problem(str(path), p.row, p.column, p.severity, p.code, p.message)
            for p in df.attrs.get("read_problems", [])
        ]
        if len(df.columns) == 0:
            raise InputError("no columns found; expected a header row")
        _check_headers([str(c) for c in df.columns])
        blank_headers = [i for i, c in enumerate(df.columns) if _is_blank_header(str(c))]
        df.columns = _column_names([str(c) for c in df.columns])
        if not _has_a_value(df):
            raise InputError("the list has no records: the file has a header row but no data rows")
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    prov = Provenance(
        file=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        n_rows=len(df),
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        columns=tuple(df.columns),
    )
    df.attrs["provenance"] = prov.to_dict()
    df.attrs["read_problems"] = read_problems
    df.attrs["blank_headers"] = blank_headers  # 0-based positions of columns without a header
    return df, prov


def _has_a_value(df: pd.DataFrame) -> bool:
    """Whether any cell holds something other than null or blank text (the first rows are
    looked at first: a list nearly always has a value there)."""
    for part in (df.head(50), df):
        for column in range(part.shape[1]):
            values = part.iloc[:, column].dropna()
            if len(values) and values.map(lambda v: not isinstance(v, str) or bool(v.strip())).any():
                return True
    return False


def _parse(path: Path, data: bytes) -> tuple[pd.DataFrame, str, str | None, str | None]:
    """(raw frame, format, encoding, delimiter); :class:`InputError` messages without the path
    and never with the file's contents (parser messages quote rows, so only their type is kept)."""
    if not data.strip():
        raise InputError("the file is empty; expected a header row and records")
    fmt = _format_of(path, data)
    try:
        if fmt == "xlsx":
            return _read_xlsx(data), fmt, None, None
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data)), fmt, None, None
        encoding = detect_encoding(data)
        text = _decode(data, encoding)
        first_line = text.split("\n", 1)[0].rstrip("\r")
        delimiter = detect_delimiter(first_line)
        return _read_csv_text(text, delimiter), fmt, encoding, delimiter
    except InputError:
        raise
    except Exception as exc:  # any parser failure means the file is unusable as given
        raise InputError(
            f"cannot be read as {fmt.upper()} ({type(exc).__name__}); open it in its program and "
            "save it again as CSV (UTF-8) or XLSX"
        ) from None


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise InputError(
            f"the file looks like {encoding.upper()} text but cannot be decoded as such; save it "
            "as CSV UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InputError("the file is empty; expected a header row and records")
    head = text[:4096]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\r\n")
    if "\x00" in head or controls > max(2, len(head) // 50):
        raise InputError("the file is not text (binary content); " + _FIX)
    return text


def _read_xlsx(data: bytes) -> pd.DataFrame:
    """The first sheet; its first row is the header (read here, not by pandas, which would
    rename a repeated header silently)."""
    sheet = pd.read_excel(io.BytesIO(data), dtype=object, engine="openpyxl", header=None)
    if sheet.empty:
        raise InputError("the workbook's first sheet is empty; expected a header row and records")
    header = ["" if pd.isna(v) else str(v) for v in sheet.iloc[0]]
    body = sheet.iloc[1:].reset_index(drop=True)
    body.columns = header
    return body


def _check_headers(headers: list[str]) -> None:
    """A header named twice is an error: pandas would silently rename the second ``A.1``.
    Headers that are not recognised field names are not quoted (they may be data)."""
    positions: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(headers, start=1):
        if h.strip():
            positions[h.strip()].append(i)
    repeated = [(h, pos) for h, pos in positions.items() if len(pos) > 1]
    if not repeated:
        return
    parts = []
    for h, pos in repeated:
        cols = ", ".join(map(str, pos[:-1])) + f" and {pos[-1]}"
        label = header_label(h)
        parts.append(f"columns {cols} have the same header" + (f" ({h!r})" if label else ""))
    raise InputError(
        "duplicate header: " + "; ".join(parts) + "; every column needs its own header: rename "
        "or remove the repeated one(s)"
    )


def _is_blank_header(header: str) -> bool:
    """A header cell left empty (or spaces): as written, or as pandas' Excel reader names it."""
    return not header.strip() or re.fullmatch(r"Unnamed: \d+", header.strip()) is not None


def _column_names(headers: list[str]) -> list[str]:
    """Headers stripped; an empty one is called ``Unnamed: i`` (0-based, as pandas does)."""
    return [h.strip() or f"Unnamed: {i}" for i, h in enumerate(headers)]


def _read_csv_text(text: str, delimiter: str) -> pd.DataFrame:
    """CSV text → frame of strings, blanks as missing (pyarrow's parser); a file whose rows do
    not all have the header's number of fields is read leniently (see below). The header is
    taken as written (pandas would rename a repeated header)."""
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except StopIteration:
        raise InputError("no columns found; expected a header row") from None
    _check_headers(header)
    try:
        df = pd.read_csv(
            io.BytesIO(text.encode("utf-8")),
            sep=delimiter,
            dtype=str,
            engine="pyarrow",
            keep_default_na=False,
            na_values=[""],
        )
    except Exception:
        return _read_csv_lenient(text, delimiter)
    if len(df.columns) == len(header):
        df.columns = header
    return df


def _read_csv_lenient(text: str, delimiter: str) -> pd.DataFrame:
    """Every row kept: a row with too few fields is padded with empty cells, one with too many is
    cut to the header's length, and each is reported as a misaligned ``malformed_row`` error in
    ``df.attrs["read_problems"]`` (file set by the caller) with its field counts, never its
    contents."""
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        return pd.DataFrame()
    header = rows[0]
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
                    f"misaligned row: it has {len(r)} fields and the header {width}, so its values "
                    "may sit under the wrong columns and are not checked; "
                    + ("the extra fields are not read" if len(r) > width
                       else "the missing fields are read as empty")
                    + f"; check the quoting (a comma inside a name needs quotes) and the separator "
                    f"({delimiter!r})",
                )
            )
            r = (r + [""] * width)[:width]
        body.append([c if c.strip() else None for c in r])
    df = pd.DataFrame(body, columns=header, dtype=object)
    df.attrs["read_problems"] = problems
    return df
