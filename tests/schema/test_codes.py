"""Code lists: states (INEGI), sex, nationality, forms of exploitation (art. 10), ages."""

import pytest

from cifranegra.schema import (
    EXPLOITATION_CODES,
    ctdc_age_band,
    exploitation_crosswalk,
    normalize_nationality,
    normalize_state,
    parse_exploitation,
    parse_sex,
    parse_yes_no,
    state_from_curp_code,
    states,
)


def test_32_states_every_spelling():
    sts = states()
    assert len(sts) == 32
    assert [s.code for s in sts] == [f"{i:02d}" for i in range(1, 33)]
    for s in sts:
        for spelling in (
            s.name,
            s.short_name,
            s.abbreviation,
            s.iso_3166_2,
            s.curp_code,
            s.code,
            int(s.code),
            s.name.upper(),
            s.short_name.lower(),
        ):
            assert normalize_state(spelling) == s.code, spelling
        assert state_from_curp_code(s.curp_code) == s.code


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("CDMX", "09"),
        ("D.F.", "09"),
        ("Distrito Federal", "09"),
        ("Edo. de México", "15"),
        ("Estado de Mexico", "15"),
        ("EDOMEX", "15"),
        ("Michoacán", "16"),
        ("Veracruz", "30"),
        ("Coahuila", "05"),
        ("Nuevo Leon", "19"),
        ("Q. Roo", "23"),
        ("SLP", "24"),
        ("9", "09"),
        (9.0, "09"),
        ("MX-CMX", "09"),
    ],
)
def test_state_aliases(value, code):
    assert normalize_state(value) == code


@pytest.mark.parametrize("value", [None, "", "Narnia", "33", "NE", 0, 3.5, float("nan")])
def test_not_states(value):
    assert normalize_state(value) is None


def test_sex_conventions():
    assert parse_sex("H") == "male" and parse_sex("M") == "female"
    assert parse_sex("M", "en") == "male" and parse_sex("F", "en") == "female"
    assert parse_sex("F") == "female"  # unambiguous in either convention
    assert parse_sex("Mujer") == "female" and parse_sex("hombre") == "male"
    assert parse_sex("Femenino") == "female" and parse_sex("MASCULINO") == "male"
    assert parse_sex(1) == "male" and parse_sex(2.0) == "female"  # INEGI codes
    for unknown in (None, "", "No especificado", "X", float("nan")):
        assert parse_sex(unknown) == "unknown"
    assert parse_sex("Z") is None


def test_nationality():
    assert normalize_nationality("Mexicana") == "MEX"
    assert normalize_nationality("mx") == "MEX"
    assert normalize_nationality("Hondureña") == "HND"
    assert normalize_nationality("guatemalteco") == "GTM"
    assert normalize_nationality("Estados Unidos") == "USA"
    assert normalize_nationality("FRA") == "FRA"  # any alpha-3 code
    assert normalize_nationality("Narnia") is None
    assert normalize_nationality(None) is None


def test_yes_no():
    assert parse_yes_no("Sí") is True and parse_yes_no("no") is False
    assert parse_yes_no(1) is True and parse_yes_no(0.0) is False
    assert parse_yes_no("") is None and parse_yes_no("quizá") is None


def test_crosswalk_has_the_11_fractions_other_and_unknown():
    forms = exploitation_crosswalk()
    assert [f.code for f in forms] == list(EXPLOITATION_CODES)
    assert [f.fraction for f in forms[:11]] == [
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
        "IX",
        "X",
        "XI",
    ]
    by = {f.code: f for f in forms}
    assert by["sexual_exploitation"].htcds.startswith("SexualExploitation")
    assert by["forced_marriage"].htcds == "ForcedMarriage"
    assert by["organ_trafficking"].ctdc == "isOtherExploit"
    assert by["forced_labour"].unodc == "Forced labour"


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("Explotación sexual", "sexual_exploitation"),
        ("III", "sexual_exploitation"),
        ("Fr. IV", "labour_exploitation"),
        ("fracción V", "forced_labour"),
        ("Explotación sexual; trabajos forzados", "sexual_exploitation|forced_labour"),
        ("III, IV", "sexual_exploitation|labour_exploitation"),
        ("mendicidad forzosa y matrimonio forzoso", "forced_begging|forced_marriage"),
        ("Tráfico de órganos, tejidos y células de seres humanos vivos", "organ_trafficking"),
        ("Forced labour | Sexual exploitation", "sexual_exploitation|forced_labour"),
        ("SexualExploitation", "sexual_exploitation"),
        ("sexual_exploitation|forced_labour", "sexual_exploitation|forced_labour"),
        ("No especificado", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        ("unknown", "unknown"),
        ("Otra", "other"),
    ],
)
def test_parse_exploitation(value, codes):
    assert parse_exploitation(value) == (codes, ())


def test_parse_exploitation_reports_unknown_parts():
    codes, bad = parse_exploitation("III; brujería")
    assert codes == "sexual_exploitation" and bad == ("brujería",)
    assert parse_exploitation("brujería") == (None, ("brujería",))


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0--8"),
        (8, "0--8"),
        (9, "9--17"),
        (17, "9--17"),
        (18, "18--20"),
        (29, "27--29"),
        (47, "39--47"),
        (48, "48+"),
        (99, "48+"),
        (None, None),
        (-1, None),
    ],
)
def test_ctdc_bands(age, band):
    assert ctdc_age_band(age) == band
