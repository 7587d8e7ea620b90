"""Nicknames and abbreviations of Mexican given names."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cifranegra.schema import NICKNAMES, canonical_given_name, given_name_variants


@pytest.mark.parametrize(
    ("nick", "canonical"),
    [
        ("Lupita", "GUADALUPE"),
        ("Lupe", "GUADALUPE"),
        ("Pepe", "JOSE"),
        ("Paco", "FRANCISCO"),
        ("Pancho", "FRANCISCO"),
        ("Chuy", "JESUS"),
        ("Chucho", "JESUS"),
        ("Lalo", "EDUARDO"),
        ("Memo", "GUILLERMO"),
        ("Nacho", "IGNACIO"),
        ("Toño", "ANTONIO"),
        ("Tono", "ANTONIO"),
        ("Beto", "ALBERTO"),
        ("Poncho", "ALFONSO"),
        ("Chela", "GRACIELA"),
        ("Paty", "PATRICIA"),
        ("Chayo", "ROSARIO"),
        ("Concha", "CONCEPCION"),
        ("Quique", "ENRIQUE"),
    ],
)
def test_nicknames(nick, canonical):
    assert canonical_given_name(nick) == canonical


def test_abbreviations_and_compounds():
    assert canonical_given_name("Ma. de Jesús") == "MARIA DE JESUS"
    assert canonical_given_name("J. Refugio") == "JOSE REFUGIO"
    assert canonical_given_name("María Guadalupe") == "MARIA GUADALUPE"
    assert canonical_given_name("José Luis") == "JOSE LUIS"
    assert canonical_given_name(None) is None


def test_ambiguous_nickname_variants():
    assert {"ALBERTO", "ROBERTO"} <= given_name_variants("Beto")
    assert given_name_variants("Juan") == frozenset({"JUAN"})
    assert given_name_variants(None) == frozenset()


def test_canonical_forms_are_not_nicknames():
    for names in NICKNAMES.values():
        for name in names:
            assert all(w not in NICKNAMES for w in name.split()), name


@given(st.sampled_from(sorted(NICKNAMES)) | st.text(max_size=15))
def test_canonical_given_name_is_idempotent(s):
    once = canonical_given_name(s)
    assert canonical_given_name(once) == once
