"""Attack (c): graph matching of similarity graphs (after Vidanage, Ranbaduge, Christen and Schnell
2020, "A graph matching attack on privacy-preserving record linkage").

The attacker holds a plaintext reference population of the same kind and the public spec, and
encodes the reference under a key of their own: Dice similarities then live on the same scale in
both files (the encodings differ, the geometry does not), which replaces the similarity alignment of
the paper. In each file every record is a node and every pair with Dice ≥ the lowest of
``thresholds`` an edge. Node features: its bits set, its degree at each threshold (per 1,000
records), its best and mean top-3 similarity, and its neighbours' mean degree. Features are
standardized on the two files pooled; each encoded record is matched to its ``k`` nearest reference
records in feature space among those sharing its clear stratum fields (``by``, e.g. sex), and guesses
each attribute by their weighted vote. A record with a frequent name in a frequent birth cohort has
many close neighbours; that is what the attack reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from cifranegra.linkage.private.attacks.baseline import ATTRIBUTES, AttackResult, normalize_values
from cifranegra.linkage.private.similarity import all_pairs_above, popcounts

DEFAULT_THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def node_features(clks: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Graph features of every encoding (rows) in its own file's similarity graph."""
    words = np.ascontiguousarray(clks).view(np.uint64)
    n = len(words)
    i, j, s = all_pairs_above(words, words, min(thresholds), same=True)
    ii, jj, ss = np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([s, s])
    scale = 1000.0 / max(n, 1)
    cols = [popcounts(words).astype(float)]
    degree0 = np.bincount(ii, minlength=n).astype(float)
    for t in thresholds:
        cols.append(np.log1p(np.bincount(ii[ss >= t], minlength=n) * scale))
    best = np.full(n, min(thresholds))
    np.maximum.at(best, ii, ss)
    order = np.lexsort((-ss, ii))
    ii_o, ss_o = ii[order], ss[order]
    starts = np.searchsorted(ii_o, np.arange(n))
    rank = np.arange(len(ii_o)) - starts[ii_o]
    top = rank < 3
    top3 = np.bincount(ii_o[top], weights=ss_o[top], minlength=n) + min(thresholds) * (
        3 - np.bincount(ii_o[top], minlength=n))
    neigh = np.bincount(ii, weights=degree0[jj], minlength=n) / np.maximum(degree0, 1)
    cols += [best, top3 / 3.0, np.log1p(neigh * scale)]
    return np.column_stack(cols)


def graph_attack(
    clks: np.ndarray,
    records: pd.DataFrame,
    reference_clks: np.ndarray,
    reference: pd.DataFrame,
    *,
    by: Sequence[str] = ("sex", "age_group", "year"),
    k: int = 50,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> AttackResult:
    """Guess every record's attributes from its place in the similarity graph.

    ``clks``/``records``: the encoded file (encodings and its clear frame); ``reference_clks``: the
    attacker's reference encoded with the public spec under the attacker's own key;
    ``reference``: the same reference in plaintext (columns :data:`ATTRIBUTES` and the ``by``
    columns), row for row.
    """
    n = len(clks)
    f_t = node_features(clks, thresholds)
    f_r = node_features(reference_clks, thresholds)
    pooled = np.vstack([f_t, f_r])
    mu, sd = pooled.mean(axis=0), pooled.std(axis=0)
    sd[sd == 0] = 1.0
    z_t, z_r = (f_t - mu) / sd, (f_r - mu) / sd
    by = [c for c in by if c in records.columns and c in reference.columns]
    t_key = _keys(records, by)
    r_key = _keys(reference, by)
    values = {a: normalize_values(reference[a]) for a in ATTRIBUTES if a in reference.columns}
    guesses = pd.DataFrame({a: [None] * n for a in ATTRIBUTES}, dtype=object)
    cols = {a: guesses[a].to_numpy(dtype=object, copy=True) for a in values}
    for key in np.unique(t_key):
        rows = np.flatnonzero(t_key == key)
        pool = np.flatnonzero(r_key == key)
        if len(pool) == 0:
            continue
        kk = min(k, len(pool))
        dist, idx = cKDTree(z_r[pool]).query(z_t[rows], k=kk)
        dist, idx = dist.reshape(len(rows), kk), idx.reshape(len(rows), kk)
        weight = 1.0 / (dist + 1e-3)
        for a, vals in values.items():
            for r, nb, w in zip(rows, pool[idx], weight, strict=True):
                votes: dict[str, float] = {}
                for v, wt in zip(vals[nb], w, strict=True):
                    if v is not None:
                        votes[v] = votes.get(v, 0.0) + float(wt)
                if votes:
                    cols[a][r] = max(sorted(votes), key=votes.__getitem__)
    for a, col in cols.items():
        guesses[a] = col
    return AttackResult("graph", guesses, {"k": k, "by": by, "thresholds": list(thresholds)})


def _keys(frame: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    if not by:
        return np.zeros(len(frame), dtype=object).astype(str)
    parts = [normalize_values(frame[c]).astype(str) for c in by]
    return np.array(["|".join(t) for t in zip(*parts, strict=True)], dtype=object).astype(str)
