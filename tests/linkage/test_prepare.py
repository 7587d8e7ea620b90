"""Comparison columns derived from Mexican records."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from cifranegra.errors import ValidationError
from cifranegra.linkage import check_records, prepare_records


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
    p = prepare_records(_records(birth_date=[date(1990, 3, 7), date(1990, 7, 7), None],
                                 birth_year=pd.array([None, None, 1985], dtype="Int64")))
    assert p["birth_date"].tolist() == ["1990-03-07", "1990-07-07", None]
    assert p["birth_date_swapped"].tolist() == ["1990-07-03", None, None]
    assert p["birth_year"].tolist() == [1990, 1990, 1985]


def test_curp_prefix_and_unknown_sex_is_null():
    p = prepare_records(_records(curp=["HEGM900307MDFRRR09", None], sex=["female", "unknown"]))
    assert p["curp10"].iloc[0] == "HEGM900307"
    assert p["sex"].tolist() == ["female", None]


def test_every_problem_is_reported_at_once():
    df = pd.DataFrame({"source": ["A", "A", "B"], "record_id": ["1", "1", "2"],
                       "given_names": ["ANA", "ANA", None]})
    problems = check_records(df)
    codes = sorted(p.code for p in problems)
    assert codes == ["duplicate_id", "no_identifiers"]
    with pytest.raises(ValidationError) as exc:
        prepare_records(df)
    assert "B" in str(exc.value) and "repeat" in str(exc.value)


def test_missing_source_column():
    with pytest.raises(ValidationError, match="source"):
        prepare_records(pd.DataFrame({"record_id": ["1"]}))
