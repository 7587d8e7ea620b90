"""Header mapping from Spanish/English synonyms and explicit mapping files."""

import json

import pytest

from cifranegra.errors import InputError
from cifranegra.ingest import header_key, load_mapping, map_columns


def test_spanish_and_english_synonyms():
    headers = [
        "Folio",
        "Nombre(s)",
        "Apellido paterno",
        "Apellido materno",
        "Fecha de nacimiento",
        "Entidad federativa",
        "Sexo",
        "CURP",
        "Tipo de explotación",
        "Fecha de registro",
    ]
    cols, problems = map_columns(headers)
    assert problems == []
    assert cols == {
        "record_id": "Folio",
        "given_names": "Nombre(s)",
        "first_surname": "Apellido paterno",
        "second_surname": "Apellido materno",
        "birth_date": "Fecha de nacimiento",
        "state": "Entidad federativa",
        "sex": "Sexo",
        "curp": "CURP",
        "exploitation": "Tipo de explotación",
        "registration_date": "Fecha de registro",
    }
    cols, _ = map_columns(["Primer apellido", "SEGUNDO APELLIDO", "first_name", "Date of birth"])
    assert cols == {
        "first_surname": "Primer apellido",
        "second_surname": "SEGUNDO APELLIDO",
        "given_names": "first_name",
        "birth_date": "Date of birth",
    }


def test_unrecognised_and_duplicate_columns():
    cols, problems = map_columns(["Nombre", "Nombres", "Color favorito"], file="f.csv")
    assert cols == {"given_names": "Nombre"}
    assert {(p.code, p.severity, p.column) for p in problems} == {
        ("duplicate_column", "error", "Nombres"),
        ("unmapped_column", "warning", "Co***"),
    }
    # an unrecognised header may be a value (a file without a header row): named by position
    unmapped = next(p for p in problems if p.code == "unmapped_column")
    assert "column 3 is not recognised" in unmapped.message and "favorito" not in str(unmapped)


def test_json_and_csv_mapping_files(tmp_path):
    j = tmp_path / "m.json"
    j.write_text(
        json.dumps(
            {
                "columns": {"NOM": "given_names", "AP1": "first_surname", "X": "ignore"},
                "source": "osc",
                "sex_convention": "en",
                "dayfirst": False,
            }
        )
    )
    m = load_mapping(j)
    assert m.source == "osc" and m.sex_convention == "en" and m.dayfirst is False
    cols, problems = map_columns(["NOM", "AP1", "X"], m)
    assert cols == {"given_names": "NOM", "first_surname": "AP1"} and problems == []
    c = tmp_path / "m.csv"
    c.write_text("column,field\nNOM,given_names\nAP1,first_surname\n")
    assert dict(load_mapping(c).columns) == {"NOM": "given_names", "AP1": "first_surname"}
    cols, problems = map_columns(["NOM"], load_mapping(c))
    assert [p.code for p in problems] == ["mapped_column_missing"]


def test_bad_mapping_files(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"columns": {"A": "shoe_size"}}')
    with pytest.raises(InputError, match="shoe_size"):
        load_mapping(bad)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        load_mapping(bad)
    with pytest.raises(InputError):
        load_mapping(tmp_path / "nope.json")
    with pytest.raises(InputError, match="sex_convention"):
        load_mapping({"sex_convention": "xx"})


def test_bad_csv_mapping_never_quotes_data(tmp_path):
    """A list given as the mapping by mistake: its rows are people, never echoed."""
    m = tmp_path / "m.csv"
    m.write_text("nombre,curp,sexo\nZorbalinda,QUIZ900101MDFRRR09,M\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1 has 3") as exc:
        load_mapping(m)
    assert "Zorbalinda" not in str(exc.value) and "QUIZ" not in str(exc.value)
    m.write_text("Zorbalinda,Quintanilla\nNOM,given_name\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_mapping(m)
    message = str(exc.value)
    assert "Quintanilla" not in message and "Qu***" in message
    assert "'given_name' (did you mean given_names?)" in message  # a typo is quoted
    m.write_bytes(b"\xff\xfe\x00\x00\x81binary")
    with pytest.raises(InputError, match="not UTF-8"):
        load_mapping(m)


def test_header_key():
    assert header_key("  Fecha de Nacimiento ") == "fecha de nacimiento"
    assert header_key("Nombre(s)") == "nombre s"
    assert header_key("AÑO") == "año"


@pytest.mark.parametrize("value", ["false", "no", 0, None, "true"])
def test_dayfirst_must_be_true_or_false(value):
    """The API review: bool("false") is True, so "dayfirst": "false" read 05/04/1990 as 5 April with no
    message. Only JSON true or false is taken."""
    with pytest.raises(InputError, match="dayfirst must be true or false"):
        load_mapping({"columns": {}, "dayfirst": value})
    assert load_mapping({"columns": {}, "dayfirst": False}).dayfirst is False
    assert load_mapping({"columns": {}}).dayfirst is True


def test_a_misspelt_mapping_key_is_refused(tmp_path):
    """A misspelt key ("dayFirst") was ignored, its setting left at the default."""
    path = tmp_path / "m.json"
    path.write_text('{"columns": {"NOM": "given_names"}, "dayFirst": false}', encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown key\(s\) 'dayFirst'; a mapping file holds columns, source"):
        load_mapping(path)
