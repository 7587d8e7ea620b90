"""Attack (b), pattern mining of Bloom-filter bit positions, measured above the baseline
(3,000 synthetic persons; see attack_setup.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from attack_setup import scenario

from cifranegra.linkage.private import MEXICO_SPEC, MEXICO_SPEC_UNSALTED, EncodingSpec, FieldSpec
from cifranegra.linkage.private.attacks import baseline_guesses, pattern_attack, score_attack
from cifranegra.linkage.private.attacks.patterns import mine_bit_groups

N = 3000
#: A field-level filter of the first surname alone, unsalted and unfolded (early PPRL practice).
WEAK = EncodingSpec("test-weak", (FieldSpec("first_surname", "bigram", 20),), bits=1024, fold=False)


def _above(spec: EncodingSpec) -> pd.Series:
    sc = scenario(spec, N)
    result = pattern_attack(sc.encoded.clks, spec, sc.reference)
    table = score_attack(result, sc.truth, baseline_guesses(sc.reference, sc.encoded.records))
    return table.set_index("attribute")["above"]


def test_pattern_mining_breaks_a_field_level_unsalted_filter() -> None:
    above = _above(WEAK)
    assert above["first_surname"] >= 0.10, above  # measured +74% (three keys, two seeds: 71-77%)


@pytest.mark.parametrize("spec", [MEXICO_SPEC, MEXICO_SPEC_UNSALTED])
def test_pattern_mining_fails_on_the_record_level_encodings(spec: EncodingSpec) -> None:
    above = _above(spec)  # measured: below the baseline for every attribute (about -2%)
    assert (above <= 0.01).all(), above


def test_mine_bit_groups_finds_planted_co_occurring_bits() -> None:
    rng = np.random.default_rng(3)
    bits = (rng.random((600, 64)) < 0.2).astype(np.float32)
    token = rng.random(600) < 0.3
    bits[np.ix_(token, [5, 17, 40, 41])] = 1.0
    groups = mine_bit_groups(bits, max_groups=1)
    assert sorted(groups[0].tolist()) == [5, 17, 40, 41]
