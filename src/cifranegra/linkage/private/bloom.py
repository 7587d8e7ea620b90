"""Record-level Bloom-filter encoding (CLK-RBF) of already-normalized identifying fields.

For each field, each token (bigram, positional character, date digit, or whole value) is mixed with
the field's salt value (e.g. the year of birth) and mapped to ``k`` bit positions by a keyed hash
under the field's own key (random hashing, Niedermeyer et al. 2014, which resists the attacks on
double hashing): block ``j`` of positions is keyed BLAKE2b-512 (RFC 7693's MAC mode),
``BLAKE2b(key=K_field, [j] || salt || 0x1F || token)``, read as 32 big-endian 16-bit integers, each
taken modulo the filter length. BLAKE2b's keyed mode is a PRF like HMAC, gives 32 positions per call
and is about three times faster than HMAC-SHA256 in Python. All fields set bits in one filter of
``spec.bits`` bits, which is then XOR-folded in half (Schnell, Borgs & Encina 2016). Bit ``p`` is
bit ``7 - p % 8`` of byte ``p // 8`` (most significant bit first), so the stored bytes are the same
on every machine.

Speed: values are tokenized once per distinct value, each distinct (salt, token) is hashed once, and
the bits are set by a small numba loop; real lists repeat names and dates a great deal.
"""

from __future__ import annotations

import datetime as _dt
import hashlib

import numba
import numpy as np
import pandas as pd

from cifranegra._numba import load as _load_numba
from cifranegra.linkage.private.keys import LinkageSecret
from cifranegra.linkage.private.spec import EncodingSpec, FieldSpec

_load_numba()  # before the first kernel loads: numba without scipy.linalg (cifranegra._numba)

_SEP = "\x1f"
_UNKNOWN_SALTS = frozenset({"unknown"})  # the schema's code for a value not recorded (schema.codes)
_CODEPOINTS = 0x110000


def field_key(secret: LinkageSecret, project: str, spec: EncodingSpec, field: str) -> bytes:
    """The key of one field (its key label): HKDF-SHA256(secret, salt=project,
    info='cifranegra/<version>/field/<label>')."""
    return secret.derive(project, f"cifranegra/{spec.version}/field/{field}")


# --- tokenizers -----------------------------------------------------------------------------------


def tokens(value: str, tokenizer: str) -> list[str]:
    """The distinct tokens of a normalized value, in first-seen order (the normative definition)."""
    if tokenizer == "bigram":
        padded = "_" + "_".join(value.split()) + "_"
        return list(dict.fromkeys(padded[i : i + 2] for i in range(len(padded) - 1)))
    if tokenizer in ("positional", "date"):
        return [f"{i}={c}" for i, c in enumerate(value, start=1)]
    if tokenizer == "exact":
        return [value]
    raise ValueError(f"unknown tokenizer {tokenizer!r}")


def token_positions(key: bytes, salt: str, token: str, k: int, bits: int) -> np.ndarray:
    """The ``k`` bit positions (repetition possible) of one salted token (the normative definition)."""
    return _positions_many(key, [(salt + _SEP + token).encode("utf-8")], k, bits)[0]


def _positions_many(key: bytes, messages: list[bytes], k: int, bits: int) -> np.ndarray:
    blake = hashlib.blake2b
    n_blocks = -(-k // 32)
    if n_blocks == 1:
        raw = b"".join(blake(b"\x00" + m, key=key).digest() for m in messages)
    else:
        prefixes = [bytes([j]) for j in range(n_blocks)]
        raw = b"".join(blake(p + m, key=key).digest() for m in messages for p in prefixes)
    table = np.frombuffer(raw, dtype=">u2").reshape(len(messages), 32 * n_blocks)[:, :k]
    return table.astype(np.int64) % bits


# --- column preparation ---------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def _date_text(value: object) -> str | None:
    """One value as ``YYYYMMDD`` (None when missing or not a date)."""
    if _is_missing(value):
        return None
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        ts = pd.Timestamp(value)
        return f"{ts.year:04d}{ts.month:02d}{ts.day:02d}"
    digits = str(value).strip().replace("-", "").replace("/", "")
    return digits if len(digits) == 8 and digits.isdigit() else None


def _plain_text(value: object) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    return text or None


def factorized_text(frame: pd.DataFrame, column: str, tokenizer: str = "exact") -> tuple[np.ndarray, list[str]]:
    """A column as normalized text, factorized: (codes per row, -1 when missing; distinct texts).

    Dates (every value of a ``date`` field, and any date or timestamp value) become ``YYYYMMDD``;
    integral numbers lose any ``.0``; whitespace is trimmed and collapsed. The work is done once
    per distinct raw value.
    """
    n = len(frame)
    if column not in frame.columns:
        return np.full(n, -1, dtype=np.int64), []
    codes, raw = pd.factorize(frame[column], use_na_sentinel=True)
    if isinstance(raw, pd.DatetimeIndex):
        return codes.astype(np.int64), [str(v) for v in raw.strftime("%Y%m%d")]
    values = raw.tolist() if hasattr(raw, "tolist") else list(raw)
    cleaned: list[str | None]
    if tokenizer != "date" and all(type(v) is str for v in values):  # the common case, fast
        cleaned = [" ".join(v.split()) or None for v in values]
    else:
        cleaned = [
            _date_text(v) if tokenizer == "date" or isinstance(v, (_dt.date, pd.Timestamp, np.datetime64))
            else _plain_text(v)
            for v in values
        ]
    remap, uniques = pd.factorize(pd.Series(cleaned, dtype=object), use_na_sentinel=True)
    remap = np.append(remap, -1)  # code -1 (missing) stays -1
    return remap[codes].astype(np.int64), [str(u) for u in uniques]


def column_text(frame: pd.DataFrame, column: str, tokenizer: str = "exact") -> pd.Series:
    """A column as normalized text (object Series, None when missing or absent); see :func:`factorized_text`."""
    codes, uniques = factorized_text(frame, column, tokenizer)
    table = np.array([*uniques, None], dtype=object)
    return pd.Series(table[codes], index=frame.index, dtype=object)


# --- encoding -------------------------------------------------------------------------------------


def _tokenize_distinct(values: list[str], tokenizer: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tokens of each distinct value: (flat token ids, offsets per value, vocabulary)."""
    if tokenizer in ("positional", "date") and values:
        arr = np.array(values, dtype=str)
        width = arr.dtype.itemsize // 4
        codes = arr.view(np.uint32).reshape(len(values), width).astype(np.int64)
        present = codes != 0
        ids = (np.arange(1, width + 1, dtype=np.int64) * _CODEPOINTS)[None, :] + codes
        uniq, flat = np.unique(ids[present], return_inverse=True)
        vocab = [f"{int(u) // _CODEPOINTS}={chr(int(u) % _CODEPOINTS)}" for u in uniq]
        offsets = np.concatenate(([0], np.cumsum(present.sum(axis=1))))
        return flat.astype(np.int64), offsets.astype(np.int64), vocab
    index: dict[str, int] = {}
    flat_list: list[int] = []
    offsets_list = [0]
    for v in values:
        for t in tokens(v, tokenizer):
            tid = index.get(t)
            if tid is None:
                tid = index[t] = len(index)
            flat_list.append(tid)
        offsets_list.append(len(flat_list))
    return np.asarray(flat_list, dtype=np.int64), np.asarray(offsets_list, dtype=np.int64), list(index)


@numba.njit(cache=True, nogil=True)
def _set_bits(out, records, rows, table):  # type: ignore[no-untyped-def]
    """For each expanded token t: OR the positions ``table[rows[t]]`` into ``out[records[t]]``."""
    k = table.shape[1]
    for t in range(records.shape[0]):
        r = records[t]
        row = rows[t]
        for h in range(k):
            p = table[row, h]
            out[r, p >> 3] |= np.uint8(0x80 >> (p & 7))


def _field_into(
    out: np.ndarray,
    values: tuple[np.ndarray, list[str]],
    salts: tuple[np.ndarray, list[str]],
    field: FieldSpec,
    key: bytes,
    bits: int,
) -> None:
    """Set the bits of one field in every record's filter ``out`` (n, bits/8), in place.

    ``values`` and ``salts`` are factorized text (:func:`factorized_text`); a missing salt is "".
    """
    vcodes, vuniq = values
    if not vuniq:
        return
    scodes_raw, suniq_raw = salts
    suniq = [*suniq_raw, ""]
    scodes = np.where(scodes_raw < 0, len(suniq_raw), scodes_raw)
    flat, offsets, vocab = _tokenize_distinct(vuniq, field.tokenizer)
    present = np.flatnonzero(vcodes >= 0)
    vc = vcodes[present]
    counts = offsets[vc + 1] - offsets[vc]
    record_of = np.repeat(present, counts)
    starts = np.repeat(offsets[vc] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    token_of = flat[np.arange(len(record_of)) + starts]
    salt_of = scodes[record_of].astype(np.int64)
    if field.salt_unknown:
        # a record whose salt is missing or unknown: its tokens under each of the listed salt values
        unknown_codes = [c for c, text in enumerate(suniq) if text == "" or text.lower() in _UNKNOWN_SALTS]
        hit = np.isin(salt_of, unknown_codes)
        if hit.any():
            alt = []
            for value in field.salt_unknown:
                if value not in suniq:
                    suniq.append(value)
                alt.append(suniq.index(value))
            n_hit = int(hit.sum())
            record_of = np.concatenate([record_of[~hit], np.tile(record_of[hit], len(alt))])
            token_of = np.concatenate([token_of[~hit], np.tile(token_of[hit], len(alt))])
            salt_of = np.concatenate([salt_of[~hit], np.repeat(np.asarray(alt, dtype=np.int64), n_hit)])
    salted = salt_of * len(vocab) + token_of
    uniq, rows = np.unique(salted, return_inverse=True)
    salt_text = suniq
    messages = [
        (salt_text[int(u) // len(vocab)] + _SEP + vocab[int(u) % len(vocab)]).encode("utf-8") for u in uniq
    ]
    table = _positions_many(key, messages, field.k, bits)
    _set_bits(out, record_of.astype(np.int64), rows.astype(np.int64), np.ascontiguousarray(table))


def encode_fields(
    frame: pd.DataFrame, secret: LinkageSecret, project: str, spec: EncodingSpec
) -> np.ndarray:
    """The encodings of every row of ``frame``: uint8 array of shape (n, spec.encoded_bytes).

    ``frame`` holds already-normalized values (the Records frame); absent or missing fields
    contribute no bits. Pure: no I/O, deterministic given secret, project and spec.
    """
    n = len(frame)
    frame = frame.reset_index(drop=True)
    full = np.zeros((n, spec.bits // 8), dtype=np.uint8)
    no_salt: tuple[np.ndarray, list[str]] = (np.full(n, -1, dtype=np.int64), [])
    salt_cache: dict[str, tuple[np.ndarray, list[str]]] = {}
    for field in spec.fields:
        values = factorized_text(frame, field.name, field.tokenizer)
        if field.salt:
            if field.salt not in salt_cache:
                salt_cache[field.salt] = factorized_text(frame, field.salt)
            salts = salt_cache[field.salt]
        else:
            salts = no_salt
        key = field_key(secret, project, spec, field.key_label)
        _field_into(full, values, salts, field, key, spec.bits)
    if not spec.fold:
        return full
    half = spec.bits // 16
    return np.bitwise_xor(full[:, :half], full[:, half:])
