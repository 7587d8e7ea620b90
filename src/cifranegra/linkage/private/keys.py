"""The shared linkage secret and the keys derived from it (HKDF-SHA256, RFC 5869).

Every agency taking part in a study holds the same secret (at least 256 bits, from a file or the
environment, never a command-line argument) and the same *project salt* (a public study name). All
keys are derived with HKDF-SHA256 (Krawczyk & Eronen 2010, RFC 5869): the project salt is the HKDF
salt, and each use (one key per encoded field, one for blocking, one key-check value) has its own
``info`` label, so keys for different fields or projects are independent even though the secret is
shared. Only :mod:`hashlib` / :mod:`hmac` from the standard library are used.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets

from cifranegra.errors import InputError

MIN_SECRET_BYTES = 32  # 256 bits

_HASH_LEN = 32


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2): ``PRK = HMAC-SHA256(salt, IKM)``; empty salt means 32 zero bytes."""
    return hmac.new(salt or b"\x00" * _HASH_LEN, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3) to ``length`` bytes (at most 255 × 32)."""
    if not 0 < length <= 255 * _HASH_LEN:
        raise ValueError(f"HKDF output length must be 1..{255 * _HASH_LEN}, got {length}")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869): extract then expand."""
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


class LinkageSecret:
    """The study's shared secret; its value never appears in ``repr``, ``str``, errors or logs.

    Build it with :meth:`from_hex` (the adapters in :mod:`cifranegra.ingest.encoded` read it from a
    file or the environment). The text form is hexadecimal (at least 64 hex digits = 256 bits), as
    written by :func:`generate_secret`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError("a LinkageSecret is made from bytes")
        if len(value) < MIN_SECRET_BYTES:
            raise InputError(
                f"the linkage secret has {len(value) * 8} bits; at least {MIN_SECRET_BYTES * 8} are "
                "needed. Generate one with `cifranegra encode --new-secret FILE` and share it with the "
                "other agencies through a secure channel."
            )
        self._value = bytes(value)

    def __repr__(self) -> str:
        return "LinkageSecret(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:  # never pickle the secret by accident
        raise TypeError("a LinkageSecret cannot be pickled")

    @classmethod
    def from_hex(cls, text: str, *, origin: str = "the secret") -> LinkageSecret:
        """Parse hexadecimal text (whitespace ignored); the error never echoes the text."""
        cleaned = "".join(text.split())
        try:
            value = bytes.fromhex(cleaned)
        except ValueError:
            raise InputError(
                f"{origin} is not hexadecimal text ({len(cleaned)} characters read); it must hold at "
                f"least {MIN_SECRET_BYTES * 2} hex digits. Generate one with "
                "`cifranegra encode --new-secret FILE`."
            ) from None
        return cls(value)

    def derive(self, project: str, info: str, length: int = 32) -> bytes:
        """A key for one use: HKDF-SHA256(secret, salt=project, info=info)."""
        return hkdf_sha256(self._value, project_salt(project), info.encode("utf-8"), length)


def project_salt(project: str) -> bytes:
    """The HKDF salt for a study: the UTF-8 bytes of its (public) name, which must not be empty."""
    if not isinstance(project, str) or not project.strip():
        raise InputError("the project salt (study name) must be a non-empty text, e.g. 'cdmx-2026'")
    return project.strip().encode("utf-8")


def generate_secret() -> str:
    """A fresh 256-bit secret as 64 hex digits (from :mod:`secrets`, the OS CSPRNG)."""
    return _secrets.token_hex(MIN_SECRET_BYTES)


def key_check(secret: LinkageSecret, project: str, spec_version: str) -> str:
    """A 64-bit key-check value: equal for files encoded with the same secret, project and spec.

    Lets the linker refuse to mix files encoded under different keys (which would silently give no
    matches) without revealing anything usable about the secret.
    """
    key = secret.derive(project, f"cifranegra/{spec_version}/key-check")
    return hmac.new(key, b"cifranegra key check", hashlib.sha256).hexdigest()[:16]
