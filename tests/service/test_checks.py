"""The checks of a submitted file (cifranegra.service.checks): what is refused, with which code, and
that no message quotes a value from the file."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cifranegra.ingest.encoded import METADATA_KEY
from cifranegra.service.checks import CheckReport, check_submission
from service.encoded_factory import OTHER_SECRET, encoded_bytes, encoded_list, records

STUDY = "trata-cdmx-2023"
AGENCY = "fiscalia"


@pytest.fixture(scope="module")
def good() -> bytes:
    return encoded_bytes(STUDY, AGENCY, 20)


def _check(data: bytes, **kw: Any) -> CheckReport:
    args: dict[str, Any] = {"study": STUDY, "agency": AGENCY, "pinned_fingerprint": None,
                               "pinned_key_check": None, "allowed_strata": None}
    args.update(kw)
    return check_submission(data, **args)


def _codes(report: CheckReport) -> list[str]:
    return [p["code"] for p in report.problems]


def _no_values_in(report: CheckReport) -> None:
    """No record value (names, CURP, record ids beyond row numbers, stratum values) in any message."""
    frame = records(AGENCY, 20)
    text = " ".join(p["message"] for p in report.problems).upper()
    for col in ("given_names", "first_surname", "second_surname", "curp"):
        for value in frame[col].dropna().astype(str):
            assert value.upper() not in text, col


def test_a_good_file_is_accepted_with_its_facts(good: bytes) -> None:
    enc = encoded_list(STUDY, AGENCY, 20)
    report = _check(good)
    assert report.ok is True
    assert report.problems == []
    assert report.n_records == 20
    assert report.source == AGENCY
    assert report.spec_fingerprint == enc.spec.fingerprint()
    assert report.key_check == enc.key_check
    assert report.sha256 == hashlib.sha256(good).hexdigest()


def test_pinned_spec_and_key_that_match_are_accepted(good: bytes) -> None:
    enc = encoded_list(STUDY, AGENCY, 20)
    report = _check(good, pinned_fingerprint=enc.spec.fingerprint(), pinned_key_check=enc.key_check)
    assert report.ok is True and report.problems == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"nombre,apellido,curp\nMARIA,LOPEZ,LOPM800101MDFPRR09\n", "not_encoded"),
        ("nombre;apellido\nJOSÉ;NÚÑEZ\n".encode("latin-1"), "not_encoded"),
        (b"PK\x03\x04" + bytes(200), "not_encoded"),
        (b"\xd0\xcf\x11\xe0" + bytes(200), "not_encoded"),
        (bytes(range(256)) * 4, "not_encoded"),
        (b"PAR1" + bytes(100), "truncated"),
    ],
    ids=["empty", "csv", "latin1-csv", "xlsx", "xls", "binary", "parquet-head"],
)
def test_what_is_not_an_encoded_file_is_refused_with_the_encode_command(data: bytes, code: str) -> None:
    report = _check(data)
    assert report.ok is False
    assert _codes(report) == [code]
    assert f"cifranegra encode LIST --project {STUDY} --secret-file F -o OUT.parquet" in report.problems[0]["message"]
    assert report.n_records == 0 and report.source is None and report.key_check is None
    assert "MARIA" not in report.problems[0]["message"] and "LOPM" not in report.problems[0]["message"]


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.99])
def test_truncated_files_are_refused(good: bytes, cut: float) -> None:
    report = _check(good[: int(len(good) * cut)])
    assert report.ok is False
    assert _codes(report) == ["truncated"]


def test_a_damaged_footer_is_refused(good: bytes) -> None:
    footer_length = int.from_bytes(good[-8:-4], "little")
    wrong_length = bytearray(good)
    wrong_length[-8:-4] = (len(good) * 2).to_bytes(4, "little")
    scrambled = bytearray(good)
    scrambled[-8 - footer_length : -8] = b"\xff" * footer_length
    for damaged in (wrong_length, scrambled):
        report = _check(bytes(damaged))
        assert report.ok is False
        assert _codes(report) == ["damaged"]


def test_plain_parquet_without_the_encoding_metadata_is_refused() -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"given_names": ["MARIA"], "curp": ["LOPM800101MDFPRR09"]}), buf)
    report = _check(buf.getvalue())
    assert _codes(report) == ["not_encoded"]
    assert "MARIA" not in report.problems[0]["message"]


def test_an_altered_encoded_file_is_refused_without_naming_a_temp_object(good: bytes) -> None:
    table = pq.read_table(pa.BufferReader(good))
    table = table.append_column("given_names", pa.array(["MARIA"] * table.num_rows))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    report = _check(buf.getvalue())
    assert report.ok is False
    assert _codes(report) == ["invalid_encoded"]
    message = report.problems[0]["message"]
    assert "given_names" in message and "the file" in message
    assert "BufferReader" not in message and "MARIA" not in message


def test_damaged_metadata_is_a_problem_not_a_crash(good: bytes) -> None:
    table = pq.read_table(pa.BufferReader(good))
    meta = dict(table.schema.metadata)
    meta[METADATA_KEY] = b"{not json"
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    report = _check(buf.getvalue())
    assert report.ok is False
    assert _codes(report) == ["damaged"]


def test_another_study_and_another_key_are_refused(good: bytes) -> None:
    enc = encoded_list(STUDY, AGENCY, 20)
    other_study = encoded_bytes("otro-estudio", AGENCY, 20)
    report = _check(other_study, pinned_fingerprint=enc.spec.fingerprint(), pinned_key_check=enc.key_check)
    assert report.ok is False
    assert _codes(report) == ["other_study", "other_key"]
    assert "otro-estudio" not in " ".join(p["message"] for p in report.problems)
    other_key = encoded_bytes(STUDY, AGENCY, 20, secret=OTHER_SECRET)
    report = _check(other_key, pinned_fingerprint=enc.spec.fingerprint(), pinned_key_check=enc.key_check)
    assert _codes(report) == ["other_key"]
    # before anything is pinned, another key is accepted (the first accepted file pins it)
    assert _check(other_key).ok is True


def test_another_spec_is_refused(good: bytes) -> None:
    report = _check(good, pinned_fingerprint="0" * 64)
    assert _codes(report) == ["other_spec"]


def test_the_source_must_be_the_agency(good: bytes) -> None:
    report = _check(good, agency="dif")
    assert _codes(report) == ["wrong_source"]
    assert "--source dif" in report.problems[0]["message"]
    assert _check(good, agency=f" {AGENCY} ").ok is True  # surrounding spaces are not a different agency
    assert _check(good, agency=AGENCY.upper()).ok is False  # but the name is exact otherwise


def test_a_file_of_several_lists_is_refused(tmp_path: Path) -> None:
    import pandas as pd

    from cifranegra.ingest.encoded import write_encoded
    from cifranegra.linkage.private import encode_records
    from service.encoded_factory import SECRET

    both = pd.concat([records(AGENCY, 5), records("dif", 5)], ignore_index=True)
    both["record_id"] = [str(i) for i in range(len(both))]
    write_encoded(encode_records(both, SECRET, STUDY), tmp_path / "two.parquet")
    report = _check((tmp_path / "two.parquet").read_bytes())
    assert _codes(report) == ["several_sources"]
    assert report.source is None


def test_unknown_stratum_values_are_refused_by_row_never_by_value(good: bytes) -> None:
    frame = records(AGENCY, 20)
    n_male = int((frame["sex"] == "male").sum())
    assert 0 < n_male < 20
    report = _check(good, allowed_strata={"sex": ["female"], "year": [2023, 2024]})
    assert _codes(report) == ["unknown_stratum_value"]
    message = report.problems[0]["message"]
    assert f"{n_male} record(s)" in message and "'sex'" in message
    assert "allowed: female" in message
    assert "male," not in message.replace("female", "")
    _no_values_in(report)
    assert _check(good, allowed_strata={"sex": ["female", "male"], "year": ["2023"]}).ok is True


def test_a_stratum_the_study_uses_but_the_file_lacks_is_a_warning(good: bytes) -> None:
    report = _check(good, allowed_strata={"municipio": ["001"]})
    assert report.ok is True
    assert [(p["severity"], p["code"]) for p in report.problems] == [("warning", "missing_stratum")]


def test_repeated_record_ids_are_a_warning(tmp_path: Path) -> None:
    from cifranegra.ingest.encoded import write_encoded
    from cifranegra.linkage.private import encode_records
    from service.encoded_factory import SECRET

    frame = records(AGENCY, 6)
    frame["record_id"] = ["1", "1", "2", "3", "3", "3"]
    write_encoded(encode_records(frame, SECRET, STUDY), tmp_path / "dup.parquet")
    report = _check((tmp_path / "dup.parquet").read_bytes())
    assert report.ok is True
    assert [(p["severity"], p["code"]) for p in report.problems] == [("warning", "duplicate_record_id")]
    assert report.problems[0]["message"].startswith("3 record id(s)")


def test_an_empty_encoded_list_is_refused(tmp_path: Path) -> None:
    from cifranegra.ingest.encoded import write_encoded
    from cifranegra.linkage.private import encode_records
    from service.encoded_factory import SECRET

    frame = records(AGENCY, 3).iloc[0:0]
    write_encoded(encode_records(frame, SECRET, STUDY, source=AGENCY), tmp_path / "empty.parquet")
    report = _check((tmp_path / "empty.parquet").read_bytes())
    assert report.ok is False
    assert "no_records" in _codes(report)
