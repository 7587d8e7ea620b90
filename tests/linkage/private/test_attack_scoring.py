"""The threat model's scorer: re-identification measured above the baseline of guessing from
frequencies alone (docs/private-linkage.md, "Threat model")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError
from cifranegra.linkage.private.attacks import AttackResult, baseline_guesses, score_attack, wilson_interval

REFERENCE = pd.DataFrame({
    "first_surname": ["HERNANDEZ"] * 5 + ["GARCIA"] * 3 + ["LOPEZ"] * 2,
    "given_name": ["MARIA"] * 4 + ["JOSE"] * 5 + ["JUAN"],
    "birth_year": [1990] * 3 + [2005] * 7,
    "sex": ["female"] * 4 + ["male"] * 6,
    "age_group": ["18+"] * 3 + ["0-17"] * 7,
    "year": [2021] * 10,
})


def test_baseline_guesses_the_mode_within_the_clear_strata() -> None:
    target = pd.DataFrame({"sex": ["female", "male", "unknown"], "age_group": ["18+", "0-17", "18+"],
                           "year": [2021, 2021, 2021]})
    base = baseline_guesses(REFERENCE, target)
    assert base["first_surname"].tolist() == ["HERNANDEZ"] * 3  # unconditional
    assert base["given_name"].tolist() == ["MARIA", "JOSE", "JOSE"]  # by sex; unseen sex: overall mode
    assert base["birth_year"].tolist() == ["1990", "2005", "1990"]  # by registration year and age group


def test_score_fills_abstentions_with_the_baseline_and_subtracts_it() -> None:
    truth = pd.DataFrame({"first_surname": ["HERNANDEZ", "GARCIA", "LOPEZ", "LOPEZ"],
                          "given_name": [None, "JOSE", "JUAN", "JOSE"], "birth_year": [1990, 1990, 1991, 1990]})
    base = pd.DataFrame({"first_surname": ["HERNANDEZ"] * 4, "given_name": ["JOSE"] * 4,
                         "birth_year": ["1990"] * 4})
    guesses = pd.DataFrame({"first_surname": [None, "GARCIA", "LOPEZ", "PEREZ"],
                            "given_name": [None, None, None, None], "birth_year": [None, None, 1991.0, None]})
    table = score_attack(AttackResult("t", guesses), truth, base).set_index("attribute")
    s = table.loc["first_surname"]
    assert (s["n"], s["guessed"], s["correct"]) == (4, 3, 3)  # the abstention got HERNANDEZ, right
    assert s["rate"] == 0.75 and s["baseline_rate"] == 0.25 and s["above"] == 0.5
    g = table.loc["given_name"]
    assert g["n"] == 3 and g["above"] == 0.0  # a missing truth is left out; no own guess: baseline
    y = table.loc["birth_year"]
    assert y["correct"] == 4 and y["above"] == 0.25  # 1991.0 compares equal to 1991


def test_score_refuses_guesses_of_another_length() -> None:
    truth = pd.DataFrame({"first_surname": ["A", "B"]})
    with pytest.raises(InputError, match="one row per encoded record"):
        score_attack(pd.DataFrame({"first_surname": ["A"]}), truth, truth)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_contains_the_rate(successes: int, n: int) -> None:
    successes = min(successes, n)
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def test_score_interval_brackets_the_rate_above_baseline() -> None:
    rng = np.random.default_rng(0)
    truth = pd.DataFrame({"first_surname": rng.choice(["A", "B", "C"], 400)})
    base = pd.DataFrame({"first_surname": ["A"] * 400})
    row = score_attack(pd.DataFrame({"first_surname": truth["first_surname"]}), truth, base).iloc[0]
    assert row["rate"] == 1.0 and row["above_low"] < row["above"] <= row["above_high"]


def test_attacks_public_surface_is_pinned() -> None:
    import cifranegra.linkage.private.attacks as attacks

    assert sorted(attacks.__all__) == [
        "ATTRIBUTES", "AttackResult", "BASELINE_BY", "baseline_guesses", "frequency_attack", "graph_attack",
        "node_features", "pattern_attack", "score_attack", "wilson_interval",
    ]
    assert all(hasattr(attacks, name) for name in attacks.__all__)
