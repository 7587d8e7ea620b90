"""Key derivation (HKDF-SHA256, RFC 5869) and the handling of the shared secret."""

from __future__ import annotations

import pickle

import pytest

from cifranegra.errors import InputError
from cifranegra.linkage.private import LinkageSecret, generate_secret, hkdf_sha256, key_check


def test_hkdf_rfc5869_test_case_1() -> None:
    # RFC 5869, Appendix A.1 (SHA-256, basic test case)
    okm = hkdf_sha256(
        ikm=bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_rfc5869_test_case_3_empty_salt_and_info() -> None:
    # RFC 5869, Appendix A.3 (zero-length salt and info)
    okm = hkdf_sha256(ikm=bytes.fromhex("0b" * 22), salt=b"", info=b"", length=42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_secret_is_never_shown() -> None:
    secret = LinkageSecret(bytes(range(32)))
    text = bytes(range(32)).hex()
    assert text not in repr(secret) and text not in str(secret) and text not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_short_or_malformed_secret_is_refused_without_echo() -> None:
    with pytest.raises(InputError, match="256"):
        LinkageSecret(b"x" * 31)
    bad = "zz" + "ab" * 40
    with pytest.raises(InputError) as info:
        LinkageSecret.from_hex(bad)
    assert bad not in str(info.value) and "ab" * 10 not in str(info.value)


def test_generated_secrets_are_256_bit_hex_and_distinct() -> None:
    a, b = generate_secret(), generate_secret()
    assert len(a) == 64 and a != b
    assert LinkageSecret.from_hex(a).derive("p", "x") != LinkageSecret.from_hex(b).derive("p", "x")


def test_keys_depend_on_project_and_use() -> None:
    secret = LinkageSecret(bytes(range(32)))
    assert secret.derive("a", "field/x") != secret.derive("b", "field/x")
    assert secret.derive("a", "field/x") != secret.derive("a", "field/y")
    assert key_check(secret, "a", "v") == key_check(LinkageSecret(bytes(range(32))), "a", "v")
    assert key_check(secret, "a", "v") != key_check(secret, "b", "v")
    with pytest.raises(InputError):
        secret.derive("  ", "x")


def test_derivation_vector() -> None:
    # docs/private-linkage.md, test vector 1
    secret = LinkageSecret(bytes(range(32)))
    project = "cifranegra-test-vectors"
    expected = {
        "field/given_names_canonical": "4285efae4cb97d279a232e523890b2edb30c1b21e7e0eaacc4ff051adbfbae52",
        "field/surnames": "005e5686fc84ee42b16e88247355dcf6de3b87a5fe3f39ecc1558b645ab22059",
        "field/birth_date": "ead42545e94a65b658c03800befc4ba1cb640b4b4f11f0aff96c5d01d9ed8e9b",
        "block": "7abb56598654737de1c90a51470cc3b4beb0a4f4bb7bf3f085a1ba23340e3dba",
    }
    for label, key in expected.items():
        assert secret.derive(project, f"cifranegra/clk-mx-1/{label}").hex() == key
