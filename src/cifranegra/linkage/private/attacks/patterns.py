"""Attack (b): pattern mining of Bloom-filter bit positions (after Christen, Schnell, Vatsalan and
Ranbaduge 2017; Christen, Ranbaduge, Vatsalan and Schnell 2018).

Every record that contains a q-gram has all of that q-gram's bit positions set, so the positions of
a frequent q-gram are a frequent, strongly co-occurring set of bits. The attacker (no secret):

1. mines bit groups: greedily, the pair of unassigned positions with the largest covariance across
   the encodings seeds a group, which grows by the position most covariant with the group until the
   covariance falls below half the seed's (at most ``max_bits`` positions);
2. gives each group its support (records with at least ``present`` of its bits set) and aligns the
   groups one to one with the q-grams of the spec's bigram fields (tokens of fields sharing a key
   count as one) by support against the q-grams' frequency in the attacker's reference population,
   refined so that the groups' co-occurrences agree with the q-grams';
3. self-trains: decodes every record's names under the current alignment (the reference value whose
   mapped q-grams agree best with the groups present and absent, plus a small frequency prior),
   then re-aligns each group with the q-gram whose presence in the decoded names agrees best with
   the group's (Jaccard, one to one), until the alignment stops changing (``max_rounds``);
4. guesses each attribute as the decoded value when at least ``min_cover`` of its mapped q-grams
   are present in the record (and two or more are mapped); otherwise no guess.

Salting (the same q-gram sets different bits in each birth cohort), record-level filters (many
fields share the bits) and XOR folding (set bits can cancel) are what this attack meets.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

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
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The ``limit`` most frequent bigram tokens ``(key label, bigram)`` of the spec's fields in the
    reference, and which reference record holds which (0/1 float32 matrix, records × tokens)."""
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
    return vocab, present


def align_groups(
    support: np.ndarray, co_groups: np.ndarray, freq: np.ndarray, co_tokens: np.ndarray, rounds: int = 6,
    jitter: np.ndarray | None = None,
) -> np.ndarray:
    """Token index per group: a one-to-one assignment by support rank, refined by making the
    groups' co-occurrences agree with the tokens' (``rounds`` Hungarian re-assignments);
    ``jitter`` (groups × tokens) is added to the support cost, for random restarts."""
    eps = 0.005
    base = np.abs(np.log(support + eps)[:, None] - np.log(freq + eps)[None, :])
    if jitter is not None:
        base = base + jitter
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


def _presence(bits: np.ndarray, groups: list[np.ndarray], present: float) -> np.ndarray:
    """Records × groups: 1 where at least ``present`` of the group's bits are set."""
    return np.stack([bits[:, g].mean(axis=1) >= present for g in groups], axis=1).astype(np.float32)


def _candidates(
    reference: pd.DataFrame, spec: EncodingSpec, vocab: list[tuple[str, str]], max_candidates: int
) -> dict[str, tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per bigram field of the spec with a reference column: (key label, candidate values, their
    token matrix over ``vocab``, log frequency), most frequent values first."""
    index = {t: k for k, t in enumerate(vocab)}
    out = {}
    for field in spec.fields:
        column = _reference_column(reference, field.name)
        if field.tokenizer != "bigram" or column is None:
            continue
        values = pd.Series(normalize_values(reference[column])).dropna().value_counts().iloc[:max_candidates]
        cand = np.zeros((len(values), len(vocab)), dtype=np.float32)
        for c, v in enumerate(values.index):
            for t in tokens(str(v), "bigram"):
                k = index.get((field.key_label, t))
                if k is not None:
                    cand[c, k] = 1.0
        out[field.name] = (field.key_label, values.index.to_numpy(dtype=object), cand,
                           np.log(values.to_numpy(dtype=float)))
    return out


def _decode(have: np.ndarray, token: np.ndarray, labels: np.ndarray, label: str, cand: np.ndarray,
            log_freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best candidate per record under the current group → token map (tokens of ``label`` that
    agree, present or absent, plus a small frequency prior), and the share of the candidate's
    mapped tokens present."""
    pred = np.zeros((len(have), cand.shape[1]), dtype=np.float32)
    for g, t in enumerate(token.tolist()):
        if t >= 0:
            pred[:, t] = np.maximum(pred[:, t], have[:, g])
    mapped = np.zeros(cand.shape[1], dtype=bool)
    mapped[token[token >= 0]] = True
    mapped &= labels == label
    pm, cm = pred[:, mapped], cand[:, mapped]
    agree = pm @ cm.T + (1.0 - pm) @ (1.0 - cm).T
    best = np.argmax(agree + 0.05 * log_freq[None, :], axis=1)
    size = cm.sum(axis=1)
    cover = (pm * cm[best]).sum(axis=1) / np.maximum(size[best], 1.0)
    cover[size[best] < 2] = 0.0
    return best, cover


def _self_train(
    have: np.ndarray, token: np.ndarray, labels: np.ndarray,
    cands: dict[str, tuple[str, np.ndarray, np.ndarray, np.ndarray]], max_rounds: int,
) -> tuple[float, np.ndarray, int]:
    """Decode names, re-align groups with the q-grams of the decoded names (Jaccard, one to one),
    until stable; returns the final mean Jaccard of the alignment (the attacker's own measure of
    fit, no truth involved), the alignment and the rounds used."""
    fit, rounds = -np.inf, 0
    while rounds < max_rounds:
        rounds += 1
        decoded = np.zeros((len(have), len(labels)), dtype=np.float32)
        for label, _, cand, log_freq in cands.values():
            best, _ = _decode(have, token, labels, label, cand, log_freq)
            decoded = np.maximum(decoded, cand[best])
        both = have.T @ decoded
        union = have.sum(axis=0)[:, None] + decoded.sum(axis=0)[None, :] - both
        jaccard = both / np.maximum(union, 1.0)
        r, c = linear_sum_assignment(-jaccard)
        new = np.full(have.shape[1], -1, dtype=np.int64)
        new[r] = c
        fit = float(jaccard[r, c].mean()) if len(r) else -np.inf
        if np.array_equal(new, token):
            break
        token = new
    return fit, token, rounds


def pattern_attack(
    clks: np.ndarray,
    spec: EncodingSpec,
    reference: pd.DataFrame,
    *,
    max_groups: int = 150,
    present: float = 0.8,
    min_cover: float = 0.8,
    max_rounds: int = 15,
    restarts: int = 1,
    rng: np.random.Generator | int | None = 0,
    max_candidates: int = 1500,
) -> AttackResult:
    """Guess first surnames and given names from the encodings' bit patterns alone.

    ``clks``: the encodings (n, bytes); ``spec``: the public spec (which fields are bigram-encoded
    and which share a key); ``reference``: the attacker's plaintext population (columns
    ``first_surname``, ``second_surname``, ``given_name``), for q-gram and name frequencies.
    ``restarts``: starting alignments (the first by support alone, the others with random jitter
    from ``rng``); the one whose self-training ends with the best fit (mean Jaccard of groups and
    decoded q-grams, which needs no truth) is kept.
    """
    n = len(clks)
    guesses = pd.DataFrame({a: [None] * n for a in ("first_surname", "given_name", "birth_year")}, dtype=object)
    bits = bit_matrix(clks)
    groups = mine_bit_groups(bits, max_groups)
    vocab, ref_present = _reference_tokens(reference, spec, 2 * max_groups)
    if not groups or not vocab:
        return AttackResult("patterns", guesses, {"groups": len(groups)})
    have = _presence(bits, groups, present)
    n_ref = max(len(ref_present), 1)
    cands = _candidates(reference, spec, vocab, max_candidates)
    labels = np.array([label for label, _ in vocab], dtype=object)
    best_fit, token, rounds = -np.inf, np.full(len(groups), -1, dtype=np.int64), 0
    gen = np.random.default_rng(rng)
    for start in range(restarts):  # several starting alignments; keep the best self-consistent one
        jitter = None if start == 0 else gen.normal(0.0, 0.3, size=(len(groups), len(vocab)))
        first = align_groups(have.mean(axis=0), (have.T @ have) / n, ref_present.mean(axis=0),
                             (ref_present.T @ ref_present) / n_ref, jitter=jitter)
        fit, aligned, used = _self_train(have, first, labels, cands, max_rounds)
        if fit > best_fit:
            best_fit, token, rounds = fit, aligned, used
    details: dict[str, object] = {"groups": len(groups), "rounds": rounds, "fit": float(best_fit)}
    for attribute, fields in PATTERN_FIELDS.items():
        name = next((f for f in fields if f in cands), None)
        if name is None:
            continue
        label, values, cand, log_freq = cands[name]
        best, cover = _decode(have, token, labels, label, cand, log_freq)
        ok = cover >= min_cover
        guesses[attribute] = pd.Series(np.where(ok, values[best], None), dtype=object)
        details[attribute] = {"guessed": int(ok.sum())}
    return AttackResult("patterns", guesses, details)
