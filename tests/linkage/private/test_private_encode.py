"""Bloom-filter encoding: the spec's test vectors, an independent reference implementation of the
spec text (docs/private-linkage.md), determinism, fill, and input checks."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest
from private_synth import simulate_lists

from cifranegra.errors import InputError, ValidationError
from cifranegra.linkage.private import (
    MEXICO_SPEC,
    MEXICO_SPEC_2,
    MEXICO_SPEC_UNSALTED,
    MEXICO_SPEC_V1,
    EncodingSpec,
    LinkageSecret,
    dice_pairs,
    encode_records,
)
from cifranegra.linkage.private.bloom import token_positions, tokens

SECRET = LinkageSecret(bytes(range(32)))
PROJECT = "cifranegra-test-vectors"

VECTOR_RECORD = {
    "source": "A",
    "record_id": "1",
    "given_names": "MARIA GUADALUPE",
    "first_surname": "HERNANDEZ",
    "second_surname": "LOPEZ",
    "birth_date": pd.Timestamp("1990-03-04"),
    "birth_year": 1990,
    "sex": "female",
    "curp": "HELG900304MDFRPD09",
}
VECTOR_CLK = (
    "475eb6058e00560514de0f8e151bd4754787da026f6be8505a93bdd30e7791583241c6b88783eb751936595f1ad1b77a"
    "f567e316caff490880a979bcc801af12db515e748ee146bec7a38351b0bf63b2fd1def84f87ac07084a185aa4b088d88"
    "81c0dc700fc8600447107586468045670c6a94b58263f30874e488eb7cd5be95"
)
VECTOR_BLOCKS = {
    "block_sn3_yob": "7e7fe8bff279d832",
    "block_gn2_sn2_ssn2": "9b43df96699f63ae",
    "block_dob": "abe5f85bf9bf9db7",
    "block_gn3_yob_sex": "1360ef456e61260a",
}


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["birth_year"] = df["birth_year"].astype("Int64")
    return df


def reference_clk(record: dict[str, object], secret_bytes: bytes, project: str, spec: EncodingSpec) -> bytes:
    """The spec text, implemented as plainly as possible (independently of cifranegra's code)."""

    def hkdf(info: str) -> bytes:
        prk = hmac.new(project.encode(), secret_bytes, hashlib.sha256).digest()
        return hmac.new(prk, info.encode() + b"\x01", hashlib.sha256).digest()

    def text(field: str, tokenizer: str) -> str | None:
        v = record.get(field)
        if v is None:
            return None
        if tokenizer == "date":
            return pd.Timestamp(v).strftime("%Y%m%d")
        return str(v)

    bits = [0] * spec.bits
    for f in spec.fields:
        value = text(f.name, f.tokenizer)
        if value is None:
            continue
        salt = "" if f.salt is None or record.get(f.salt) is None else str(record[f.salt])
        key = hkdf(f"cifranegra/{spec.version}/field/{f.key or f.name}")
        if f.tokenizer == "bigram":
            padded = "_" + value.replace(" ", "_") + "_"
            toks = {padded[i : i + 2] for i in range(len(padded) - 1)}
        elif f.tokenizer in ("positional", "date"):
            toks = {f"{i + 1}={c}" for i, c in enumerate(value)}
        else:
            toks = {value}
        for t in toks:
            positions: list[int] = []
            j = 0
            while len(positions) < f.k:
                digest = hashlib.blake2b(bytes([j]) + f"{salt}\x1f{t}".encode(), key=key).digest()
                positions += [int.from_bytes(digest[2 * m : 2 * m + 2], "big") % spec.bits for m in range(32)]
                j += 1
            for p in positions[: f.k]:
                bits[p] = 1
    half = spec.bits // 2
    folded = [bits[i] ^ bits[i + half] for i in range(half)] if spec.fold else bits
    return bytes(int("".join(map(str, folded[i : i + 8])), 2) for i in range(0, len(folded), 8))


def test_vector_record() -> None:
    enc = encode_records(_frame([VECTOR_RECORD]), SECRET, PROJECT, MEXICO_SPEC_V1)
    assert enc.clks.shape == (1, 128)
    assert enc.clks[0].tobytes().hex() == VECTOR_CLK
    row = enc.records.iloc[0]
    for col, value in VECTOR_BLOCKS.items():
        assert row[col] == value
    assert enc.key_check == "c28dad19c688fb96"
    assert MEXICO_SPEC_V1.fingerprint() == "806cdcb273278e73"


def _derived(rec: dict[str, object]) -> dict[str, object]:
    """The derived columns, by the rules of docs/private-linkage.md."""
    from cifranegra.schema.nicknames import canonical_given_name

    year = rec.get("birth_year")
    if year is None and rec.get("age") is not None and rec.get("registration_date") is not None:
        reg = pd.Timestamp(rec["registration_date"])
        year = reg.year - int(rec["age"]) - (1 if reg.month < 7 else 0)  # type: ignore[call-overload]
    given = rec.get("given_names")
    return {**rec, "birth_year_est": year, "given_names_canonical": canonical_given_name(given) if given else None}


def test_position_vectors() -> None:
    # docs/private-linkage.md, "Test vectors"
    surnames = SECRET.derive(PROJECT, "cifranegra/clk-mx-1/field/surnames")
    assert token_positions(surnames, "1990", "HE", 30, 2048).tolist() == [
        1561, 152, 1420, 1215, 1308, 1925, 860, 1815, 469, 488, 560, 191, 1771, 1407, 757, 298, 535, 815,
        396, 885, 1307, 207, 105, 138, 1284, 169, 1566, 287, 824, 1093]
    dates = SECRET.derive(PROJECT, "cifranegra/clk-mx-1/field/birth_date")
    assert token_positions(dates, "", "1=1", 30, 2048).tolist() == [
        1303, 2003, 989, 1301, 584, 559, 547, 964, 374, 1736, 268, 1969, 204, 540, 556, 1784, 1508, 1186,
        204, 1519, 465, 1993, 1341, 1560, 575, 1681, 818, 1565, 847, 1764]


def test_age_only_nickname_record_matches_the_vector_record() -> None:
    # docs/private-linkage.md: LUPITA, age 30 on 2021-03-15, no birth date, no CURP → Dice 0.657
    other = _frame([{**VECTOR_RECORD, "given_names": "LUPITA", "birth_date": None, "birth_year": None,
                     "curp": None, "age": 30, "registration_date": pd.Timestamp("2021-03-15")}])
    a = encode_records(_frame([VECTOR_RECORD]), SECRET, PROJECT, MEXICO_SPEC_V1).words()
    b = encode_records(other, SECRET, PROJECT, MEXICO_SPEC_V1).words()
    dice = dice_pairs(a, b, np.array([0]), np.array([0]))[0]
    assert dice == pytest.approx(0.65675, abs=1e-4) and dice >= MEXICO_SPEC_V1.threshold


@pytest.mark.parametrize("spec", [MEXICO_SPEC, MEXICO_SPEC_2, MEXICO_SPEC_V1, MEXICO_SPEC_UNSALTED])
def test_reference_implementation_agrees_on_synthetic_records(spec: EncodingSpec) -> None:
    df = simulate_lists(60, 2, seed=5)
    df.loc[df.index[:10], "birth_year"] = pd.NA  # exercise the estimate from the age
    enc = encode_records(df, SECRET, PROJECT, spec)
    for i in range(len(df)):
        rec = _derived({k: (None if pd.isna(v) else v) for k, v in df.iloc[i].to_dict().items()})
        assert enc.clks[i].tobytes() == reference_clk(rec, bytes(range(32)), PROJECT, spec), i


def test_tokenizers() -> None:
    assert tokens("ANA", "bigram") == ["_A", "AN", "NA", "A_"]
    assert tokens("ANA MA", "bigram") == ["_A", "AN", "NA", "A_", "_M", "MA"]
    assert tokens("AAAA", "bigram") == ["_A", "AA", "A_"]
    assert tokens("19900304", "date")[:2] == ["1=1", "2=9"]
    assert tokens("female", "exact") == ["female"]


def test_deterministic_and_independent_of_row_order_and_extra_columns() -> None:
    df = simulate_lists(200, 2, seed=1)
    a = encode_records(df, SECRET, PROJECT)
    shuffled = df.sample(frac=1.0, random_state=3)
    b = encode_records(shuffled.assign(unrelated="x")[list(reversed(shuffled.columns))], SECRET, PROJECT)
    order = {rid: i for i, rid in enumerate(b.records["record_id"])}
    idx = [order[r] for r in a.records["record_id"]]
    assert np.array_equal(a.clks, b.clks[idx])


def test_about_half_the_bits_are_set() -> None:
    df = simulate_lists(1500, 3, seed=2)
    enc = encode_records(df, SECRET, PROJECT)
    fill = np.unpackbits(enc.clks, axis=1).mean()
    assert 0.40 <= fill <= 0.55, fill


def test_missing_fields_set_fewer_bits_and_empty_record_is_empty() -> None:
    full = _frame([VECTOR_RECORD])
    sparse = _frame([{**VECTOR_RECORD, "curp": None, "birth_date": None}])
    with_empty = _frame([VECTOR_RECORD, {"source": "A", "record_id": "2", "birth_year": None}])
    n_full = np.unpackbits(encode_records(full, SECRET, PROJECT).clks).sum()
    n_sparse = np.unpackbits(encode_records(sparse, SECRET, PROJECT).clks).sum()
    assert n_sparse < n_full
    assert np.unpackbits(encode_records(with_empty, SECRET, PROJECT).clks[1]).sum() == 0


def test_a_frame_that_was_not_normalized_is_refused_not_encoded_empty() -> None:
    """The API review: an agency's raw frame (its own headers) encoded to all-zero filters, and
    link_encoded made every record its own person (383 'persons' for 279), with no word."""
    raw = pd.DataFrame({"source": ["A", "A"], "record_id": ["1", "2"], "Nombre": ["MARIA", "ROSA"],
                        "Fecha de nacimiento": ["1990-01-01", "1991-02-02"]})
    with pytest.raises(InputError, match="none of the columns the encoding reads") as info:
        encode_records(raw, SECRET, PROJECT)
    assert "MARIA" not in str(info.value)
    nothing = _frame([{"source": "A", "record_id": "1", "birth_year": None, "curp": None},
                      {"source": "A", "record_id": "2", "birth_year": None, "curp": None}])
    with pytest.raises(InputError, match="no record has a name, birth date or CURP"):
        encode_records(nothing, SECRET, PROJECT)


def test_dates_as_text_timestamps_or_dates_encode_alike() -> None:
    import datetime as dt

    variants = [pd.Timestamp("1990-03-04"), dt.date(1990, 3, 4), "1990-03-04"]
    clks = [encode_records(_frame([{**VECTOR_RECORD, "birth_date": v}]), SECRET, PROJECT).clks[0] for v in variants]
    assert all(np.array_equal(clks[0], c) for c in clks[1:])


def test_record_ids_holding_identifiers_are_refused() -> None:
    df = _frame([{**VECTOR_RECORD, "record_id": "HERNANDEZ-17"}])
    with pytest.raises(ValidationError) as info:
        encode_records(df, SECRET, PROJECT)
    assert "HERNANDEZ" not in str(info.value)
    renumbered = encode_records(df, SECRET, PROJECT, renumber=True)
    assert renumbered.records["record_id"].tolist() == ["1"]


def test_list_prefix_in_record_ids_is_not_taken_for_a_name() -> None:
    # a shelter numbers its records "REFU-2023-…" and one of its people is called Refu (seen on the
    # simulator's lists, seed 45): the prefix every id carries is the list's, not the person's
    rows = [{**VECTOR_RECORD, "record_id": f"REFU-2023-{i:06d}"} for i in range(30)]
    rows[7] = {**rows[7], "given_names": "REFU", "given_names_canonical": "REFU"}
    enc = encode_records(_frame(rows), SECRET, PROJECT)
    assert len(enc.records) == 30
    # a name word elsewhere in the id is still refused, in the same file
    rows[9] = {**rows[9], "record_id": "REFU-2023-HERNANDEZ"}
    with pytest.raises(ValidationError) as info:
        encode_records(_frame(rows), SECRET, PROJECT)
    assert "row 10" in str(info.value) and "HERNANDEZ" not in str(info.value)
    # too few ids to tell a list prefix from a name: refused
    refu = {"given_names": "REFU", "given_names_canonical": "REFU"}
    few = [{**VECTOR_RECORD, **refu, "record_id": f"REFU-{i}"} for i in range(5)]
    with pytest.raises(ValidationError):
        encode_records(_frame(few), SECRET, PROJECT)


def test_source_is_required_and_secret_must_be_a_linkage_secret() -> None:
    df = _frame([VECTOR_RECORD]).drop(columns="source")
    with pytest.raises(InputError, match="source"):
        encode_records(df, SECRET, PROJECT)
    assert encode_records(df, SECRET, PROJECT, source="B").records["source"].tolist() == ["B"]
    with pytest.raises(TypeError):
        encode_records(_frame([VECTOR_RECORD]), "00" * 32, PROJECT)  # type: ignore[arg-type]


def test_strata_carried_and_year_from_registration_date() -> None:
    df = simulate_lists(100, 2, seed=4)
    enc = encode_records(df, SECRET, PROJECT)
    assert {"year", "sex", "age_group", "state", "exploitation"} <= set(enc.records.columns)
    assert set(enc.records["year"].dropna().astype(int)) <= {2020, 2021, 2022, 2023}


def test_a_registration_year_the_hub_refuses_is_refused_at_encoding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """docs/private-linkage.md, 'How a study runs': each agency encodes, the hub runs. The hub's reader
    accepts registration years 1900-2100 only and takes any other for a file altered after encoding;
    `encode` used to write such a year, so the agency got a file no study could read and was told to
    encode again, which wrote the same file. Now encoding refuses it, by row, the date not shown."""
    from cifranegra.ingest.encoded import read_encoded, write_encoded

    rows = [{**VECTOR_RECORD, "record_id": str(i), "registration_date": pd.Timestamp("2023-05-01")} for i in range(3)]
    rows[1] = {**rows[1], "registration_date": pd.Timestamp("1890-06-01")}
    with pytest.raises(ValidationError) as info:
        encode_records(_frame(rows), SECRET, PROJECT, file="lista.csv")
    assert [(p.file, p.row, p.code) for p in info.value.problems] == [
        ("lista.csv", 2, "registration_year_out_of_range")]
    assert "1890" not in str(info.value)
    rows[1] = {**rows[1], "registration_date": pd.NaT}  # an empty date encodes, with the year unknown
    enc = encode_records(_frame(rows), SECRET, PROJECT)
    write_encoded(enc, tmp_path / "ok.parquet")
    assert read_encoded(tmp_path / "ok.parquet").records["year"].isna().tolist() == [False, True, False]


def test_spec_round_trips_through_dict() -> None:
    again = EncodingSpec.from_dict(MEXICO_SPEC.to_dict())
    assert again == MEXICO_SPEC and again.fingerprint() == MEXICO_SPEC.fingerprint()
    with pytest.raises(InputError):
        EncodingSpec.from_dict({**MEXICO_SPEC.to_dict(), "bits": 1000})


def test_vector_record_clk_mx_2() -> None:
    # docs/private-linkage.md, "Test vectors" (clk-mx-2: names salted with sex, no signatures)
    enc = encode_records(_frame([VECTOR_RECORD]), SECRET, PROJECT, MEXICO_SPEC_2)
    assert MEXICO_SPEC_2.version == "clk-mx-2" and MEXICO_SPEC_2.fingerprint() == "03386fe80a294634"
    assert enc.clks[0].tobytes().hex() == (
        "a1f653c82c5b18272477564a45827b2bec580133c4faa32d78bf2f6a886a23af427016b9f05b9e68ca664f28f5672965"
        "fd1aaf8778fc8c4d3ad193aaafeeca9a1f1c937f0b1d68fe7caeb5c328d7a4d593940cf05b6de2d02d7741c7ef4c15ec"
        "fca3af5385bece7edb78bea9665fa365cb07bc438a8b6cef3d73b1d0551934ea")
    assert enc.key_check == "fc94d40c4e0ecc7b"
    assert not any(c.startswith("block_") for c in enc.records.columns)


def test_vector_record_clk_mx_3() -> None:
    # docs/private-linkage.md, "Test vectors" (clk-mx-3, the default: names not salted, no signatures)
    enc = encode_records(_frame([VECTOR_RECORD]), SECRET, PROJECT)
    assert MEXICO_SPEC.version == "clk-mx-3" and MEXICO_SPEC.fingerprint() == "b29459863cc5ea80"
    assert enc.clks[0].tobytes().hex() == (
        "1a6ae3a42bf31915e0d484021043513dff15057679da81b5d5831184a87583ad12b219bfaa604bc4757a0b1fb28f2464"
        "3e8cb614b7e4a403c484586d626ff9f97f8f4a3018d9e205c711f295750ab765586f69290106619d2c0ed892e0bdaa0c"
        "f4c5f3cf74c2d56b417f23b7cb8c3287701e0774d7fa7ba5bef567e799028ddc")
    assert enc.key_check == "595840483d25bf8f"
    assert int(np.unpackbits(enc.clks).sum()) == 503
    assert not any(c.startswith("block_") for c in enc.records.columns)


def test_salt_unknown_inserts_the_tokens_under_every_listed_salt() -> None:
    """FieldSpec.salt_unknown: a record whose salt is missing or 'unknown' carries the field's tokens
    under each listed salt value, so it shares those bits with the same value under either salt."""
    import dataclasses

    both = dataclasses.replace(
        MEXICO_SPEC_2, version="test-sex-both",
        fields=tuple(dataclasses.replace(f, salt_unknown=("female", "male")) if f.salt else f
                     for f in MEXICO_SPEC_2.fields),
    )  # fmt: skip
    names = {"source": "A", "given_names": "MARIA", "first_surname": "LOPEZ", "birth_year": 1990}
    df = _frame([{**names, "record_id": "1", "sex": "female"}, {**names, "record_id": "2", "sex": "male"},
                 {**names, "record_id": "3", "sex": "unknown"}, {**names, "record_id": "4", "sex": None}])
    plain = encode_records(df, SECRET, PROJECT, MEXICO_SPEC_2).clks
    union = encode_records(df, SECRET, PROJECT, both).clks
    assert both.fingerprint() != MEXICO_SPEC_2.fingerprint()
    # the name fields alone, not folded: an unknown-sex record's filter is exactly the union of the
    # female and the male record's
    names_only = dataclasses.replace(both, fold=False, fields=tuple(f for f in both.fields if f.salt))
    u = encode_records(df, SECRET, PROJECT, names_only).clks
    assert np.array_equal(u[2], u[0] | u[1]) and np.array_equal(u[3], u[0] | u[1])
    assert not np.array_equal(u[0], u[1])
    w_plain = np.ascontiguousarray(plain).view(np.uint64)
    w_union = np.ascontiguousarray(union).view(np.uint64)
    i, j = np.array([0, 1, 0]), np.array([2, 2, 3])
    assert dice_pairs(w_plain, w_plain, i, j).max() < 0.6  # sex salt alone: unknown sex shares no name bits
    assert dice_pairs(w_union, w_union, i, j).min() > 0.7
    with pytest.raises(InputError, match="salt_unknown needs a salt"):
        dataclasses.replace(MEXICO_SPEC.fields[0], salt_unknown=("female",))
