"""Hierarchical models: notation, enumeration, and the extended-MLE checks.

Enumeration counts are those of Rcapture's closedpMS.t and MultipleSystemsEstimation's catalogue (the
`settings` column of reference_estimates.csv: 8 models for 3 lists, 113 for 4, 6,893 for 5 lists up to
order 4, 32,768 for 6 lists up to order 2). Statuses on SparseMSE_Artificial_3 are those of Chan,
Silverman & Vincent (2021), Table 2.
"""

from __future__ import annotations

import pytest

from cifranegra.errors import InputError
from cifranegra.estimation import HierarchicalModel, enumerate_models
from cifranegra.estimation.fitting import fit_model_set, prepare, status_of
from cifranegra.estimation.models import ModelSpace
from refdata import table


def test_notation_round_trip() -> None:
    lists = ("A", "B", "C", "D")
    m = HierarchicalModel.parse("[123,14,34]", lists)
    assert m.notation() == "[123,14,34]"
    assert HierarchicalModel.parse("[34,123,14]", lists) == m
    assert HierarchicalModel.parse("[A:B:C,A:D,C:D]", lists) == m
    assert HierarchicalModel.parse("[12,13,4]", lists).notation() == "[12,13,4]"
    assert HierarchicalModel.independence(4).notation() == "[1,2,3,4]"
    assert HierarchicalModel.saturated_minus_top(3).notation() == "[12,13,23]"


def test_ten_or_more_lists_use_dots() -> None:
    lists = tuple(f"L{i}" for i in range(12))
    m = HierarchicalModel.parse("[1.10,3]", lists)
    assert m.notation().startswith("[1.10,")
    with pytest.raises(InputError, match=r"out of range .* write a term as"):
        HierarchicalModel.parse("[110,3]", lists)


@pytest.mark.parametrize("bad", ["12,13", "[15]", "[11]", "[1x]", "[,]"])
def test_bad_model_strings_are_clear_errors(bad: str) -> None:
    with pytest.raises(InputError):
        HierarchicalModel.parse(bad, ("A", "B", "C"))


@pytest.mark.parametrize(("k", "order", "count"), [(3, 2, 8), (4, 3, 113), (5, 4, 6893), (6, 2, 32768)])
def test_enumeration_counts(k: int, order: int, count: int) -> None:
    assert len(ModelSpace.all_hierarchical(k, order)) == count
    if count < 10000:
        assert len(enumerate_models(k, order)) == count


def test_model_space_rows_are_hierarchical() -> None:
    space = ModelSpace.all_hierarchical(4, 3)
    for i in range(len(space)):
        m = space.model(i)
        for t in m.terms:
            for j in range(4):
                sub = t & ~(1 << j)
                assert sub == 0 or sub in m.terms


@pytest.mark.parametrize(("model", "status"), [("[12,13,23]", 2), ("[12,3]", 1), ("[13,23]", 0), ("[1,2,3]", 0)])
def test_extended_mle_status_on_artificial_table(model: str, status: int) -> None:
    """Chan, Silverman & Vincent (2021), Table 2: [12,13,23] → 2, [12,3] → 1, [13,23,1,2] → 0."""
    h = table("SparseMSE_Artificial_3")
    m = HierarchicalModel.parse(model, h.lists)
    assert status_of(prepare(m, h.counts), h.counts) == status


def test_vectorized_checks_agree_with_single_checks() -> None:
    for name in ("SparseMSE_Artificial_3", "MultipleSystemsEstimation_Korea", "modslavmse_UKdat_4"):
        h = table(name)
        space = ModelSpace.all_hierarchical(h.n_lists, h.n_lists - 1)
        res = fit_model_set(space, h.counts)
        for i in range(len(space)):
            m = space.model(i)
            assert res.status[i] == status_of(prepare(m, h.counts), h.counts), (name, m.notation())


def test_ukdat5_excludes_as_many_models_as_multiple_systems_estimation() -> None:
    """reference_estimates.csv, MultipleSystemsEstimation bic on SparseMSE_UKdat_5: 6,084 of the
    order-3 models are enumerated (fitted) after the extended-MLE checks."""
    h = table("SparseMSE_UKdat_5")
    res = fit_model_set(ModelSpace.all_hierarchical(5, 3), h.counts)
    assert int((res.status == 0).sum()) == 6084
