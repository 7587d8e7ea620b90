"""Attack (b): pattern mining of Bloom-filter bit positions (after Christen, Schnell, Vatsalan and
Ranbaduge 2017; Christen, Ranbaduge, Vatsalan and Schnell 2018).

Every record that contains a q-gram has all of that q-gram's bit positions set, so the positions of
a frequent q-gram are a frequent, strongly co-occurring set of bits. The attacker (no secret):

1. mines bit groups: greedily, the pair of unassigned positions with the largest covariance across
   the encodings seeds a group, which grows by the position most covariant with the group until the
   covariance falls below half the seed's (at most ``max_bits`` positions);
2. gives each group its support (records with at least ``present`` of its bits set) and aligns the
   groups, by support rank, with the q-grams of the spec's bigram fields ranked by their frequency in
   the attacker's reference population (tokens of fields sharing a key count as one token);
3. reads each record's recovered q-grams (groups present in it) and reconstructs each attribute as
   the reference value whose mapped q-grams are most completely present (at least ``min_cover`` of
   them, and at least ``min_qgrams`` of them mapped; ties to the more frequent value); otherwise
   no guess.

Salting (the same q-gram sets different bits in each birth cohort), record-level filters (many
fields share the bits) and XOR folding (set bits can cancel) are what this attack meets.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from cifranegra.linkage.private.attacks.baseline import AttackResult, normalize_values
from cifranegra.linkage.private.bloom import tokens
from cifranegra.linkage.private.spec import EncodingSpec

#: Attribute → the spec's field it is read from (and the reference column with its values).
PATTERN_FIELDS = {"first_surname": ("first_surname", "surname"),
                  "given_name": ("given_names_canonical", "given_name", "given_names")}


def bit_matrix(clks: np.ndarray) -> np.ndarray:
    """Encodings (n, bytes) as a 0/1 float32 matrix (n, bits), bit order as stored (MSB first)."""
    return np.unpackbits(np.ascontiguousarray(clks), axis=1).astype(np.float32)


def mine_bit_groups(bits: np.ndarray, max_groups: int, max_bits: int = 64, min_cov: float = 0.01) -> list[np.ndarray]:
    """Groups of strongly co-occurring bit positions (step 1 of the module docstring)."""
    mean = bits.mean(axis=0)
    cov = (bits.T @ bits) / len(bits) - np.outer(mean, mean)
    np.fill_diagonal(cov, -np.inf)
    free = np.ones(bits.shape[1], dtype=bool)
    groups: list[np.ndarray] = []
    for _ in range(max_groups):
        masked = np.where(free[:, None] & free[None, :], cov, -np.inf)
        flat = int(np.argmax(masked))
        i, j = divmod(flat, cov.shape[1])
        seed = masked[i, j]
        if not np.isfinite(seed) or seed < min_cov:
            break
        group = [i, j]
        free[[i, j]] = False
        total = cov[i] + cov[j]
        while len(group) < max_bits:
            score = np.where(free, total / len(group), -np.inf)
            best = int(np.argmax(score))
            if not np.isfinite(score[best]) or score[best] < seed / 2:
                break
            group.append(best)
            free[best] = False
            total = total + cov[best]
        groups.append(np.array(sorted(group), dtype=np.int64))
    return groups


def _reference_tokens(
    reference: pd.DataFrame, spec: EncodingSpec, limit: int
) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """The ``limit`` most frequent bigram tokens ``(key label, bigram)`` of the spec's fields in the
    reference, their share of records, and their co-occurrence (share of records holding both)."""
    per_record: list[set[tuple[str, str]]] = [set() for _ in range(len(reference))]
    for field in spec.fields:
        if field.tokenizer != "bigram":
            continue
        column = _reference_column(reference, field.name)
        if column is None:
            continue
        for r, v in enumerate(normalize_values(reference[column])):
            if v is not None:
                per_record[r].update((field.key_label, t) for t in tokens(v, "bigram"))
    counts: Counter[tuple[str, str]] = Counter()
    for s in per_record:
        counts.update(s)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    vocab = [t for t, _ in ranked]
    index = {t: k for k, t in enumerate(vocab)}
    present = np.zeros((len(reference), len(vocab)), dtype=np.float32)
    for r, s in enumerate(per_record):
        for t in s:
            k = index.get(t)
            if k is not None:
                present[r, k] = 1.0
    n = max(len(reference), 1)
    return vocab, present.sum(axis=0) / n, (present.T @ present) / n


def align_groups(
    support: np.ndarray, co_groups: np.ndarray, freq: np.ndarray, co_tokens: np.ndarray, rounds: int = 6
) -> np.ndarray:
    """Token index per group: a one-to-one assignment by support rank, refined by making the
    groups' co-occurrences agree with the tokens' (``rounds`` Hungarian re-assignments)."""
    from scipy.optimize import linear_sum_assignment

    eps = 0.005
    base = np.abs(np.log(support + eps)[:, None] - np.log(freq + eps)[None, :])
    rows, cols = linear_sum_assignment(base)
    token = np.full(len(support), -1, dtype=np.int64)
    token[rows] = cols
    lg, lq = np.log(co_groups + eps), np.log(co_tokens + eps)
    for _ in range(rounds):
        anchors = np.flatnonzero(token >= 0)
        mismatch = np.abs(lg[:, anchors][:, None, :] - lq[:, token[anchors]][None, :, :]).mean(axis=2)
        rows, cols = linear_sum_assignment(base + mismatch)
        new = np.full(len(support), -1, dtype=np.int64)
        new[rows] = cols
        if np.array_equal(new, token):
            break
        token = new
    return token


def _reference_column(reference: pd.DataFrame, field: str) -> str | None:
    aliases = {"given_names_canonical": ("given_name", "given_names_canonical", "given_names"),
               "first_surname": ("first_surname", "surname"), "second_surname": ("second_surname",)}
    for c in aliases.get(field, (field,)):
        if c in reference.columns:
            return c
    return None


def pattern_attack(
    clks: np.ndarray,
    spec: EncodingSpec,
    reference: pd.DataFrame,
    *,
    max_groups: int = 150,
    present: float = 0.8,
    min_cover: float = 0.8,
    min_qgrams: int = 2,
    max_candidates: int = 1500,
) -> AttackResult:
    """Guess first surnames and given names from the encodings' bit patterns alone.

    ``clks``: the encodings (n, bytes); ``spec``: the public spec (which fields are bigram-encoded
    and which share a key); ``reference``: the attacker's plaintext population (columns
    ``first_surname``, ``second_surname``, ``given_name``), for q-gram and name frequencies.
    """
    n = len(clks)
    guesses = pd.DataFrame({a: [None] * n for a in ("first_surname", "given_name", "birth_year")}, dtype=object)
    bits = bit_matrix(clks)
    groups = mine_bit_groups(bits, max_groups)
    vocab, freq, co_tokens = _reference_tokens(reference, spec, 2 * max_groups)
    if not groups or not vocab:
        return AttackResult("patterns", guesses, {"groups": len(groups)})
    have = np.stack([bits[:, g].mean(axis=1) >= present for g in groups], axis=1)  # (n, groups)
    hf = have.astype(np.float32)
    token = align_groups(hf.mean(axis=0), (hf.T @ hf) / n, freq, co_tokens)
    token_of_group = {g: vocab[t] for g, t in enumerate(token.tolist()) if t >= 0}
    m = len(token_of_group)
    details: dict[str, object] = {"groups": len(groups), "aligned": m}
    for attribute, fields in PATTERN_FIELDS.items():
        field = next((f for f in spec.fields if f.name in fields and f.tokenizer == "bigram"), None)
        column = _reference_column(reference, fields[0])
        if field is None or column is None:
            continue
        mapped = [g for g, (label, _) in token_of_group.items() if label == field.key_label]
        if not mapped:
            continue
        bigram_index = {token_of_group[g][1]: k for k, g in enumerate(mapped)}
        values = pd.Series(normalize_values(reference[column])).dropna().value_counts()
        values = values.iloc[:max_candidates]
        cand = np.zeros((len(values), len(mapped)), dtype=np.float32)
        for c, v in enumerate(values.index):
            for t in tokens(str(v), "bigram"):
                k = bigram_index.get(t)
                if k is not None:
                    cand[c, k] = 1.0
        size = cand.sum(axis=1)
        usable = size >= min_qgrams
        cover = (have[:, mapped].astype(np.float32) @ cand.T) / np.maximum(size, 1)[None, :]
        cover[:, ~usable] = 0.0
        prior = np.log(values.to_numpy(dtype=float)) / np.log(values.iloc[0] + 1.0) * 1e-3
        best = np.argmax(cover + prior[None, :], axis=1)
        ok = cover[np.arange(n), best] >= min_cover
        names = values.index.to_numpy(dtype=object)
        guesses[attribute] = pd.Series(np.where(ok, names[best], None), dtype=object)
        details[attribute] = {"mapped_qgrams": len(mapped), "guessed": int(ok.sum())}
    return AttackResult("patterns", guesses, details)
