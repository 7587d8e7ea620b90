"""Attacks on private-linkage encodings by someone without the secret (docs/private-linkage.md,
"Threat model"): frequency analysis of the deterministic values stored with the encodings
(:mod:`.frequency`), pattern mining of Bloom-filter bit positions (:mod:`.patterns`) and graph
matching of similarity graphs (:mod:`.graph`). Each returns per-record guesses of the first surname,
given name and year of birth; :func:`score_attack` measures them above the baseline of guessing from
public frequencies alone (:mod:`.baseline`). Used by the security tests and bench/bench_attacks.py.
"""

from cifranegra.linkage.private.attacks.baseline import (
    ATTRIBUTES,
    BASELINE_BY,
    AttackResult,
    baseline_guesses,
    score_attack,
    wilson_interval,
)
from cifranegra.linkage.private.attacks.frequency import frequency_attack
from cifranegra.linkage.private.attacks.graph import graph_attack, node_features
from cifranegra.linkage.private.attacks.patterns import pattern_attack

__all__ = [
    "ATTRIBUTES",
    "BASELINE_BY",
    "AttackResult",
    "baseline_guesses",
    "frequency_attack",
    "graph_attack",
    "node_features",
    "pattern_attack",
    "score_attack",
    "wilson_interval",
]
