"""Readers: every format and encoding round-trips; provenance kept."""

import hashlib

import pandas as pd
import pytest

from cifranegra.errors import InputError
from cifranegra.ingest import detect_delimiter, detect_encoding, read_table

ROWS = pd.DataFrame(
    {
        "Folio": ["1", "2"],
        "Nombre(s)": ["María José", "Ñoño"],
        "Primer apellido": ["Núñez", "de la Peña"],
        "Fecha de nacimiento": ["01/02/1990", "15/03/2008"],
    }
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_round_trip(tmp_path, encoding, sep):
    path = tmp_path / "lista.csv"
    path.write_bytes(ROWS.to_csv(index=False, sep=sep).encode(encoding))
    df, prov = read_table(path)
    pd.testing.assert_frame_equal(df.astype(object), ROWS.astype(object), check_dtype=False)
    assert prov.n_rows == 2 and prov.format == "csv" and prov.delimiter == sep
    assert prov.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    expected_encoding = {"latin-1": "cp1252"}.get(encoding, encoding)
    assert prov.encoding == expected_encoding
    assert df.attrs["provenance"]["sha256"] == prov.sha256


def test_xlsx_and_parquet_round_trip(tmp_path):
    x = tmp_path / "lista.xlsx"
    ROWS.to_excel(x, index=False)
    df, prov = read_table(x)
    assert prov.format == "xlsx"
    assert df.astype(str).values.tolist() == ROWS.values.tolist()
    p = tmp_path / "lista.parquet"
    ROWS.to_parquet(p, index=False)
    df, prov = read_table(p)
    assert prov.format == "parquet"
    assert df.astype(str).values.tolist() == ROWS.values.tolist()


def test_blank_cells_are_missing_and_na_text_kept(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("Folio,Nombre\n1,\n2,NA\n", encoding="utf-8")
    df, _ = read_table(path)
    assert pd.isna(df.loc[0, "Nombre"]) and df.loc[1, "Nombre"] == "NA"


def test_unusable_inputs(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("  \n")
    with pytest.raises(InputError, match="empty"):
        read_table(empty)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="damaged"):
        read_table(bad)


def test_detectors():
    assert detect_encoding("ñ".encode()) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert detect_encoding("ñ".encode("cp1252")) == "cp1252"
    assert detect_delimiter("a;b;c") == ";"
    assert detect_delimiter('"a,b";c;d') == ";"
    assert detect_delimiter("a,b") == ","
    assert detect_delimiter("solo") == ","


def test_ragged_rows_kept_and_reported(tmp_path):
    from cifranegra.ingest import read_list

    path = tmp_path / "r.csv"
    path.write_text("Folio,Nombre,Apellido paterno\n1,Ana,Paz\n2,Eva\n3,Luz,Mar,extra\n")
    df, prov = read_table(path)
    assert len(df) == 3 and prov.n_rows == 3
    assert pd.isna(df.loc[1, "Apellido paterno"]) and df.loc[2, "Apellido paterno"] == "Mar"
    probs = df.attrs["read_problems"]
    assert [(p.row, p.code, p.file) for p in probs] == [
        (2, "malformed_row", str(path)), (3, "malformed_row", str(path))]
    records, report = read_list(path, on_error="report")
    assert len(records) == 3 and not report.ok
    assert report.summary()["error:malformed_row"] == 2
