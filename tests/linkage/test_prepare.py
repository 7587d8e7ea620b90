"""Comparison columns derived from Mexican records."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cifranegra.errors import ValidationError
from cifranegra.linkage import check_records, prepare_records
from cifranegra.linkage.prepare import spanish_phonetic


def _records(**cols):
    n = len(next(iter(cols.values())))
    base = {"source": ["A"] * n, "record_id": [str(i) for i in range(n)]}
    base.update(cols)
    return pd.DataFrame(base)


def test_nicknames_and_particles_are_canonical():
    p = prepare_records(_records(given_names=["Lupita", "Ma. de Jesús", "J. Refugio", None]))
    assert p["given"].tolist()[:3] == ["GUADALUPE", "MARIA JESUS", "JOSE REFUGIO"]
    assert p["given_key"].tolist()[1:3] == ["JESUS", "REFUGIO"]
    assert p["given"].iloc[3] is None


def test_surname_set_ignores_order_and_lone_second_surname_moves_first():
    p = prepare_records(_records(first_surname=["García", "López", None], second_surname=["López", "García", "Pérez"]))
    assert p["surname_set"].iloc[0] == p["surname_set"].iloc[1] == "GARCIA LOPEZ"
    assert p["surname1"].iloc[2] == "PEREZ" and p["surname2"].iloc[2] is None
    assert p["surnames_full"].iloc[2] is None


def test_birth_date_swap_and_year_fallback():
    p = prepare_records(
        _records(
            birth_date=[date(1990, 3, 7), date(1990, 7, 7), None],
            birth_year=pd.array([None, None, 1985], dtype="Int64"),
        )
    )
    assert p["birth_date"].tolist() == ["1990-03-07", "1990-07-07", None]
    assert p["birth_date_swapped"].tolist() == ["1990-07-03", None, None]
    assert p["birth_year"].tolist() == [1990, 1990, 1985]


def test_curp_prefix_and_unknown_sex_is_null():
    p = prepare_records(_records(curp=["HEGM900307MDFRRR09", None], sex=["female", "unknown"]))
    assert p["curp10"].iloc[0] == "HEGM900307"
    assert p["sex"].tolist() == ["female", None]


def test_every_problem_is_reported_at_once():
    df = pd.DataFrame({"source": ["A", "A", "B"], "record_id": ["1", "1", "2"], "given_names": ["ANA", "ANA", None]})
    problems = check_records(df)
    codes = sorted(p.code for p in problems)
    assert codes == ["duplicate_id", "no_identifiers"]
    with pytest.raises(ValidationError) as exc:
        prepare_records(df)
    assert "B" in str(exc.value) and "repeat" in str(exc.value)


def test_missing_source_column():
    with pytest.raises(ValidationError, match="source"):
        prepare_records(pd.DataFrame({"record_id": ["1"]}))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Vázquez", "BASQUEZ"),  # B/V, S/Z, accents
        ("Hernández", "Ernandes"),  # silent H, final Z/S
        ("Yesenia", "Llesenia"),  # LL/Y
        ("Ximena", "Jimena"),  # X/J
        ("Gerardo", "Jerardo"),  # G/J before E, I
        ("Quiñones", "Kiñonez"),  # QU/K, Ñ written N
        ("Muñoz", "MUNOZ"),
        ("Cecilia", "Sesilia"),  # seseo
        ("Mayra", "Maira"),  # Y as a vowel
        ("Anna", "Ana"),  # doubled letters
        ("Rafael", "Raphael"),  # PH/F
        ("de la Cruz", "Cruz"),  # particles dropped
    ],
)
def test_phonetic_key_joins_spellings_that_sound_alike(a, b):
    assert spanish_phonetic(a) == spanish_phonetic(b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [("Adrián", "Adriana"), ("Chávez", "Cávez"), ("Miguel", "Mijel"), ("Guerra", "Juerra"), ("Carlos", "Sarlos")],
)
def test_phonetic_key_keeps_different_sounds_apart(a, b):
    assert spanish_phonetic(a) != spanish_phonetic(b)


def test_phonetic_key_edge_cases():
    assert spanish_phonetic(None) is None
    assert spanish_phonetic("") is None
    assert spanish_phonetic("  ") is None
    assert spanish_phonetic("Ñ") == "N"
    assert spanish_phonetic("María de los Ángeles") == "MARIA ANJELES"
    assert spanish_phonetic("Guillermo") == "GIYERMO"  # the U of GUI is silent, G stays hard
    assert spanish_phonetic("H") is None  # a lone silent letter leaves no sound
    assert spanish_phonetic("Chávez Hernández") == "CABES ERNANDES"  # word by word


def test_phonetic_columns_and_initials():
    p = prepare_records(
        _records(
            given_names=["Ma. Guadalupe", "Lupita", None, "Iván"],
            first_surname=["Vázquez", "Basquez", "López", None],
            second_surname=["de la Cruz", None, "Pérez", "Ñuñez"],
        )
    )
    assert p["given_sound"].tolist() == ["GUADALUPE", "GUADALUPE", None, "IBAN"]
    assert p["surname1_sound"].tolist() == ["BASKES", "BASKES", "LOPES", "NUNES"]  # lone second moves first
    assert p["surname2_sound"].tolist() == ["KRUS", None, "PERES", None]
    assert p["surname_sound_set"].tolist() == ["BASKES KRUS", "BASKES", "LOPES PERES", "NUNES"]
    assert p["initials"].tolist() == ["GB", "GB", None, "IN"]


def test_birth_year_range_from_age_at_registration():
    p = prepare_records(
        _records(
            birth_date=[date(1990, 3, 7), None, None, None, None],
            birth_year=pd.array([None, 1985, None, None, None], dtype="Int64"),
            age=pd.array([33, 40, 16, None, 300], dtype="Int64"),
            registration_date=[date(2023, 5, 1), date(2023, 5, 1), date(2023, 2, 1), date(2023, 2, 1), None],
        )
    )
    # a known year is its own range; an age allows two years; no age or no date: unknown
    assert p["birth_year_lo"].tolist()[:3] == [1990, 1985, 2006]
    assert p["birth_year_hi"].tolist()[:3] == [1990, 1985, 2007]
    assert p["birth_year_lo"].isna().tolist()[3:] == [True, True]
    assert p["birth_year"].tolist()[2] is pd.NA  # the comparison column stays exact


def test_birth_year_range_without_age_columns():
    p = prepare_records(_records(birth_year=pd.array([1990, None], dtype="Int64")))
    assert p["birth_year_lo"].tolist() == [1990, pd.NA]
    assert p["birth_year_hi"].tolist() == [1990, pd.NA]
