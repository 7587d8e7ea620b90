"""Data that used to break the linkage engine (issue 12, item 5): tiny lists, no candidate pairs,
nothing for EM to estimate, every record in one block, names without dates. Each ends in a correct
result with a warning that says how it was made, or in a clear error."""

from __future__ import annotations

import warnings
from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linkage_synth import fast_settings, simulate_lists, true_entities

from cifranegra.errors import InputError, ValidationError
from cifranegra.linkage import LinkageSettings, LinkageWarning, link_records, pair_scores


def _link(records: pd.DataFrame, link_settings: LinkageSettings | None = None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = link_records(records, link_settings or fast_settings())
    notes = [str(w.message) for w in caught if issubclass(w.category, LinkageWarning)]
    assert notes == result.diagnostics["warnings"]
    return result, notes


def _person(source: str, rid: str, given: str, s1: str, s2: str | None, born: date | None, curp: str | None = None):
    return {"source": source, "record_id": rid, "given_names": given, "first_surname": s1, "second_surname": s2,
            "birth_date": born, "curp": curp}


def test_two_lists_of_three_and_four_records_link_with_a_warning():
    """Splink's EM training raised EMTrainingException here (no pair in a training block)."""
    records, _ = simulate_lists(n_persons=40, capture=(0.5, 0.5), seed=3)
    a = records[records["source"] == "L1"].head(3)
    b = records[records["source"] == "L2"].head(4)
    assert (len(a), len(b)) == (3, 4)
    tiny = pd.concat([a, b, a.head(1).assign(source="L2", record_id="copy")], ignore_index=True)
    result, notes = _link(tiny.drop(columns=["person_id"]))
    assert len(result.entities) == len(tiny)
    assert any("only 8 records" in n for n in notes)
    ent = result.entities.set_index(["source", "record_id"])["entity_id"]
    first = a.iloc[0]
    assert ent[(first["source"], first["record_id"])] == ent[("L2", "copy")]  # an identical record is linked


def test_two_identical_records_are_one_person():
    rec = _person("A", "1", "Cecilia", "González", "Cruz", date(1977, 4, 17), "GOCC770417MDFRRN09")
    result, notes = _link(pd.DataFrame([rec, {**rec, "source": "B"}]))
    assert result.entities["entity_id"].nunique() == 1
    assert result.entities["match_probability"].tolist() == [1.0, 1.0]
    assert any("fixed values were used" in n for n in notes)  # the prior could not be estimated


def test_no_candidate_pairs_gives_every_record_its_own_person():
    rows = [
        _person("A", "1", "Ana", "López", "Ruiz", date(1990, 1, 1)),
        _person("A", "2", "Luis", "Díaz", "Soto", date(1980, 2, 2)),
        _person("B", "1", "Pedro", "Mora", "Vega", date(1970, 3, 3)),
        _person("B", "2", "Zoe", "Ibarra", "Lara", date(1960, 4, 4)),
    ]
    result, notes = _link(pd.DataFrame(rows))
    assert result.entities["entity_id"].tolist() == [0, 1, 2, 3]
    assert any("no two records were linked" in n for n in notes)
    assert any("fixed m probabilities" in n and "EM session 1 skipped" in n for n in notes)


def test_curp_only_lists_link_on_fixed_m_probabilities():
    """EM blocked on the only comparison has nothing to estimate (Splink built invalid SQL)."""
    records, _ = simulate_lists(n_persons=60, capture=(0.6, 0.6), seed=3)
    with_curp = records.dropna(subset=["curp"])
    result, notes = _link(with_curp[["source", "record_id", "curp"]])
    assert any("nothing left to estimate" in n and "curp" in n for n in notes)
    scores = pair_scores(result.entities, true_entities(with_curp))
    assert scores.precision >= 0.95 and scores.recall >= 0.6


def test_lists_with_names_but_no_birth_data_link():
    """Without a deterministic rule the prior stayed at 1 in 10,000 and nobody was ever linked."""
    records, _ = simulate_lists(n_persons=150, capture=(0.5, 0.5), seed=7)
    names = records[["source", "record_id", "given_names", "first_surname", "second_surname"]]
    result, _ = _link(names)
    scores = pair_scores(result.entities, true_entities(records))
    assert scores.recall >= 0.6 and scores.precision >= 0.9


def test_a_shared_placeholder_in_one_block_links_correctly():
    """Every record in one birth-date block (an unknown date written as 1900-01-01)."""
    records, _ = simulate_lists(n_persons=60, capture=(0.5, 0.5), seed=2)
    records = records.assign(birth_date=date(1900, 1, 1), birth_year=1900)
    result, _ = _link(records.drop(columns=["person_id"]))
    scores = pair_scores(result.entities, true_entities(records))
    assert scores.precision >= 0.9 and scores.recall >= 0.8


def test_too_many_pairs_in_one_block_are_refused_before_any_engine_work():
    records, _ = simulate_lists(n_persons=150, capture=(0.5, 0.5), seed=2)
    placeholder = records.assign(birth_date=date(1900, 1, 1), birth_year=1900, state="09")
    steps: list[str] = []
    small_limit = LinkageSettings(max_pairs_u=1e4, max_blocked_pairs=5_000)
    with pytest.raises(InputError) as info:
        link_records(placeholder.drop(columns=["person_id"]), small_limit, progress=steps.append)
    message = str(info.value)
    assert "max_blocked_pairs" in message and "['birth_date', 'state']" in message
    assert "1900" not in message  # the rule is named, never the shared value
    assert steps == ["preparing records"]


def test_a_list_without_any_identifier_is_a_clear_error():
    records, _ = simulate_lists(n_persons=40, capture=(0.5, 0.5), seed=3)
    blank = records.drop(columns=["person_id"]).copy()
    for col in ("given_names", "first_surname", "second_surname", "curp", "birth_date", "birth_year"):
        blank.loc[blank["source"] == "L2", col] = None
    with pytest.raises(ValidationError, match="no record of list 'L2' has a name, CURP, birth date"):
        link_records(blank, fast_settings())


def test_a_repeated_frame_index_is_not_a_repeated_record_id():
    """pd.concat without ignore_index repeats index labels; record ids were then reported as
    repeating within a list."""
    rows = [_person("A", "1", "Ana", "López", "Ruiz", date(1990, 1, 1)),
            _person("B", "2", "Ana", "López", "Ruiz", date(1990, 1, 1))]
    frame = pd.concat([pd.DataFrame([r]) for r in rows])  # index 0, 0
    result, _ = _link(frame)
    assert result.entities["entity_id"].nunique() == 1


_POOL = [
    _person("", "", "Cecilia", "González", "Cruz", date(1977, 4, 17), "GOCC770417MDFRRN09"),
    _person("", "", "María Guadalupe", "Hernández", "López", date(1990, 12, 1), "HELG901201MJCRPD01"),
    _person("", "", "José", "Martínez", None, date(2005, 6, 30), None),
    _person("", "", "Lupita", "Hernandez", "Lopez", None, None),
    _person("", "", "Yesenia", "Vázquez", "Ortiz", date(1995, 10, 20), None),
]
_FIELDS = ("given_names", "first_surname", "second_surname", "birth_date", "curp")


@st.composite
def _tiny_lists(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for k in range(draw(st.integers(2, 3))):
        for i in range(draw(st.integers(0, 4))):
            rec = dict(draw(st.sampled_from(_POOL)), source=f"L{k}", record_id=str(i))
            for f in draw(st.sets(st.sampled_from(_FIELDS), max_size=3)):
                rec[f] = None
            rows.append(rec)
    return pd.DataFrame(rows, columns=["source", "record_id", *_FIELDS])


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tiny_lists())
def test_tiny_lists_never_break_the_engine(frame):
    """Any handful of records: a result with every record, or a clear InputError; nothing else.
    (About a second per example, so in the slow suite; the cases above are the fast regressions.)"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LinkageWarning)
            result = link_records(frame, fast_settings())
    except InputError:
        return
    assert len(result.entities) == len(frame)
