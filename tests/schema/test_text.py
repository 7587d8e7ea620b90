"""Name normalization: case and accent folding with Ñ kept, particles, comparison keys."""

from hypothesis import given
from hypothesis import strategies as st

from cifranegra.schema import PARTICLES, fold_text, name_key, normalize_name


def test_normalize_name_folds_case_and_accents_keeps_enye():
    assert normalize_name("  María  José ") == "MARIA JOSE"
    assert normalize_name("Núñez") == "NUÑEZ"
    assert normalize_name("muñoz") == "MUÑOZ"
    assert normalize_name("Güemes") == "GUEMES"
    assert normalize_name("de la Cruz") == "DE LA CRUZ"


def test_normalize_name_punctuation_digits_and_blanks():
    assert normalize_name("Ma. Guadalupe") == "MA GUADALUPE"
    assert normalize_name("López-Portillo") == "LOPEZ PORTILLO"
    assert normalize_name("O'Higgins") == "O HIGGINS"
    assert normalize_name("123") is None
    assert normalize_name("   ") is None
    assert normalize_name(None) is None
    assert normalize_name(float("nan")) is None  # type: ignore[arg-type]


def test_normalize_name_repairs_utf8_read_as_cp1252():
    assert normalize_name("MUÃ‘OZ") == "MUÑOZ"
    assert normalize_name("JosÃ©") == "JOSE"


def test_decomposed_enye_is_kept():
    assert normalize_name("NU\u0303N\u0303EZ".replace("NU\u0303", "NU")) == "NUÑEZ"


def test_name_key_drops_particles():
    assert name_key("De la Cruz") == "CRUZ"
    assert name_key("del Ángel") == "ANGEL"
    assert name_key("Mc Gregor") == "GREGOR"
    assert name_key("van der Berg") == "BERG"
    assert name_key("María de los Ángeles") == "MARIA ANGELES"
    assert name_key("Y") == "Y"  # only particles: kept
    assert name_key(None) is None
    assert name_key("Núñez") != name_key("Nunez")  # Ñ distinct


def test_particle_list_has_renapo_particles():
    for p in ("DE", "DEL", "LA", "LOS", "LAS", "Y", "MC", "MAC", "VAN", "VON", "DA", "DI"):
        assert p in PARTICLES


names = st.text(alphabet=st.sampled_from(list("abcñÑáéíóúüÁÉ .-'ABCdeXYZ0")), max_size=30)


@given(names)
def test_normalize_name_is_idempotent(s):
    once = normalize_name(s)
    assert normalize_name(once) == once


@given(names)
def test_name_key_is_idempotent_and_particle_free(s):
    key = name_key(s)
    assert name_key(key) == key
    if key is not None and any(w not in PARTICLES for w in key.split()):
        assert not any(w in PARTICLES for w in key.split())


@given(st.text(max_size=20))
def test_normalize_name_output_alphabet(s):
    out = normalize_name(s)
    if out is not None:
        assert set(out) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZÑ ")
        assert out == out.strip() and "  " not in out


def test_fold_text_keeps_other_characters():
    assert fold_text("Ñandú 12") == "ÑANDU 12"


def test_swapped_or_missing_second_surname():
    from cifranegra.schema import surname_pair_key, surnames_compatible

    assert surname_pair_key("Hernández", "García") == surname_pair_key("García", "Hernández")
    assert surname_pair_key("de la Cruz", None) == "CRUZ"
    assert surname_pair_key(None, None) is None
    assert surnames_compatible("Hernández", "García", "HERNANDEZ", "GARCIA")
    assert surnames_compatible("Hernández", "García", "García", "Hernández")  # swapped
    assert surnames_compatible("Hernández", "García", "Hernández", None)  # second missing
    assert surnames_compatible("Hernández", None, "García", "Hernández")
    assert not surnames_compatible("Hernández", "García", "López", None)
    assert not surnames_compatible("Hernández", "García", "Hernández", "López")
    assert surnames_compatible(None, None, "López", "Paz")
