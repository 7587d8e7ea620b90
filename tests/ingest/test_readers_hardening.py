"""Readers: files as they really arrive. UTF-16/32 are read; compressed files, archives, old Office
files, PDFs and binaries are named for what they are, with the fix; a repeated header and a list with
no records are errors; no message quotes the file's contents."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile

import pandas as pd
import pytest

from cifranegra.errors import InputError
from cifranegra.ingest import detect_encoding, read_capture_histories, read_list, read_table, validate_files

TEXT = "Folio,Nombre,Primer apellido,CURP\n1,Zorbalinda,Núñez,QUIZ900101MDFRRR09\n2,Zoé,Peña,\n"
ROWS = [["1", "Zorbalinda", "Núñez", "QUIZ900101MDFRRR09"], ["2", "Zoé", "Peña", None]]


def _cells(df: pd.DataFrame) -> list[list[object]]:
    return [[None if pd.isna(v) else v for v in row] for row in df.values.tolist()]


@pytest.mark.parametrize(
    ("codec", "detected"),
    [
        ("utf-16", "utf-16"),  # Python writes a BOM
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
        ("utf-32", "utf-32"),
        ("utf-32-le", "utf-32-le"),
        ("utf-32-be", "utf-32-be"),
    ],
)
def test_utf16_and_utf32_are_read(tmp_path, codec, detected):
    path = tmp_path / "lista.csv"
    path.write_bytes(TEXT.encode(codec))
    df, prov = read_table(path)
    assert prov.encoding == detected and list(df.columns) == ["Folio", "Nombre", "Primer apellido", "CURP"]
    assert _cells(df) == ROWS
    records, report = read_list(path)
    assert report.ok and records["first_surname"].tolist() == ["NUÑEZ", "PEÑA"]


def test_detect_encoding_of_wide_text():
    assert detect_encoding("a,b\n".encode("utf-16-le")) == "utf-16-le"
    assert detect_encoding("a,b\n".encode("utf-32-be")) == "utf-32-be"
    assert detect_encoding(b"\xff\xfe" + "a".encode("utf-16-le")) == "utf-16"
    assert detect_encoding("ñ,a\n".encode()) == "utf-8"  # unchanged for ordinary text


def _zip(names: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in names.items():
            zf.writestr(name, text)
    return buf.getvalue()


NOT_LISTS = {
    "gzip": (gzip.compress(TEXT.encode()), "gzip-compressed", "decompress it first"),
    "bzip2": (bz2.compress(TEXT.encode()), "bzip2-compressed", "decompress it first"),
    "xz": (lzma.compress(TEXT.encode()), "xz-compressed", "decompress it first"),
    "zstd": (b"\x28\xb5\x2f\xfd" + TEXT.encode(), "zstd-compressed", "decompress it first"),
    "7z": (b"7z\xbc\xaf\x27\x1c" + TEXT.encode(), "7-Zip archive", "extract the list"),
    "zip": (_zip({"lista.csv": TEXT}), "ZIP archive (1 file(s) inside)", "extract the list"),
    "ods": (_zip({"mimetype": "application/vnd.oasis", "content.xml": TEXT}), "OpenDocument", "save it as"),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + TEXT.encode(), "old Office file", "save it as"),
    "pdf": (b"%PDF-1.4\n" + TEXT.encode(), "PDF document", "export the list"),
    "binary": (b"\x00\x01\x02Zorbalinda\x00QUIZ900101" * 50, "not text (binary content)", "expected a CSV"),
    "damaged": (b"PK\x03\x04Zorbalinda QUIZ900101", "damaged", "save it"),
}


@pytest.mark.parametrize("kind", sorted(NOT_LISTS))
def test_files_that_are_not_lists_are_named(tmp_path, kind):
    data, what, fix = NOT_LISTS[kind]
    path = tmp_path / "lista.csv"  # the name does not decide: the bytes do
    path.write_bytes(data)
    with pytest.raises(InputError) as exc:
        read_table(path)
    message = str(exc.value)
    assert what in message and fix in message
    assert "Zorbalinda" not in message and "QUIZ" not in message


def test_extension_that_lies_is_named(tmp_path):
    fake = tmp_path / "lista.xlsx"
    fake.write_text(TEXT, encoding="utf-8")
    with pytest.raises(InputError, match=r"named \.xlsx but is not an Excel workbook"):
        read_table(fake)
    fake = tmp_path / "lista.parquet"
    fake.write_text(TEXT, encoding="utf-8")
    with pytest.raises(InputError, match=r"not a Parquet file"):
        read_table(fake)


def test_parser_messages_are_not_echoed(tmp_path):
    """A parser's own message can quote the row it choked on: only its type is kept."""
    bad = tmp_path / "lista.parquet"
    bad.write_bytes(b"PAR1" + b"Zorbalinda,QUIZ900101MDFRRR09\n" * 3 + b"PAR1")
    with pytest.raises(InputError, match="cannot be read as PARQUET") as exc:
        read_table(bad)
    assert "Zorbalinda" not in str(exc.value) and "QUIZ" not in str(exc.value)


@pytest.mark.parametrize(
    "text",
    [
        "A,A,C\n1,2\n",  # the fuzzer's case: a repeated header and a short row
        "A,A,C\n1,2,3\n",
        " A ,A,C\n1,2,3\n",  # the same once stripped
    ],
)
def test_duplicate_header_is_an_error(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"duplicate header: columns 1 and 2 have the same header;"):
        read_table(path)
    # capture-history tables are read through the same reader
    with pytest.raises(InputError, match="duplicate header"):
        read_capture_histories(path)


def test_duplicate_header_quoted_only_when_recognised(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("Nombre,CURP,Nombre,Zorbalinda,Zorbalinda\n1,2,3,4,5\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_list(path)
    message = str(exc.value)
    assert "columns 1 and 3 have the same header ('Nombre')" in message
    assert "columns 4 and 5 have the same header;" in message and "Zorbalinda" not in message
    report = validate_files([path])
    assert report.exit_code == 2 and "duplicate header" in report.unusable[0].message


def test_duplicate_header_in_a_workbook(tmp_path):
    path = tmp_path / "l.xlsx"
    pd.DataFrame([["Folio", "Nombre", "Nombre"], ["1", "Ana", "Eva"]]).to_excel(
        path, index=False, header=False
    )
    with pytest.raises(InputError, match=r"columns 2 and 3 have the same header \('Nombre'\)"):
        read_table(path)


def test_empty_headers_are_not_duplicates(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("Folio,Nombre,,\n1,Ana,,\n", encoding="utf-8")
    df, _ = read_table(path)
    assert list(df.columns) == ["Folio", "Nombre", "Unnamed: 2", "Unnamed: 3"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("h.csv", b"Folio,Nombre,CURP\n"),
        ("h2.csv", b"Folio,Nombre,CURP\r\n\r\n ,, \n"),
        ("h16.csv", "Folio,Nombre\n".encode("utf-16")),
    ],
)
def test_header_only_list_has_no_records(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match="the list has no records"):
        read_list(path)
    assert validate_files([path]).exit_code == 2


def test_header_only_workbook_has_no_records(tmp_path):
    path = tmp_path / "l.xlsx"
    pd.DataFrame(columns=["Folio", "Nombre"]).to_excel(path, index=False)
    with pytest.raises(InputError, match="the list has no records"):
        read_table(path)


@pytest.mark.parametrize("data", [b"", b"  \n\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\xef\xbb\xbf \r\n"])
def test_empty_files(tmp_path, data):
    path = tmp_path / "e.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match="the file is empty"):
        read_table(path)


def test_a_folder_is_not_a_list(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a list"):
        read_table(tmp_path)


@pytest.mark.parametrize("name", ["", "   ", "/", "lista.csv\x00x"])
def test_unusable_file_names_are_clear_errors(tmp_path, name):
    """Fuzz findings F3: an empty name, a folder and a NUL byte ended in pathlib's ValueError (exit 3)."""
    good = tmp_path / "l.csv"
    good.write_text("nombre,primer_apellido\nAna,Lopez\n", encoding="utf-8")
    with pytest.raises(InputError):
        read_table(name)
    report = validate_files([name, good])
    assert [p.code for p in report.unusable] == ["unusable_input"]
    assert len(report.files) == 1
