"""Validation rules and normalization of records in canonical columns: every problem at once, no
row dropped or silently changed."""

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cifranegra.schema import RECORD_COLUMNS, check_records, normalize_records, split_full_name
from cifranegra.schema.fields import IDENTIFYING_FIELDS, mask_value


def _raw(**cols):
    n = max(len(v) for v in cols.values())
    base = {
        "record_id": [str(i) for i in range(1, n + 1)],
        "registration_date": ["01/06/2023"] * n,
        "given_names": ["Ana"] * n,
        "first_surname": ["Paz"] * n,
    }
    base.update(cols)
    return pd.DataFrame(base, dtype=object)


def codes(problems):
    return [(p.row, p.code, p.severity) for p in problems]


def test_clean_record_normalized():
    raw = _raw(
        given_names=["María Guadalupe"],
        first_surname=["Hernández"],
        second_surname=["García"],
        birth_date=["27/04/1956"],
        sex=["M"],
        curp=["hegg560427mvzrrl04"],
        state=["Veracruz"],
        nationality=["mexicana"],
        exploitation=["Explotación sexual"],
        registration_date=["27/04/2023"],
    )
    raw["given_names"] = ["Gloria"]
    out, problems = check_records(raw, source="fge", file="f.csv", sex_convention="es")
    assert problems == []
    r = out.iloc[0]
    assert list(out.columns) == list(RECORD_COLUMNS)
    assert (r.source, r.given_names, r.first_surname, r.second_surname) == (
        "fge",
        "GLORIA",
        "HERNANDEZ",
        "GARCIA",
    )
    assert r.birth_date == pd.Timestamp("1956-04-27") and r.age == 67 and r.birth_year == 1956
    assert (r.sex, r.curp, r.curp_valid, r.state, r.nationality) == (
        "female",
        "HEGG560427MVZRRL04",
        True,
        "30",
        "MEX",
    )
    assert (r.exploitation, r.age_group, r.ctdc_age_band) == ("sexual_exploitation", "18+", "48+")
    assert (r.source_file, r.source_row) == ("f.csv", 1)


def test_every_problem_found_with_row_column_and_masked_value():
    raw = _raw(
        record_id=["1", "1", None, "4"],
        registration_date=["01/06/2023", "31/02/2023", "01/06/2099", ""],
        birth_date=["xx", "01/01/2000", "01/01/2000", "01/01/2000"],
        age=["abc", "150", "23", "10"],
        sex=["Z", "H", "M", ""],
        curp=["HEGG56", "HEGG560427MVZRRL05", None, None],
        state=["Narnia", "CDMX", "99", "9"],
        exploitation=["brujería", "III", "", None],
        nationality=["zz", "MEX", None, None],
        indigenous=["quizá", "sí", "no", None],
    )
    out, problems = check_records(
        raw, source="x", file="f.csv", headers={"curp": "CURP", "given_names": "Nombre"}
    )
    found = set(codes(problems))
    expected = {
        (2, "duplicate_record_id", "error"),
        (3, "missing_record_id", "error"),
        (2, "invalid_date", "error"),
        (3, "date_in_future", "error"),
        (4, "missing_registration_date", "warning"),
        (1, "invalid_date", "error"),
        (1, "invalid_age", "error"),
        (2, "invalid_age", "error"),
        (1, "invalid_sex", "error"),
        (1, "invalid_curp_format", "warning"),
        (2, "invalid_curp", "warning"),
        (1, "invalid_state", "error"),
        (3, "invalid_state", "error"),
        (1, "invalid_exploitation", "error"),
        (1, "invalid_nationality", "warning"),
        (1, "invalid_yes_no", "warning"),
    }
    assert expected <= found, expected - found
    assert len(out) == 4  # no row dropped
    curp_problem = next(p for p in problems if p.code == "invalid_curp_format")
    assert curp_problem.column == "CURP" and "HE***" in curp_problem.message
    assert "HEGG56" not in curp_problem.message
    assert all(p.file == "f.csv" for p in problems)
    # unreadable values are nulls, not guesses
    assert pd.isna(out.loc[0, "state"]) and out.loc[0, "sex"] == "unknown"
    assert pd.isna(out.loc[0, "birth_date"]) and pd.isna(out.loc[1, "registration_date"])


def test_identifiers_never_appear_in_messages():
    raw = _raw(
        record_id=["SECRETO1", "SECRETO1"],
        given_names=["123", "Ana"],
        birth_date=["99/99/1999", None],
    )
    _, problems = check_records(raw, source="x")
    text = " ".join(p.message for p in problems)
    assert "SECRETO1" not in text and "99/99/1999" not in text
    assert "SE***" in text


def test_curp_checked_against_the_person():
    raw = _raw(
        given_names=["Gloria", "Gloria", "Gloria"],
        first_surname=["Hernández", "López", "Hernández"],
        second_surname=["García"] * 3,
        birth_date=["27/04/1956", "27/04/1956", "28/04/1956"],
        sex=["M", "M", "H"],
        curp=["HEGG560427MVZRRL04"] * 3,
    )
    _, problems = check_records(raw, source="x")
    assert set(codes(problems)) == {
        (2, "curp_name_mismatch", "warning"),
        (3, "curp_birth_date_mismatch", "warning"),
        (3, "curp_sex_mismatch", "warning"),
    }


def test_sex_convention_detected():
    es, _ = check_records(_raw(sex=["H", "M"]), source="x")
    en, _ = check_records(_raw(sex=["F", "M"]), source="x")
    assert es["sex"].tolist() == ["male", "female"]
    assert en["sex"].tolist() == ["female", "male"]
    _, problems = check_records(_raw(sex=["M", "M"]), source="x")
    assert [p.code for p in problems] == ["ambiguous_sex_code"]
    forced, _ = check_records(_raw(sex=["M"]), source="x", sex_convention="en")
    assert forced["sex"].tolist() == ["male"]


def test_full_name_is_split():
    assert split_full_name("María de la Luz Pérez de la Cruz") == (
        "MARIA DE LA LUZ",
        "PEREZ",
        "DE LA CRUZ",
    )
    assert split_full_name("Juan Pérez") == ("JUAN", "PEREZ", None)
    assert split_full_name("Juan") == ("JUAN", None, None)
    assert split_full_name(None) == (None, None, None)
    assert split_full_name("Pérez de la Cruz, María de la Luz") == (
        "MARIA DE LA LUZ", "PEREZ", "DE LA CRUZ")
    assert split_full_name("PEREZ, JUAN") == ("JUAN", "PEREZ", None)
    raw = pd.DataFrame({"record_id": ["1"], "full_name": ["José Luis Núñez López"]})
    out, _ = check_records(raw, source="x")
    assert out.loc[0, ["given_names", "first_surname", "second_surname"]].tolist() == [
        "JOSE LUIS",
        "NUÑEZ",
        "LOPEZ",
    ]


def test_age_from_birth_date_and_groups():
    raw = _raw(
        birth_date=["02/06/2006", "01/06/2005", None, "01/01/2000"], age=[None, None, None, "30"]
    )
    out, problems = check_records(raw, source="x")
    assert out["age"].tolist()[:2] == [16, 18]
    assert out["age"].iloc[3] == 30  # kept as recorded, with a warning
    assert out["age_group"].tolist() == ["0-17", "18+", "unknown", "18+"]
    assert [(p.row, p.code) for p in problems] == [(4, "age_mismatch")]


def test_missing_columns_and_source():
    out, problems = check_records(pd.DataFrame({"given_names": ["Ana"]}))
    assert {p.code for p in problems} >= {"missing_source", "no_record_id", "no_registration_date"}
    assert out.loc[0, "record_id"] == "1"


def test_normalize_records_is_idempotent():
    raw = _raw(
        given_names=["Lupita", "José"],
        first_surname=["de la Cruz", "Núñez"],
        birth_date=["1-2-05", None],
        sex=["M", "H"],
        state=["CDMX", "Edo. Méx"],
        exploitation=["III; IV", ""],
        municipality=["15", "Ecatepec"],
    )
    once = normalize_records(raw, source="x", file="f")
    twice = normalize_records(once, source="x", file="f")
    pd.testing.assert_frame_equal(once, twice)
    assert once["municipality"].tolist() == ["09015", "ECATEPEC"]
    assert once["given_names_canonical"].tolist() == ["GUADALUPE", "JOSE"]


def test_identifying_fields_marked():
    assert {
        "given_names",
        "first_surname",
        "second_surname",
        "birth_date",
        "curp",
        "record_id",
    } <= IDENTIFYING_FIELDS
    assert "state" not in IDENTIFYING_FIELDS
    assert mask_value("MARIA") == "MA***"
    assert mask_value("Narnia", identifying=False) == "'Narnia'"


cell = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["01/02/1990", "H", "M", "CDMX", "III", "HEGG560427MVZRRL04", "25", "Núñez"]),
)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                c: cell
                for c in (
                    "record_id",
                    "registration_date",
                    "given_names",
                    "first_surname",
                    "second_surname",
                    "birth_date",
                    "age",
                    "sex",
                    "curp",
                    "state",
                    "exploitation",
                )
            }
        ),
        min_size=1,
        max_size=6,
    )
)
def test_no_row_lost_and_idempotent(rows):
    raw = pd.DataFrame(rows, dtype=object)
    out, problems = check_records(raw, source="x")
    assert len(out) == len(raw)
    assert out["source_row"].tolist() == list(range(1, len(raw) + 1))
    assert all(1 <= p.row <= len(raw) for p in problems if p.row is not None)
    again = normalize_records(out, source="x")
    pd.testing.assert_frame_equal(out, again)


def test_schema_fields_name_real_htcds_fields():
    from cifranegra.schema.fields import FIELDS, htcds_fields

    known = htcds_fields()
    assert "prs_Birthdate" in known
    for f in FIELDS:
        assert f.htcds == "" or f.htcds in known, f


def test_unrecognised_values_kept_as_unknown_with_one_warning_per_column():
    """on_unrecognised="unknown": the record is kept, the field read as unknown, and one warning
    per column gives the count and the first rows (none quotes a value)."""
    raw = _raw(
        sex=["Zorbalinda", "H", "Q", "M", "X1", "X2", "X3"],
        state=["Narnia", "CDMX", "Narnia", None, None, None, None],
        exploitation=["Baile folclórico", "III; Baile folclórico", "III", None, None, None, None],
        nationality=["Marciana", "MEX", None, None, None, None, None],
        indigenous=["quizá", "sí", None, None, None, None, None],
    )
    strict, problems = check_records(raw, source="x")
    assert {c for _, c, s in codes(problems) if s == "error"} == {
        "invalid_sex", "invalid_state", "invalid_exploitation"}
    out, problems = check_records(raw, source="x", on_unrecognised="unknown")
    assert not [p for p in problems if p.severity == "error"]
    assert len(out) == len(raw)  # every record kept
    assert out["sex"].tolist() == ["unknown", "male", "unknown", "female"] + ["unknown"] * 3
    assert out["state"].isna().tolist() == [True, False, True, True, True, True, True]
    # a cell that also names a recognised form keeps it
    assert out["exploitation"].tolist()[:3] == ["unknown", "sexual_exploitation", "sexual_exploitation"]
    assert pd.isna(out.loc[0, "nationality"]) and pd.isna(out.loc[0, "indigenous"])
    summary = {p.column: p for p in problems if p.code == "unrecognised_as_unknown"}
    assert sorted(summary) == ["exploitation", "indigenous", "nationality", "sex", "state"]
    assert all(p.row is None and p.severity == "warning" for p in summary.values())
    assert summary["sex"].message.startswith("5 row(s) have a sex that is not recognised (row(s) 1, 3, 5, 6, 7)")
    assert summary["state"].message.startswith("2 row(s) have a state that is not recognised (row(s) 1, 3)")
    assert "a cell that also names recognised forms keeps those" in summary["exploitation"].message
    assert not {"invalid_sex", "invalid_state", "invalid_nationality", "invalid_yes_no"} & {
        p.code for p in problems}
    text = " ".join(p.message for p in problems)
    assert "Zorbalinda" not in text and "Narnia" not in text and "Marciana" not in text
    # the rest of the record is the same either way
    same = [c for c in RECORD_COLUMNS if c not in ("sex", "state", "exploitation")]
    pd.testing.assert_frame_equal(out[same], strict[same])


def test_more_than_five_rows_listed_with_an_ellipsis_and_bad_option_refused():
    import pytest

    from cifranegra.errors import InputError

    _, problems = check_records(_raw(sex=["Q"] * 7), source="x", on_unrecognised="unknown")
    (p,) = [p for p in problems if p.code == "unrecognised_as_unknown"]
    assert "7 row(s)" in p.message and "(row(s) 1, 2, 3, 4, 5, ...)" in p.message
    with pytest.raises(InputError, match="'error' or 'unknown'"):
        check_records(_raw(sex=["Q"]), source="x", on_unrecognised="skip")


def test_unrecognised_values_are_masked_known_codes_quoted():
    raw = _raw(sex=["CDMX", "Zorbalinda"], state=["H", "27/04/1956"], age=["150", "1956"])
    _, problems = check_records(raw, source="x")
    messages = {(p.row, p.code): p.message for p in problems}
    assert "sex 'CDMX' is not recognised" in messages[(1, "invalid_sex")]  # a code: the columns moved
    assert "sex Zo*** is not recognised" in messages[(2, "invalid_sex")]
    assert "state 27*** is not" in messages[(2, "invalid_state")]
    assert "age '150'" in messages[(1, "invalid_age")] and "age 19***" in messages[(2, "invalid_age")]



def test_state_and_country_names_are_masked_in_messages_as_they_may_be_names():
    """docs/hardening.md, 'The masking rule': a message quotes a code that cannot be a name; full state
    and country names are also surnames and given names (Hidalgo, Guerrero, Israel), so one that slid
    into the sex column was quoted with its row (found by the identifier audit). Stratum labels, which
    are categories, still show them."""
    from cifranegra.schema.records import stratum_labels

    raw = _raw(sex=["Hidalgo", "Guerrero", "Israel", "Jal."], state=["Q. Roo", "Morelos", "Sonora", "CDMX"])
    _, problems = check_records(raw, source="x")
    text = " ".join(p.message for p in problems)
    for name in ("Hidalgo", "Guerrero", "Israel"):
        assert name not in text
    assert "sex Hi***" in text and "sex Is***" in text
    assert "sex 'Jal.' is not recognised" in text  # an abbreviation is a code, not a name
    assert stratum_labels(["state"], [("Guerrero",)])[("Guerrero",)] == {"state": "Guerrero"}


def test_stratum_labels_show_categories_and_mask_identifier_columns() -> None:
    from cifranegra.schema.records import stratum_labels, stratum_text

    # categories shown as written (codes, years, age groups, the user's own words)
    keys = [("F", 2021, "18+", "caucasian"), ("M", 2022, "0-17", "other"), ("F", 2021.0, "60+", None)]
    labels = stratum_labels(["sex", "year", "age", "eth"], keys)
    assert labels[keys[0]] == {"sex": "F", "year": "2021", "age": "18+", "eth": "caucasian"}
    assert labels[keys[2]]["year"] == "2021" and labels[keys[2]]["eth"] == "(unknown)"
    # a column holding a CURP, a date or a long number is masked whole, its strata kept apart
    for bad in (["GOMA850312MDFRRN04", "Zorbalinda"], ["1985-03-12", "Zorbalinda"], ["5512345678", "Zorbalinda"]):
        lab = stratum_labels(["g"], [(b,) for b in bad])
        shown = [lab[(b,)]["g"] for b in bad]
        assert all("***" in v for v in shown) and not any(b in v for b in bad for v in shown)
    # more distinct values than strata ever have: an identifier, masked, each stratum apart
    names = [(f"Nombre{i:02d}x",) for i in range(41)]
    lab = stratum_labels(["g"], names)
    assert len({v["g"] for v in lab.values()}) == 41 and all("***" in v["g"] for v in lab.values())
    assert stratum_text(["g"], ("GOMA850312MDFRRN04",)) == "g=GO***"
