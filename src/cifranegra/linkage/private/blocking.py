"""Blocking keys: keyed HMACs of coarse attributes, several signatures per record.

Two records become a candidate pair when they share at least one signature, so a single error (a
typo in the surname, a wrong year of birth, a missing CURP) does not lose the pair as long as another
signature still agrees (multiple blocking passes: Christen 2012, *Data Matching*, ch. 4). Each
signature is ``HMAC-SHA256(K_block, name || 0x1F || part_1 || 0x1F || part_2 ...)`` truncated to
``spec.block_key_bytes`` bytes and written in hex; the key is derived from the shared secret, so the
signatures cannot be recomputed from a guessed name by anyone without the secret.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from cifranegra.linkage.private.bloom import factorized_text
from cifranegra.linkage.private.keys import LinkageSecret
from cifranegra.linkage.private.spec import BlockSpec, EncodingSpec

_SEP = "\x1f"


def block_column(name: str) -> str:
    """The column of the encoded frame holding signature ``name``."""
    return f"block_{name}"


def _part(frame: pd.DataFrame, column: str, transform: str, n: int) -> tuple[np.ndarray, list[str]]:
    codes, uniques = factorized_text(frame, column, "date" if transform == "year" else "exact")
    if transform == "value" or not uniques:
        return codes, uniques
    cut = [u[:4] for u in uniques] if transform == "year" else ["".join(u.split())[:n] for u in uniques]
    remap, merged = pd.factorize(pd.Series(cut, dtype=object))
    remap = np.append(remap, -1)
    return remap[codes].astype(np.int64), [str(m) for m in merged]


def blocking_keys(
    frame: pd.DataFrame, secret: LinkageSecret, project: str, spec: EncodingSpec
) -> pd.DataFrame:
    """One column ``block_<name>`` per signature of ``spec`` (hex text, NA when not computable)."""
    frame = frame.reset_index(drop=True)
    key = secret.derive(project, f"cifranegra/{spec.version}/block")
    out = pd.DataFrame(index=frame.index)
    for block in spec.blocks:
        out[block_column(block.name)] = _signature(frame, block, key, spec.block_key_bytes)
    return out


def _signature(frame: pd.DataFrame, block: BlockSpec, key: bytes, nbytes: int) -> pd.Series:
    n = len(frame)
    combined = np.zeros(n, dtype=np.int64)
    parts = []
    for col, transform, width in block.parts:
        codes, uniques = _part(frame, col, transform, width)
        parts.append((codes, uniques))
        missing = (combined < 0) | (codes < 0)
        merged = combined * (len(uniques) + 1) + codes
        combined = np.full(n, -1, dtype=np.int64)
        combined[~missing] = pd.factorize(merged[~missing])[0]  # keep the codes small
    if not (combined >= 0).any():
        return pd.Series([pd.NA] * n, dtype="string", index=frame.index)
    # pd.factorize numbers codes in order of first appearance, so the running maximum rises exactly
    # at the first record of each signature
    running = np.maximum.accumulate(combined)
    rows = np.flatnonzero(np.diff(running, prepend=-1) > 0)
    base = hmac.new(key, digestmod=hashlib.sha256)  # keyed once; copies skip the key schedule
    width = 2 * nbytes
    columns = [[u[i] for i in c[rows].tolist()] for c, u in parts]
    digests: list[str | None] = []
    for values in zip(*columns, strict=True):
        h = base.copy()
        h.update(_SEP.join((block.name, *values)).encode("utf-8"))
        digests.append(h.hexdigest()[:width])
    digests.append(None)  # code -1 (missing) picks this
    table = np.array(digests, dtype=object)
    return pd.Series(table[combined], index=frame.index, dtype="string")
