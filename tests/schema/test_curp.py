"""CURP format, check digit and derivation (RENAPO, Instructivo Normativo para la Asignación de la
CURP); validity as python-stdnum decides it."""

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.mx import curp as stdnum_curp

from cifranegra.schema import (
    curp_birth_date,
    curp_check_digit,
    curp_is_valid,
    curp_prefix,
    curp_prefixes,
    curp_sex,
    curp_state,
    normalize_curp,
)
from cifranegra.schema.curp import curps_valid

# Known-valid CURPs: the instructivo's worked example (Gloria Hernández García, born 27 April 1956
# in Veracruz) and python-stdnum's documented example.
KNOWN_VALID = ["HEGG560427MVZRRL04", "BOXW310820HNERXN09"]
D = dt.date


@pytest.mark.parametrize("curp", KNOWN_VALID)
def test_known_valid(curp):
    assert curp_is_valid(curp)
    assert curp_check_digit(curp[:17]) == curp[17]
    assert curps_valid(pd.Series([curp])).tolist() == [True]


def test_invalid_curps():
    assert not curp_is_valid("HEGG560427MVZRRL05")  # check digit
    assert not curp_is_valid("HEGG561327MVZRRL04")  # month 13
    assert not curp_is_valid("HEGG560427MZZRRL04")  # state ZZ
    assert not curp_is_valid("HEGG560427")
    assert not curp_is_valid(None)


def test_normalize_curp():
    assert normalize_curp(" hegg-560427-mvzrrl04 ") == "HEGG560427MVZRRL04"
    assert normalize_curp("HEGG 5604 27MVZRRL04") == "HEGG560427MVZRRL04"
    assert normalize_curp("HEGG560427MVZRRL0") is None
    assert normalize_curp("1234") is None
    assert normalize_curp(None) is None


def test_decoding():
    assert curp_birth_date("HEGG560427MVZRRL04") == D(1956, 4, 27)
    assert curp_birth_date("AEGA100303MMCRNLA5") == D(2010, 3, 3)  # letter: born 2000 or later
    assert curp_sex("HEGG560427MVZRRL04") == "female"
    assert curp_sex("BOXW310820HNERXN09") == "male"
    assert curp_state("HEGG560427MVZRRL04") == "30"
    assert curp_state("BOXW310820HNERXN09") is None  # NE: born abroad


def test_instructivo_example():
    assert curp_prefix("Gloria", "Hernández", "García", D(1956, 4, 27), "female", "30") == (
        "HEGG560427MVZRRL"
    )


@pytest.mark.parametrize(
    ("given_names", "first", "second", "expected_letters"),
    [
        # particles are skipped in compound surnames
        ("Juan", "de la Cruz", "Pérez", "CUPJ" + "RRN"),
        ("Ana", "del Río", "Mc Donald", "RIDA" + "XNN"),
        # MARÍA / JOSÉ (and MA., J.) followed by another name: the second name is used
        ("María Luisa", "Pérez", "López", "PELL" + "RPS"),
        ("Ma. Guadalupe", "Ruiz", "Soto", "RUSG" + "ZTD"),
        ("José Luis", "Gómez", "Ruiz", "GORL" + "MZS"),
        ("J. Jesús", "Ortiz", "Vega", "OIVJ" + "RGS"),
        ("María del Carmen", "Solís", "Ramos", "SORC" + "LMR"),
        ("José", "Lara", "Díaz", "LADJ" + "RZS"),  # a single JOSÉ is used
        # Ñ becomes X, in first letters and inner consonants
        ("Ñeri", "Núñez", "Muñoz", "NUMX" + "XXR"),
        # no second surname: X and X
        ("Pedro", "Sánchez", None, "SAXP" + "NXD"),
        # no inner vowel / consonant: X
        ("Ana", "Ng", "Oaxaca", "NXOA" + "GXN"),
        # inconvenient word (Anexo 2): second letter becomes X
        ("Alberto", "Castro", "Casas", "CXCA" + "SSL"),
        ("Otilia", "Pérez", "Donato", "PEDO".replace("E", "X") + "RNT"),
    ],
)
def test_derivation_rules(given_names, first, second, expected_letters):
    p = curp_prefix(given_names, first, second, D(1990, 1, 2), "male", "09")
    assert p[:4] + p[13:16] == expected_letters
    assert p[4:13] == "900102HDF"


def test_sex_and_state_letters():
    assert curp_prefix("Ana", "Paz", "Ruiz", D(2001, 12, 31), "female", None)[10:13] == "MNE"
    assert curp_prefix("Ana", "Paz", "Ruiz", D(2001, 12, 31), "male", "07")[10:13] == "HCS"
    with pytest.raises(ValueError):
        curp_prefix("Ana", "Paz", "Ruiz", D(2001, 12, 31), "other", "07")
    with pytest.raises(ValueError):
        curp_prefix("Ana", "Paz", "Ruiz", D(2001, 12, 31), "female", "99")


def test_vectorised_prefixes_agree_with_scalar():
    rows = [
        ("Gloria", "Hernández", "García", D(1956, 4, 27), "female", "30"),
        ("Alberto", "Castro", "Casas", D(1990, 1, 1), "male", "09"),
        ("María Guadalupe", "de la Cruz", None, D(2001, 12, 1), "female", None),
    ]
    cols = list(zip(*rows, strict=True))
    vec = curp_prefixes(*(pd.Series(list(c), dtype=object) for c in cols))
    assert vec.tolist() == [curp_prefix(*r) for r in rows]
    missing = curp_prefixes(
        *(pd.Series([v], dtype=object) for v in ("A", "B", "C", None, "male", "09"))
    )
    assert missing.tolist() == [None]


curp_like = st.from_regex(
    r"[A-Z]{4}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[HM](DF|VZ|NE|ZZ)[A-Z]{3}[0-9A]",
    fullmatch=True,
)


@settings(max_examples=60, deadline=None)
@given(curp_like)
def test_vectorised_validity_matches_stdnum(first17):
    curp = first17 + curp_check_digit(first17)
    expected = bool(stdnum_curp.is_valid(curp))
    assert curp_is_valid(curp) == expected
    assert curps_valid(pd.Series([curp, curp[:17] + str((int(curp[17]) + 1) % 10)])).tolist() == [
        expected,
        False,
    ]


@given(st.text(max_size=25))
def test_normalize_curp_idempotent(s):
    once = normalize_curp(s)
    assert normalize_curp(once) == once
