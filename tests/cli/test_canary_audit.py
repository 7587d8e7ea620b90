"""Canary audit of the commands that read capture-history tables (docs/hardening.md, "The masking
rule": a file without a header row has data in its first line, so its headers are quoted no more than
its cells are; README: "messages quote a cell only when it is a known code ... and mask anything else").

An agency list without a header row, given to ``describe``/``estimate``/``compare`` by mistake, makes
its first record the "headers": they must not come back as column names, in a "columns are [...]"
list, or in the hint to pass them as ``--strata``.
"""

from __future__ import annotations

import json

import pytest

from cifranegra import cli

CANARY_ROW = "RIDCANARY01,6-11-23,ZQXCANARIA,VWKPLUMA,QQMBRILLO,11/11/1911,Femenino,VUQZ111111MDFWQQ05,09"
OTHER_ROWS = [
    "RIDCANARY02,7-11-23,Ana,Lopez,Perez,02/03/1990,Femenino,LOPA900302MDFPRN08,09",
    "RIDCANARY03,8-11-23,Luis,Ruiz,Diaz,04/05/1985,Masculino,RUDL850504HDFZZS01,15",
]
PIECES = ("RIDCANARY01", "ZQXCANARIA", "VWKPLUMA", "QQMBRILLO", "11/11/1911", "VUQZ111111", "6-11-23")


@pytest.fixture
def headerless(tmp_path):
    path = tmp_path / "dif.csv"
    path.write_text("\n".join([CANARY_ROW, *OTHER_ROWS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def run(monkeypatch, capsys):
    monkeypatch.delenv(cli.DEBUG_ENV_VAR, raising=False)

    def _run(*argv: str) -> tuple[int, str]:
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out + out.err

    return _run


@pytest.mark.parametrize(
    "argv",
    [
        ("describe", "--per-person"),
        ("describe", "--per-person", "--json"),
        ("estimate", "--per-person", "--interval", "none"),
        ("estimate", "--lists", "a", "b"),
        ("estimate", "--strata", "region"),
        ("compare", "--per-person"),
    ],
)
def test_headerless_list_headers_are_not_quoted(run, headerless, argv):
    """docs/hardening.md, the masking rule: "Headers are quoted only when they are recognised field
    names (a file without a header row has data in its first line)" — here in the capture-table
    readers (``ingest/capture_table.py quotes no cell text``)."""
    code, text = run(argv[0], str(headerless), *argv[1:])
    assert code == cli.EXIT_BAD_INPUT
    for piece in PIECES:
        assert piece.casefold() not in text.casefold(), (piece, text)
    assert "#3" in text or "#1" in text  # the columns are still told apart, by position


NAMES_ONLY_ROWS = ["ZQXCANARIA,VWKPLUMA,QQMBRILLO,F", "ROSA,PEREZ,DIAZ,F", "ANA,RUIZ,GOMEZ,F"]


@pytest.mark.parametrize("argv", [("describe", "--per-person"), ("estimate", "--per-person"),
                                  ("compare", "--per-person"), ("describe",)])
def test_headerless_list_of_names_only_is_not_quoted(run, tmp_path, argv):
    """A first record with nothing shaped like a CURP or a date (names and sex only) is still a record:
    a capture table has at least two list columns of 0 and 1, this file none, so its headers are masked
    (docs/hardening.md, the masking rule). Before, the canary names were quoted as column names. A cell
    that is a known code is quoted as a value ('F'), never rewritten to the masked header it equals."""
    path = tmp_path / "dif.csv"
    rows = NAMES_ONLY_ROWS if argv[1:] else [NAMES_ONLY_ROWS[0] + ",count", "ROSA,PEREZ,DIAZ,F,3"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, text = run(argv[0], str(path), *argv[1:])
    assert code == cli.EXIT_BAD_INPUT
    for piece in ("ZQXCANARIA", "VWKPLUMA", "QQMBRILLO"):
        assert piece.casefold() not in text.casefold(), (piece, text)
    assert "#1" in text and "#3" in text
    assert "value 'F' is not 0 or 1" in text


def test_a_table_with_one_bad_list_cell_keeps_its_names(run, tmp_path):
    """Two or more columns mostly of 0 and 1 make a capture table whose headers are list names: one
    stray cell does not mask them."""
    path = tmp_path / "t.csv"
    path.write_text("dif,fgr,count\n1,0,3\n0,2,4\n1,1,2\n", encoding="utf-8")
    code, text = run("estimate", str(path))
    assert code == cli.EXIT_BAD_INPUT
    assert "'fgr'" in text and "#2" not in text


def test_named_headers_are_still_quoted(run, tmp_path):
    """A capture table's own headers are list and stratum names, not data: they stay quoted
    (docs/hardening.md: "Stratum values ... are categories the user chose")."""
    path = tmp_path / "t.csv"
    path.write_text("dif,fgr,region,count\n1,0,norte,3\n0,1,sur,4\n1,1,norte,2\n", encoding="utf-8")
    code, text = run("estimate", str(path), "--lists", "dif", "nope")
    assert code == cli.EXIT_BAD_INPUT
    assert "'nope'" in text and "'region'" in text and "'dif'" in text


def test_headerless_json_problems_mask_the_column(headerless):
    """The problems' ``column`` field (``--json``) follows the same rule as their text (docs/hardening.md)."""
    from cifranegra.errors import ValidationError
    from cifranegra.ingest.capture_table import read_capture_histories

    with pytest.raises(ValidationError) as info:
        read_capture_histories(headerless, count=None)
    dumped = json.dumps([p.to_dict() for p in info.value.problems]) + str(info.value)
    for piece in PIECES:
        assert piece.casefold() not in dumped.casefold(), piece


# --- record ids that leave the agency in an encoded list ----------------------------------------------

CANARY_RECORD = {
    "source": "A",
    "record_id": "1",
    "given_names": "ZQXCANARIA",
    "first_surname": "VWKPLUMA",
    "second_surname": "QQMBRILLO",
    "birth_date": "1911-11-11",
    "birth_year": 1911,
    "sex": "female",
    "curp": "VUQZ111111MDFWQQ05",
}


def _encode(record_id: str):
    import pandas as pd

    from cifranegra.linkage.private import LinkageSecret, encode_records

    df = pd.DataFrame([{**CANARY_RECORD, "record_id": record_id}])
    df["birth_year"] = df["birth_year"].astype("Int64")
    df["birth_date"] = pd.to_datetime(df["birth_date"])
    return encode_records(df, LinkageSecret(bytes(range(32))), "canary-audit")


@pytest.mark.parametrize(
    "record_id", ["X-1911-11-11", "X19111111", "X11111911", "R/11.11.1911", "VUQZ111111-7", "VUQZ-111111"]
)
def test_record_ids_holding_the_birth_date_or_curp_head_are_refused(record_id):
    """docs/private-linkage.md: record ids are shared in clear and "ids that contain a name or the CURP
    are refused outright"; a birth date (with its four-digit year) or the CURP's first ten characters
    (name letters and birth date) identify as well as the CURP does. The message masks the id."""
    from cifranegra.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        _encode(record_id)
    text = str(info.value)
    assert "identifier_in_record_id" in [p.code for p in info.value.problems]
    assert record_id not in text and "1911" not in text and "VUQZ" not in text


@pytest.mark.parametrize("record_id", ["DIF-2023-000104", "19110001", "REG-111119", "7"])
def test_opaque_record_ids_are_kept(record_id):
    """Sequence numbers are not taken for a birth date (six-digit dates are not looked for: they
    turn up in sequence numbers by chance)."""
    assert _encode(record_id).records["record_id"].tolist() == [record_id]


# --- encoded files the hub or a run reads -------------------------------------------------------------


def test_unreadable_encoded_file_does_not_quote_the_library(monkeypatch, tmp_path):
    """README / docs/hardening.md: an error never carries a library's own message, "which could carry
    data" — here pyarrow's, when an encoded list cannot be read (a damaged upload may hold a plaintext
    list's bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cifranegra.errors import InputError
    from cifranegra.ingest import encoded

    def failing(path):
        raise pa.ArrowInvalid("Could not convert 'ZQXCANARIA VWKPLUMA' with type str")

    monkeypatch.setattr(pq, "read_table", failing)
    with pytest.raises(InputError) as info:
        encoded.read_encoded(tmp_path / "x.parquet")
    assert "ZQXCANARIA" not in str(info.value) and "ArrowInvalid" in str(info.value)


def test_encoded_file_with_damaged_pandas_metadata_is_a_clear_error(tmp_path):
    """docs/hardening.md, exit codes: a damaged input is exit 2 with the fix, not an internal error
    (exit 3); the damaged text is not quoted."""
    import pyarrow.parquet as pq

    from cifranegra.errors import InputError
    from cifranegra.ingest.encoded import read_encoded, write_encoded

    path = tmp_path / "a.parquet"
    write_encoded(_encode("7"), path)
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"pandas"] = b'{"index_columns": [], "columns" [ZQXCANARIA'
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(InputError) as info:
        read_encoded(path)
    assert "ZQXCANARIA" not in str(info.value) and "encode its list again" in str(info.value)


@pytest.mark.parametrize("argv", [("describe",), ("describe", "--json"), ("estimate",), ("estimate", "--json"),
                                  ("compare",)])
def test_identifier_shaped_headers_of_a_table_that_reads_are_refused(run, tmp_path, argv):
    """docs/hardening.md: headers shaped like a CURP are never shown. Errors masked them, but a table
    that read (0/1 cells under CURP-shaped headers) printed them as list names in every output."""
    path = tmp_path / "t.csv"
    path.write_text("VUQZ111111MDFWQQ05,QQMB111111HDFWQQ07,count\n1,0,5\n0,1,3\n1,1,2\n", encoding="utf-8")
    code, text = run(argv[0], str(path), *argv[1:])
    assert code == cli.EXIT_BAD_INPUT
    assert "VUQZ1" not in text and "QQMB1" not in text and "111111" not in text
    assert "column 1 is shaped like a CURP" in text and "#2" in text
