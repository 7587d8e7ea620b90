"""The encoded-list Parquet format and the secret readers (cifranegra.ingest.encoded)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cifranegra.errors import InputError
from cifranegra.ingest.encoded import (
    METADATA_KEY,
    SECRET_ENV_VAR,
    read_encoded,
    read_secret,
    write_encoded,
    write_new_secret,
)
from cifranegra.linkage.private import MEXICO_SPEC, EncodedList, LinkageSecret, encode_records, link_encoded

SECRET = LinkageSecret(bytes(range(32)))


def _records(n: int = 5, source: str = "A") -> pd.DataFrame:
    rng = np.random.default_rng(n)
    names = ["MARIA", "JOSE", "ANA", "LUIS", "ROSA", "JUAN", "ELENA"]
    df = pd.DataFrame({
        "source": source,
        "record_id": [str(i) for i in range(n)],
        "given_names": [names[i % len(names)] for i in range(n)],
        "first_surname": [["LOPEZ", "PEREZ", "CRUZ"][i % 3] for i in range(n)],
        "birth_date": pd.to_datetime([f"19{80 + i % 20}-0{1 + i % 9}-1{i % 10}" for i in range(n)]),
        "birth_year": pd.array([1980 + i % 20 for i in range(n)], dtype="Int64"),
        "sex": ["female", "male"] * (n // 2) + ["female"] * (n % 2),
        "registration_date": pd.to_datetime(["2021-01-01"] * n),
        "state": [f"{int(s):02d}" for s in rng.integers(1, 33, n)],
        "age_group": "18+",
        "exploitation": "unknown",
    })
    df.loc[0, "birth_year"] = pd.NA
    return df


def test_round_trip(tmp_path: Path) -> None:
    enc = encode_records(_records(), SECRET, "p")
    path = tmp_path / "a.parquet"
    write_encoded(enc, path)
    back = read_encoded(path)
    assert np.array_equal(back.clks, enc.clks)
    assert back.spec == MEXICO_SPEC and back.key_check == enc.key_check and back.project == "p"
    pd.testing.assert_frame_equal(back.records.reset_index(drop=True), enc.records.reset_index(drop=True),
                                  check_dtype=False)
    assert str(back.records["year"].dtype) == "Int64"
    schema = pq.read_schema(path)
    assert schema.field("clk").type.byte_width == 128
    meta = json.loads(schema.metadata[METADATA_KEY])
    assert meta["format"] == "cifranegra-encoded" and meta["format_version"] == 1
    assert meta["spec_version"] == MEXICO_SPEC.version == "clk-mx-3"
    assert meta["spec_fingerprint"] == MEXICO_SPEC.fingerprint()
    assert set(schema.names) <= {"source", "record_id", "clk", "year", "sex", "age_group", "state",
                                 "exploitation"} | {f"block_{b.name}" for b in MEXICO_SPEC.blocks}


def test_read_files_link_like_in_memory(tmp_path: Path) -> None:
    a = encode_records(_records(7, "A"), SECRET, "p")
    b = encode_records(_records(7, "B"), SECRET, "p")
    write_encoded(a, tmp_path / "a.parquet")
    write_encoded(b, tmp_path / "b.parquet")
    on_disk = link_encoded([read_encoded(tmp_path / "a.parquet"), read_encoded(tmp_path / "b.parquet")])
    in_memory = link_encoded([a, b])
    pd.testing.assert_frame_equal(on_disk, in_memory, check_dtype=False)
    assert on_disk["entity_id"].nunique() == 7


def test_plaintext_columns_are_refused(tmp_path: Path) -> None:
    enc = encode_records(_records(), SECRET, "p")
    leaky = EncodedList(enc.records.assign(given_names="MARIA"), enc.clks, enc.spec, enc.project, enc.key_check)
    with pytest.raises(InputError, match="given_names"):
        write_encoded(leaky, tmp_path / "x.parquet")
    # a file altered afterwards is refused on reading
    path = tmp_path / "ok.parquet"
    write_encoded(enc, path)
    table = pq.read_table(path)
    altered = table.append_column("curp", pq.read_table(path).column("source"))
    pq.write_table(altered, tmp_path / "altered.parquet")
    with pytest.raises(InputError, match="must not hold"):
        read_encoded(tmp_path / "altered.parquet")


def test_not_encoded_or_tampered_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(plain)
    with pytest.raises(InputError, match="not an encoded list"):
        read_encoded(plain)
    with pytest.raises(InputError, match="not found"):
        read_encoded(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="Parquet"):
        read_encoded(tmp_path / "junk.parquet")
    enc = encode_records(_records(), SECRET, "p")
    path = tmp_path / "e.parquet"
    write_encoded(enc, path)
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    for change, match in ((lambda m: m["spec"].update(bits=4096), "fingerprint"),
                          (lambda m: m.update(format_version=99), "upgrade")):
        m = json.loads(json.dumps(meta))
        change(m)
        bad = table.replace_schema_metadata({METADATA_KEY: json.dumps(m).encode()})
        pq.write_table(bad, tmp_path / "bad.parquet")
        with pytest.raises(InputError, match=match):
            read_encoded(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"{not json", "damaged \\(not JSON\\)"),
        (b"[1, 2]", "damaged \\(a JSON list"),
        (b'"text"', "damaged \\(a JSON str"),
        (None, "damaged \\(no 'spec'\\)"),  # None: the real metadata without its spec
        (b'{"format": "cifranegra-encoded", "format_version": "one"}', "format_version is not a whole number"),
    ],
)
def test_damaged_metadata_is_an_input_error(tmp_path: Path, raw: bytes | None, match: str) -> None:
    # docs/hardening.md: a file the user gives that cannot be used is exit 2 with the fix, never an
    # internal error; before, each of these raised JSONDecodeError, AttributeError or KeyError
    enc = encode_records(_records(), SECRET, "p")
    path = tmp_path / "e.parquet"
    write_encoded(enc, path)
    table = pq.read_table(path)
    if raw is None:
        meta = json.loads(table.schema.metadata[METADATA_KEY])
        del meta["spec"]
        raw = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: raw}), tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=match):
        read_encoded(tmp_path / "bad.parquet")


def test_records_removed_after_encoding_are_refused(tmp_path: Path) -> None:
    # the metadata's n_records is what `encode` wrote; a file with rows dropped since (or added) must
    # not be linked as if it were the agency's whole list (never silently lose records)
    enc = encode_records(_records(6), SECRET, "p")
    path = tmp_path / "e.parquet"
    write_encoded(enc, path)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 4).replace_schema_metadata(table.schema.metadata), tmp_path / "cut.parquet")
    with pytest.raises(InputError, match="holds 4 records but was written with 6"):
        read_encoded(tmp_path / "cut.parquet")


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("state", "MARIA LOPEZ", "column 'state', record\\(s\\) 3: not an INEGI state code"),
        ("sex", "MARIA", "column 'sex', record\\(s\\) 3: not one of female, male, unknown"),
        ("exploitation", "sexual_exploitation|LOPEZ", "column 'exploitation', record\\(s\\) 3"),
        ("year", -4711, "column 'year', record\\(s\\) 3: not a whole year from 1900 to 2100"),
    ],
)
def test_stratum_values_encode_never_writes_are_refused_without_showing_them(
    tmp_path: Path, column: str, value: object, match: str
) -> None:
    # a stratum value becomes a label of the run's tables and of what it publishes: a hand-edited encoded
    # file must not carry a name into them (found by a review: a name in `state` reached entities.csv and
    # the strata with exit 0). The message gives the column and row, never the value (docs/hardening.md)
    enc = encode_records(_records(6), SECRET, "p")
    path = tmp_path / "e.parquet"
    write_encoded(enc, path)
    table = pq.read_table(path)
    frame = table.to_pandas()
    if column == "year":
        frame[column] = frame[column].astype("Int64")
    else:
        frame[column] = frame[column].astype(object)
    frame.loc[2, column] = value
    import pyarrow as pa

    edited = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata)
    pq.write_table(edited, tmp_path / "edited.parquet")
    with pytest.raises(InputError, match=match) as e:
        read_encoded(tmp_path / "edited.parquet")
    message = str(e.value).replace(str(tmp_path / "edited.parquet"), "FILE")
    assert str(value) not in message and "never writes" in message
    # the file as encode wrote it is read (every stratum value is one encode writes), empty values too
    frame.loc[2, column] = None
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata),
                   tmp_path / "blank.parquet")
    assert len(read_encoded(tmp_path / "blank.parquet").records) == 6


def test_secret_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "s.hex"
    write_new_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(InputError, match="never overwritten"):
        write_new_secret(path)
    from_file = read_secret(path)
    from_env = read_secret(None, environ={SECRET_ENV_VAR: path.read_text().strip()})
    assert from_file.derive("p", "x") == from_env.derive("p", "x")
    with pytest.raises(InputError, match=SECRET_ENV_VAR):
        read_secret(None, environ={})
    with pytest.raises(InputError, match="not found"):
        read_secret(tmp_path / "none.hex")
    (tmp_path / "bin").write_bytes(b"\xff\xfe" * 40)
    with pytest.raises(InputError, match="hexadecimal"):
        read_secret(tmp_path / "bin")
