"""Splink through our training and scoring path on FEBRL4 (Christen 2008): F1 ≥ 0.999."""

from __future__ import annotations

from febrl_data import load_febrl4

from cifranegra.linkage import LinkageSettings
from cifranegra.linkage.febrl import febrl_scores, link_febrl4


def test_febrl4_f1():
    a, b = load_febrl4()
    assert len(a) == len(b) == 5000
    pairs = link_febrl4(a, b, LinkageSettings(threshold=0.5, max_pairs_u=1e5, seed=1))
    scores = febrl_scores(pairs, threshold=0.5)
    assert scores["precision"] >= 0.999
    assert scores["recall"] >= 0.999
    assert scores["f1"] >= 0.999
