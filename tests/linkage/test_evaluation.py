"""Pairwise precision/recall/F1 and blocking recall."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from cifranegra.linkage import pair_scores


def _ent(ids):
    return pd.DataFrame({"source": ["A"] * len(ids), "record_id": [str(i) for i in range(len(ids))],
                         "entity_id": ids})


def test_known_scores():
    truth = _ent([0, 0, 0, 1, 1])  # 3 + 1 = 4 true pairs
    pred = _ent([0, 0, 1, 1, 1])   # 1 + 3 = 4 predicted, 2 correct (0-1, 3-4)
    s = pair_scores(pred, truth)
    assert (s.true_pairs, s.predicted_pairs, s.true_positives) == (4, 4, 2)
    assert s.precision == s.recall == s.f1 == 0.5


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_perfect_linkage_scores_one(ids):
    s = pair_scores(_ent(ids), _ent(ids))
    assert s.precision == s.recall == s.f1 == 1.0


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_relabelling_entities_changes_nothing(ids):
    relabelled = [i * 7 + 100 for i in ids]
    assert pair_scores(_ent(relabelled), _ent(ids)).f1 == 1.0
