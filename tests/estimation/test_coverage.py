"""Sample-coverage estimators (Chao & Tsay 1998) against R CARE1 1.1.0.

Reference values: tests/reference/reference_estimates.csv, rows "R CARE1 1.1.0 (run 2026-11-29)"
(CARE1.print: Nhat-0, Nhat, Nhat-1, rounded as printed).
"""

from __future__ import annotations

import pathlib
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cifranegra.errors import InputError
from cifranegra.estimation.coverage import SampleCoverage, coverage_statistics
from cifranegra.estimation.histories import CaptureHistories

REF = pd.read_csv(pathlib.Path(__file__).parents[1] / "reference" / "reference_estimates.csv")
CARE1 = REF[REF["source"].str.startswith("R CARE1")]
VARIANT = {"Nhat-0": "independence", "Nhat (": "high", "Nhat-1": "low"}


def load(name: str) -> CaptureHistories:
    path = resources.files("cifranegra.datasets") / "data" / name
    with path.open() as fh:
        return CaptureHistories.from_frame(pd.read_csv(fh), source=name)


def _variant(method: str) -> str:
    for key, v in VARIANT.items():
        if f"CARE1 {key}" in method:
            return v
    raise AssertionError(method)


@pytest.mark.parametrize("row", CARE1.to_dict(orient="records"), ids=lambda r: f"{r['file']}:{r['method']}")
def test_agrees_with_care1(row: dict) -> None:
    res = SampleCoverage(variant=_variant(row["method"]), n_boot=0).fit(load(row["file"]))
    assert round(res.estimate) == row["estimate"]


def _care1_k4(z: np.ndarray) -> dict[str, float]:
    """CARE1's 4-list formulas written out (estN.Indep/HSC for length-15 input) on mask-ordered
    counts."""

    def c(*lists: int) -> float:
        return float(z[sum(1 << (i - 1) for i in lists)])

    n = [sum(z[m] for m in range(16) if (m >> j) & 1) for j in range(4)]
    f = [c(j + 1) for j in range(4)]
    chat = 1 - sum(f[j] / n[j] for j in range(4)) / 4
    d = z.sum() - sum(f) / 4
    pairs = [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]
    x = 4 * chat
    for a, b in pairs:
        both = sum(z[m] for m in range(16) if (m >> (a - 1)) & 1 and (m >> (b - 1)) & 1)
        x -= (c(a) + c(b) + 2 * c(a, b)) * both / (n[a - 1] * n[b - 1])
    y = (
        sum(2 * c(*p) for p in pairs)
        + 4 * sum(c(*t) for t in [(1, 2, 3), (1, 2, 4), (1, 3, 4), (2, 3, 4)])
        + 4 * c(1, 2, 3, 4)
    )
    return {"independence": d / chat, "high": y / x}


def test_general_k_matches_care1_four_list_formulas() -> None:
    h = load("Rcapture_HIV.csv")
    expected = _care1_k4(h.counts)
    for variant, value in expected.items():
        assert SampleCoverage(variant=variant, n_boot=0).fit(h).estimate == pytest.approx(value, rel=1e-12)


def test_bootstrap_standard_error_and_interval() -> None:
    h = load("conting_spina.csv")
    a = SampleCoverage(n_boot=300).fit(h, rng=4)
    b = SampleCoverage(n_boot=300).fit(h, rng=4)
    assert a.diagnostics["std_error"] == b.diagnostics["std_error"] > 0
    iv = a.interval()
    assert h.observed < iv.lower < a.estimate < iv.upper
    assert iv.method == "log-transformed"
    assert 0 < a.diagnostics["coverage"] < 1


def test_low_coverage_warns() -> None:
    res = SampleCoverage(n_boot=0).fit(load("SparseMSE_Ned.csv"))
    assert res.diagnostics["coverage"] < 0.55
    assert any("coverage" in w for w in res.warnings)
    stats_ = coverage_statistics(load("SparseMSE_Ned.csv"), res.estimate)
    assert len(stats_["ccv"]) == 15


@settings(max_examples=10, deadline=None)
@given(st.permutations(range(4)))
def test_permutation_invariance(perm: list[int]) -> None:
    h = load("modslavmse_UKdat_4.csv")
    hp = h.select_lists([h.lists[i] for i in perm])
    for v in ("high", "low", "independence"):
        a = SampleCoverage(variant=v, n_boot=0).fit(h).estimate
        assert SampleCoverage(variant=v, n_boot=0).fit(hp).estimate == pytest.approx(a, rel=1e-12)


def test_bad_input() -> None:
    h = load("conting_spina.csv")
    with pytest.raises(InputError, match="chapman"):
        SampleCoverage().fit(h.select_lists(list(h.lists[:2])))
    with pytest.raises(InputError):
        SampleCoverage(variant="medium")
