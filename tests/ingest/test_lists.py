"""read_list / validate_files: read → map → validate (all problems at once) → normalize."""

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError, ValidationError
from cifranegra.ingest import read_list, read_lists, validate_files
from cifranegra.schema import RECORD_COLUMNS, normalize_name

GOOD = (
    "Folio;Nombre(s);Primer apellido;Segundo apellido;Fecha de nacimiento;Sexo;"
    "Entidad federativa;CURP;Tipo de explotación;Fecha de registro\n"
    "1;Gloria;Hernández;García;27/04/1956;M;Veracruz;HEGG560427MVZRRL04;Explotación sexual;"
    "01/03/2023\n"
    "2;Chuy;de la Cruz;;15 de marzo de 2008;H;CDMX;;III, IV;2023-05-06\n"
)


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "fiscalia.csv"
    path.write_bytes(GOOD.encode("cp1252"))
    return path


def test_read_list(good):
    df, report = read_list(good)
    assert list(df.columns) == list(RECORD_COLUMNS)
    assert len(df) == 2 and report.ok and report.source == "fiscalia"
    assert df["source"].tolist() == ["fiscalia", "fiscalia"]
    assert df["given_names"].tolist() == ["GLORIA", "CHUY"]
    assert df["given_names_canonical"].tolist() == ["GLORIA", "JESUS"]
    assert df["state"].tolist() == ["30", "09"]
    assert df["exploitation"].tolist() == [
        "sexual_exploitation",
        "sexual_exploitation|labour_exploitation",
    ]
    assert report.provenance.encoding == "cp1252" and report.provenance.delimiter == ";"
    assert df.attrs["provenance"][0]["sha256"] == report.provenance.sha256
    assert report.summary() == {}


def test_source_from_argument_and_mapping(good):
    df, _ = read_list(good, source="fge_ver")
    assert set(df["source"]) == {"fge_ver"}
    df, _ = read_list(good, mapping={"source": "desde_mapeo"})
    assert set(df["source"]) == {"desde_mapeo"}


def test_errors_block_unless_reported(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Folio,Nombre,Sexo,Entidad\n1,Ana,Z,Narnia\n1,Eva,M,CDMX\n", encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        read_list(path)
    assert {p.code for p in exc.value.problems} >= {
        "invalid_sex",
        "invalid_state",
        "duplicate_record_id",
    }
    df, report = read_list(path, on_error="report")
    assert len(df) == 2 and not report.ok
    assert report.summary()["error:invalid_state"] == 1


def test_unusable_input(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="mapping"):
        read_list(path)


def test_read_lists_and_validate_files(good, tmp_path):
    other = tmp_path / "dif.csv"
    other.write_text("Id registro,Nombres,Apellido paterno\nA,Ana,Paz\n", encoding="utf-8")
    df, _ = read_lists([good, other])
    assert df["source"].tolist() == ["fiscalia", "fiscalia", "dif"]
    assert len(df.attrs["provenance"]) == 2
    report = validate_files([good, other, tmp_path / "missing.csv"])
    assert report.exit_code == 2
    assert report.unusable[0].code == "unusable_input"
    d = report.to_dict()
    json.dumps(d)
    assert {"problems", "summary", "files", "exit_code"} <= set(d)


def test_no_row_dropped_every_problem_located(tmp_path):
    path = tmp_path / "l.csv"
    lines = ["Folio,Nombre,Fecha de nacimiento,Edad"] + [f"{i},Ana,xx{i},{i}" for i in range(50)]
    path.write_text("\n".join(lines) + "\n")
    df, report = read_list(path, on_error="report")
    assert len(df) == 50
    rows = sorted(p.row for p in report.problems if p.code == "invalid_date")
    assert rows == list(range(1, 51))
    assert all(
        p.column == "Fecha de nacimiento" and p.file == str(path)
        for p in report.problems
        if p.code == "invalid_date"
    )
    assert pd.isna(df["birth_date"]).all()


def test_name_without_surnames_is_a_full_name(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("Folio,Nombre\n1,José Luis Núñez López\n", encoding="utf-8")
    df, report = read_list(path)
    assert df.loc[0, ["given_names", "first_surname", "second_surname"]].tolist() == [
        "JOSE LUIS", "NUÑEZ", "LOPEZ"]
    assert "warning:name_read_as_full_name" in report.summary()
    df, _ = read_list(path, mapping={"columns": {"Nombre": "given_names"}})
    assert df.loc[0, "given_names"] == "JOSE LUIS NUÑEZ LOPEZ"


_name = st.text(alphabet=st.sampled_from(list("abcdeñáéíóú ÑÁMZ-.'")), max_size=12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(_name, _name, st.sampled_from(["01/02/1990", "", "xx", "1990-02-01"])),
                  min_size=1, max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    sep=st.sampled_from([",", ";"]),
)
def test_csv_round_trip_keeps_every_row(tmp_path, rows, encoding, sep):
    frame = pd.DataFrame(
        [(str(i + 1), g, f, d) for i, (g, f, d) in enumerate(rows)],
        columns=["Folio", "Nombre(s)", "Primer apellido", "Fecha de nacimiento"],
    )
    path = tmp_path / f"l_{encoding}_{ord(sep)}.csv"
    path.write_bytes(frame.to_csv(index=False, sep=sep).encode(encoding))
    df, report = read_list(path, on_error="report")
    assert len(df) == len(frame)
    assert df["record_id"].tolist() == frame["Folio"].tolist()
    expected = [normalize_name(v.strip()) if v.strip() else None for v in frame["Nombre(s)"]]
    assert [None if pd.isna(v) else v for v in df["given_names"]] == expected
    bad = sorted(p.row for p in report.problems if p.code == "invalid_date")
    assert bad == [i + 1 for i, r in enumerate(rows) if r[2] == "xx"]


def test_sibling_mapping_file_is_used(tmp_path):
    path = tmp_path / "osc.csv"
    path.write_text("ID,NOM,AP1\n1,Ana,Paz\n", encoding="utf-8")
    with pytest.raises(InputError):
        read_list(path)
    (tmp_path / "osc.mapping.json").write_text(json.dumps(
        {"source": "osc_x", "columns": {"ID": "record_id", "NOM": "given_names",
                                        "AP1": "first_surname"}}))
    df, report = read_list(path)
    assert df.loc[0, "given_names"] == "ANA" and report.source == "osc_x"
    assert validate_files([path]).exit_code == 0


def test_on_unrecognised_through_read_list_read_lists_validate_files(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("Folio,Nombre,Sexo\n1,Ana,Zorbalinda\n2,Eva,H\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="not recognised"):
        read_list(path)
    df, report = read_list(path, on_unrecognised="unknown")
    assert report.ok and df["sex"].tolist() == ["unknown", "male"]
    assert report.summary()["warning:unrecognised_as_unknown"] == 1 and not report.errors
    df, _ = read_lists([path], on_unrecognised="unknown")
    assert len(df) == 2
    assert validate_files([path], on_unrecognised="unknown").exit_code == 0
    assert validate_files([path]).exit_code == 1
    for call in (
        lambda: read_list(path, on_unrecognised="drop"),
        lambda: read_lists([path], on_unrecognised="drop"),
        lambda: validate_files([path], on_unrecognised="drop"),
    ):
        with pytest.raises(InputError, match=r"'error' or 'unknown' \(--unrecognised error\|unknown\)"):
            call()


def test_no_name_column_message_quotes_only_recognised_headers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Sexo,Zorbalinda,QUIZ900101MDFRRR09\nH,Eva,X\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_list(path)
    message = str(exc.value)
    assert "recognised: 'Sexo' (sex); not recognised: column(s) 2, 3" in message
    assert "Zorbalinda" not in message and "QUIZ" not in message and "add one" in message
