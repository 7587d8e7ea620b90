"""Dice similarity of encodings by popcounts on 64-bit words.

``dice(a, b) = 2 |a ∧ b| / (|a| + |b|)`` (Sørensen–Dice; Schnell et al. 2009). Scoring candidate pairs
is vectorized numpy (``np.bitwise_count``); comparing every record of one list with every record of
another (no blocking) runs in a numba kernel with the hardware popcount, parallel over rows, in two
passes (count, then fill) so memory grows with the matches, not with the product of list sizes.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from cifranegra._numba import load as _load_numba
from cifranegra.errors import InputError

_load_numba()  # before the first kernel loads: numba without scipy.linalg (cifranegra._numba)


def popcounts(words: np.ndarray) -> np.ndarray:
    """Bits set per row of a (n, w) uint64 array, as int64."""
    return np.bitwise_count(words).sum(axis=1, dtype=np.int64)


def _same_width(a: np.ndarray, b: np.ndarray) -> None:
    """Encodings compared must be 2-D arrays of the same number of words (different widths gave Dice
    above 1)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"encodings must be two 2-D arrays of the same width, not shapes {a.shape} and {b.shape}")


def dice_pairs(
    words_a: np.ndarray,
    words_b: np.ndarray,
    index_a: np.ndarray,
    index_b: np.ndarray,
    chunk: int = 262_144,
) -> np.ndarray:
    """Dice similarity of the pairs ``(words_a[index_a[t]], words_b[index_b[t]])``, float64."""
    _same_width(words_a, words_b)
    if len(index_a) != len(index_b):
        raise InputError(f"index_a and index_b pair records one to one: {len(index_a)} against {len(index_b)}")
    if int(chunk) < 1:
        raise InputError(f"chunk must be at least 1, not {chunk}")
    count_a = popcounts(words_a)
    count_b = popcounts(words_b)
    out = np.empty(len(index_a), dtype=np.float64)
    for start in range(0, len(index_a), chunk):
        ia = index_a[start : start + chunk]
        ib = index_b[start : start + chunk]
        common = np.bitwise_count(words_a[ia] & words_b[ib]).sum(axis=1, dtype=np.int64)
        denom = count_a[ia] + count_b[ib]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + chunk] = np.where(denom > 0, 2.0 * common / np.maximum(denom, 1), 0.0)
    return out


@intrinsic
def _popcount64(typingctx, x):  # type: ignore[no-untyped-def]
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [args[0]])

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _row_common(a_row, b_words, j):  # type: ignore[no-untyped-def]
    c = 0
    for w in range(a_row.shape[0]):
        c += _popcount64(a_row[w] & b_words[j, w])  # type: ignore[call-arg]
    return c


@numba.njit(parallel=True, cache=True)
def _count_above(a, b, ca, cb, threshold, skip_lower):  # type: ignore[no-untyped-def]
    n_a = a.shape[0]
    counts = np.zeros(n_a, dtype=np.int64)
    for i in numba.prange(n_a):
        start = i + 1 if skip_lower else 0
        k = 0
        for j in range(start, b.shape[0]):
            denom = ca[i] + cb[j]
            if denom == 0:
                continue
            c = _row_common(a[i], b, j)
            if 2.0 * c >= threshold * denom:
                k += 1
        counts[i] = k
    return counts


@numba.njit(parallel=True, cache=True)
def _fill_above(a, b, ca, cb, threshold, skip_lower, offsets, out_i, out_j, out_s):  # type: ignore[no-untyped-def]
    n_a = a.shape[0]
    for i in numba.prange(n_a):
        start = i + 1 if skip_lower else 0
        k = offsets[i]
        for j in range(start, b.shape[0]):
            denom = ca[i] + cb[j]
            if denom == 0:
                continue
            c = _row_common(a[i], b, j)
            if 2.0 * c >= threshold * denom:
                out_i[k] = i
                out_j[k] = j
                out_s[k] = 2.0 * c / denom
                k += 1


@numba.njit(parallel=True, cache=True)
def _above_buffered(a, b, ca, cb, threshold, skip_lower, out_j, out_s, counts):  # type: ignore[no-untyped-def]
    """One pass: each row keeps up to ``out_j.shape[1]`` matches; ``counts`` has the true number."""
    cap = out_j.shape[1]
    for i in numba.prange(a.shape[0]):
        start = i + 1 if skip_lower else 0
        k = 0
        for j in range(start, b.shape[0]):
            denom = ca[i] + cb[j]
            if denom == 0:
                continue
            c = _row_common(a[i], b, j)
            if 2.0 * c >= threshold * denom:
                if k < cap:
                    out_j[i, k] = j
                    out_s[i, k] = 2.0 * c / denom
                k += 1
        counts[i] = k


def all_pairs_above(
    words_a: np.ndarray, words_b: np.ndarray, threshold: float, *, same: bool = False, capacity: int = 128
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i, j) with Dice ≥ ``threshold`` between the rows of two arrays of uint64 words.

    ``same=True`` compares a list with itself and returns only ``i < j``. Returns ``(i, j, dice)``
    sorted by ``i`` then ``j``. One pass keeps up to ``capacity`` matches per row; the rare rows
    with more are compared again in a count-then-fill pass.
    """
    a = np.ascontiguousarray(words_a, dtype=np.uint64)
    b = np.ascontiguousarray(words_b, dtype=np.uint64)
    _same_width(a, b)
    ca = popcounts(a)
    cb = popcounts(b)
    n_a = a.shape[0]
    out_j = np.empty((n_a, capacity), dtype=np.int64)
    out_s = np.empty((n_a, capacity), dtype=np.float64)
    counts = np.zeros(n_a, dtype=np.int64)
    if n_a and b.shape[0]:
        _above_buffered(a, b, ca, cb, float(threshold), bool(same), out_j, out_s, counts)
    kept = np.minimum(counts, capacity)
    mask = np.arange(capacity)[None, :] < kept[:, None]
    rows = np.repeat(np.arange(n_a, dtype=np.int64), kept)
    cols, scores = out_j[mask], out_s[mask]
    over = np.flatnonzero(counts > capacity)
    if len(over):  # recompute the crowded rows exactly
        keep = ~np.isin(rows, over)
        rows, cols, scores = rows[keep], cols[keep], scores[keep]
        sub, ca_sub = a[over], ca[over]
        c2 = _count_above(sub, b, ca_sub, cb, float(threshold), False)
        offsets = np.zeros(len(over), dtype=np.int64)
        offsets[1:] = np.cumsum(c2)[:-1]
        total = int(c2.sum())
        fi = np.empty(total, dtype=np.int64)
        fj = np.empty(total, dtype=np.int64)
        fs = np.empty(total, dtype=np.float64)
        _fill_above(sub, b, ca_sub, cb, float(threshold), False, offsets, fi, fj, fs)
        fi = over[fi]
        if same:
            upper = fj > fi
            fi, fj, fs = fi[upper], fj[upper], fs[upper]
        rows = np.concatenate([rows, fi])
        cols = np.concatenate([cols, fj])
        scores = np.concatenate([scores, fs])
        order = np.lexsort((cols, rows))
        rows, cols, scores = rows[order], cols[order], scores[order]
    return rows, cols, scores
