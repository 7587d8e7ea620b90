"""A frequency attack on encodings, for the security tests (and bench/bench_private_linkage.py).

The attacker holds the encoded file and knows the Mexican name frequencies (the SEP 2012 tables in
``data/``), but not the secret. Kuzu et al. (2011) showed that Bloom-filter encodings can be broken by
aligning the frequencies of encodings with the frequencies of names; for record-level filters the
analogue is to group near-identical encodings (Dice ≥ t: same person or same identifying values) and
assign the most frequent name to the largest group, the second to the second, and so on. We give
the attacker every threshold t in ``LEVELS`` and report the best re-identification rate; a record is
re-identified when the guessed given name and first surname are both right (``full``), and we also
report the rate of right first surnames alone (``surname``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from private_synth import name_tables
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cifranegra.linkage.private import all_pairs_above

LEVELS = (0.99, 0.95, 0.9, 0.85, 0.8, 0.75)


def attacker_surname_ranking() -> list[str]:
    """First surnames, most frequent first."""
    _, surnames = name_tables()
    return surnames.sort_values("count_first", ascending=False, kind="stable")["surname"].astype(str).tolist()


def attacker_name_ranking(n: int) -> tuple[list[str], list[str]]:
    """The attacker's ``n`` most likely (given name, first surname) pairs, by product of marginals."""
    given, surnames = name_tables()
    g = given.groupby("name")["count"].sum().sort_values(ascending=False).head(300)
    s = surnames.set_index("surname")["count_first"].sort_values(ascending=False).head(400)
    pg = (g / g.sum()).to_numpy()
    ps = (s / s.sum()).to_numpy()
    joint = np.outer(pg, ps).ravel()
    top = np.argsort(-joint, kind="stable")[:n]
    return [str(g.index[t // len(s)]) for t in top], [str(s.index[t % len(s)]) for t in top]


def frequency_attack(clks: np.ndarray, given: pd.Series, surname: pd.Series) -> dict[str, float]:
    """The attacker's best re-identification rates over ``LEVELS`` (see the module docstring)."""
    words = np.ascontiguousarray(clks).view(np.uint64)
    n = len(words)
    guess_given, guess_surname = attacker_name_ranking(n)
    surname_ranking = np.array(attacker_surname_ranking(), dtype=object)
    truth_g = given.fillna("").to_numpy(dtype=object)
    truth_s = surname.fillna("").to_numpy(dtype=object)
    best = {"full": 0.0, "surname": 0.0}
    for level in LEVELS:
        i, j, _ = all_pairs_above(words, words, level, same=True)
        graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        sizes = np.bincount(labels)
        rank_of_cluster = np.empty(len(sizes), dtype=np.int64)
        rank_of_cluster[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
        rank = rank_of_cluster[labels]
        gg = np.array(guess_given, dtype=object)[np.minimum(rank, len(guess_given) - 1)]
        gs = np.array(guess_surname, dtype=object)[np.minimum(rank, len(guess_surname) - 1)]
        only_s = surname_ranking[np.minimum(rank, len(surname_ranking) - 1)]
        best["full"] = max(best["full"], float(np.mean((gg == truth_g) & (gs == truth_s))))
        best["surname"] = max(best["surname"], float(np.mean(only_s == truth_s)))
    return best
