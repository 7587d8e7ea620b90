"""How good a linkage is, against a known truth: pairwise precision, recall and F1, and the recall
of the blocking rules (the share of true pairs that are ever compared).

Pairwise measures count record pairs placed in the same person (Christen 2012, *Data Matching*,
ch. 7): precision = true links / predicted links, recall = true links / true pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cifranegra.errors import InputError
from cifranegra.linkage.prepare import prepare_records
from cifranegra.linkage.settings import DEFAULT_BLOCKING


@dataclass(frozen=True)
class PairScores:
    """Pairwise linkage quality."""

    true_pairs: int
    predicted_pairs: int
    true_positives: int
    precision: float
    recall: float
    f1: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _pairs_from_clusters(keys: np.ndarray, cluster: np.ndarray) -> set[tuple[int, int]]:
    order = np.argsort(cluster, kind="stable")
    c = cluster[order]
    k = keys[order]
    out: set[tuple[int, int]] = set()
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)]
    for s, e in zip(starts, ends, strict=True):
        if e - s < 2:
            continue
        members = sorted(int(x) for x in k[s:e])
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                out.add((members[i], members[j]))
    return out


def pair_scores(predicted: pd.DataFrame, truth: pd.DataFrame, *, entity: str = "entity_id") -> PairScores:
    """Pairwise precision, recall and F1 of a predicted entities table against a true one.

    Both tables need ``source``, ``record_id`` and ``entity``; records are matched on
    (source, record_id); records missing from either table are ignored.
    """
    for name, table in (("predicted", predicted), ("truth", truth)):
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"{name} must be an entities table (a DataFrame), not {type(table).__name__}")
        missing = [c for c in ("source", "record_id", entity) if c not in table.columns]
        if missing:
            raise InputError(f"{name} has no column(s) {', '.join(missing)} (entity= names the person column)")
        if table[entity].isna().any():  # missing ids all factorized to one cluster: a giant false entity
            raise InputError(f"{name} has records without {entity}; give every record its entity")
        if table.duplicated(["source", "record_id"]).any():
            raise InputError(f"{name} lists a (source, record_id) twice; each record once")
    key_p = predicted["source"].astype(str) + "\x1f" + predicted["record_id"].astype(str)
    key_t = truth["source"].astype(str) + "\x1f" + truth["record_id"].astype(str)
    common = pd.Index(key_p).intersection(pd.Index(key_t))
    codes = pd.Index(common)
    p = pd.Series(predicted[entity].to_numpy(), index=key_p).loc[common]
    t = pd.Series(truth[entity].to_numpy(), index=key_t).loc[common]
    ids = np.arange(len(codes))
    pp = _pairs_from_clusters(ids, pd.factorize(p.to_numpy())[0])
    tp_ = _pairs_from_clusters(ids, pd.factorize(t.to_numpy())[0])
    tp = len(pp & tp_)
    precision = tp / len(pp) if pp else 1.0
    recall = tp / len(tp_) if tp_ else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return PairScores(len(tp_), len(pp), tp, precision, recall, f1)


def _equal(prepared: pd.DataFrame, ca: str, cb: str, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    a = prepared[ca].astype("object").to_numpy()[li]
    b = prepared[cb].astype("object").to_numpy()[ri]
    ok = pd.notna(a) & pd.notna(b)
    eq = np.zeros(len(li), dtype=bool)
    eq[ok] = a[ok] == b[ok]
    return eq


def blocking_recall(
    records: pd.DataFrame,
    truth: Sequence[object] | pd.Series,
    rules: Iterable[Sequence[str]] = DEFAULT_BLOCKING,
) -> dict[str, float]:
    """Share of true record pairs that at least one blocking rule compares, overall and per rule.

    ``truth`` gives each record's true person id (aligned with ``records``). A rule compares a pair
    when every one of its prepared columns is non-null and equal on both records.
    """
    prepared = prepare_records(records)
    person = np.asarray(truth)
    if person.ndim != 1 or len(person) != len(records):  # a short truth gave recall 1.0; a long one IndexError
        raise InputError(f"truth must give one person id per record ({len(records)}), not {person.shape}")
    rules = [tuple(r) for r in rules]
    pairs_l: list[int] = []
    pairs_r: list[int] = []
    order = np.argsort(person, kind="stable")
    ps = person[order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    ends = np.r_[starts[1:], len(ps)]
    for s, e in zip(starts, ends, strict=True):
        m = order[s:e]
        for i in range(len(m)):
            for j in range(i + 1, len(m)):
                pairs_l.append(int(m[i]))
                pairs_r.append(int(m[j]))
    n_pairs = len(pairs_l)
    result: dict[str, float] = {"true_pairs": float(n_pairs)}
    if n_pairs == 0:
        result["recall"] = 1.0
        return result
    li = np.array(pairs_l)
    ri = np.array(pairs_r)
    any_rule = np.zeros(n_pairs, dtype=bool)
    for rule in rules:
        hit = np.ones(n_pairs, dtype=bool)
        flipped = np.ones(n_pairs, dtype=bool)  # "a~b" holds either way round
        for part in rule:
            ca, _, cb = part.partition("~")
            cb = cb or ca
            hit &= _equal(prepared, ca, cb, li, ri)
            flipped &= _equal(prepared, cb, ca, li, ri)
        if any("~" in part for part in rule):
            hit |= flipped
        any_rule |= hit
        result["+".join(rule)] = float(hit.mean())
    result["recall"] = float(any_rule.mean())
    return result
