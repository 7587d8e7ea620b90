"""Denominators for rates per 100,000 (cifranegra.report.denominators).

Expected values are read by hand from the bundled CONAPO copies (source: CONAPO 2023 edition, "Población a
mitad de año", via shared/data/mexico; see src/cifranegra/report/data/SOURCES.md), with the CSV line named.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError, ValidationError
from cifranegra.report.denominators import (
    DENOMINATOR_EDITION,
    population,
    population_table,
    populations,
    rate_per_100k,
    rates_per_100k,
)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # conapo_population_midyear_state_sex_2015_2030.csv line 550: 2020,00,Nacional,total,128209170
        ((2020,), 128_209_170),
        # same file, line 548: 2020,00,Nacional,men,62764717
        ((2020, None, "male"), 62_764_717),
        # same file, line 559: 2020,20,Oaxaca,total,4204445 (by name, INEGI code, CURP and ISO codes)
        ((2020, "Oaxaca"), 4_204_445),
        ((2020, "20"), 4_204_445),
        ((2020, 20), 4_204_445),
        ((2020, "OC"), 4_204_445),
        ((2020, "MX-OAX"), 4_204_445),
        # conapo_population_midyear_state_sex_age_2015_2030.csv line 1372: 2020,09,...,women,0_17,1049369
        ((2020, "CDMX", "female", "0-17"), 1_049_369),
        ((2020, "Ciudad de México", "mujeres", "0_17"), 1_049_369),
        # same file, line 1441: 2020,20,Oaxaca,total,18_plus,2783993
        ((2020, "Oaxaca", None, "18+"), 2_783_993),
        # same file, line 1264: 2020,00,República Mexicana,men,00_04,5390584 (national five-year group)
        ((2020, "total", "men", "00_04"), 5_390_584),
    ],
)
def test_population_hand_values(args: tuple, expected: int) -> None:
    assert population(*args) == expected


def test_sex_and_age_groups_add_up_to_the_total() -> None:
    for state in (None, "09", "Yucatán"):
        total = population(2023, state)
        assert population(2023, state, "female") + population(2023, state, "male") == total
        assert population(2023, state, None, "0-17") + population(2023, state, None, "18+") == total


def test_table_is_tidy_and_complete() -> None:
    table = population_table()
    assert list(table.columns) == ["year", "state", "sex", "age_group", "population"]
    totals = table[(table.sex == "total") & (table.age_group == "total")]
    # 16 years (2015-2030) x (32 states + the nation)
    assert len(totals) == 16 * 33
    assert set(totals.year) == set(range(2015, 2031))
    assert "CONAPO" in DENOMINATOR_EDITION


@pytest.mark.parametrize(
    ("args", "expected_words"),
    [
        ((2014,), ["2014", "2015–2030"]),
        ((2031, "09"), ["2031", "2015–2030"]),
        ((2020, "Atlantis"), ["32 federal entities", "INEGI code"]),
        ((2020, "09", "unknown"), ["'unknown'", "'female', 'male' or 'total'"]),
        ((2020, "09", None, "00_04"), ["nation only", "'0-17', '18+'"]),
        ((2020, None, None, "65+"), ["'0-17', '18+' or 'total'"]),
    ],
)
def test_missing_denominator_is_a_clear_error(args: tuple, expected_words: list[str]) -> None:
    with pytest.raises(InputError) as info:
        population(*args)
    for word in expected_words:
        assert word in str(info.value)


def test_unrecognised_state_is_not_quoted() -> None:
    # a free-text cell may identify someone: the message names what is accepted, not the value
    with pytest.raises(InputError) as info:
        population(2020, "Juana Pérez López")
    assert "Juana" not in str(info.value)


def test_populations_vectorised_matches_scalar() -> None:
    strata = pd.DataFrame(
        {"year": [2020, 2020, 2021], "state": ["09", None, "Oaxaca"], "sex": ["female", "total", None]},
        index=[10, 11, 12],
    )
    got = populations(strata)
    assert list(got.index) == [10, 11, 12]
    assert list(got) == [population(2020, "09", "female"), population(2020), population(2021, "Oaxaca")]


def test_populations_reports_every_bad_row_at_once() -> None:
    strata = pd.DataFrame({"year": [2020, 1999, 2020], "state": ["09", "09", "nowhere"]})
    with pytest.raises(ValidationError) as info:
        populations(strata, file="strata.csv")
    problems = info.value.problems
    assert [(p.row, p.column) for p in problems] == [(2, "year"), (3, "state")]
    assert "strata.csv, row 2" in str(info.value)


def test_populations_uses_the_reference_year_when_no_column() -> None:
    assert list(populations(pd.DataFrame({"state": ["09"]}), year=2022)) == [population(2022, "09")]
    with pytest.raises(InputError, match="reference year"):
        populations(pd.DataFrame({"state": ["09"]}))


def test_rate_per_100k_hand_computed() -> None:
    # 1,230 (900-2,100) over 128,209,170 -> 0.95937 (0.70198-1.63795) per 100,000
    rate = rate_per_100k(1230, 900, 2100, population(2020))
    assert rate.rate == pytest.approx(0.959370, rel=1e-5)
    assert rate.lower == pytest.approx(0.701978, rel=1e-5)
    assert rate.upper == pytest.approx(1.637948, rel=1e-5)
    assert rate.population == 128_209_170
    assert rate.per == 100_000


def test_rate_with_unbounded_upper_end() -> None:
    assert math.isinf(rate_per_100k(50, 20, math.inf, 1000).upper)


@pytest.mark.parametrize(
    "args",
    [(10, 5, 20, 0), (10, 5, 20, -3), (10, 12, 20, 1000), (10, 5, 8, 1000), (-1, -2, 3, 1000), (math.nan, 1, 2, 10)],
)
def test_rate_bad_input(args: tuple) -> None:
    with pytest.raises(InputError):
        rate_per_100k(*args)


@settings(max_examples=50, deadline=None)
@given(
    est=st.floats(0, 1e6),
    lo_frac=st.floats(0, 1),
    hi_mult=st.floats(1, 10),
    pop=st.integers(1, 200_000_000),
)
def test_rate_keeps_the_interval_order(est: float, lo_frac: float, hi_mult: float, pop: int) -> None:
    rate = rate_per_100k(est, est * lo_frac, est * hi_mult, pop)
    assert rate.lower <= rate.rate <= rate.upper
    assert rate.rate == pytest.approx(est * 100_000 / pop)


def test_rates_frame_leaves_missing_estimates_missing() -> None:
    frame = pd.DataFrame(
        {
            "year": [2020, 2020],
            "state": ["09", "total"],
            "estimate": [100.0, None],
            "lower": [80.0, None],
            "upper": [150.0, None],
        }
    )
    out = rates_per_100k(frame)
    assert out.loc[0, "rate"] == pytest.approx(100 * 100_000 / population(2020, "09"))
    assert out.loc[0, "rate_upper"] == pytest.approx(150 * 100_000 / population(2020, "09"))
    assert pd.isna(out.loc[1, "rate"])
    assert "rate" not in frame.columns  # a copy, the input untouched
