"""Rcapture's heterogeneity models (M0, Mh and Mth with Chao, Poisson2, Darroch and Gamma3.5).

Reference: Rcapture 1.4.4 ``closedp.t(X, dfreq = TRUE)`` on every public table, values in
tests/reference/rcapture_closedp.csv (see SOURCES.md there); each test id names the table and model.
Abundance and standard error must agree within 0.1% (relative); deviance, df and AIC too. Mt is
``independence`` (classic.Independence). The profile-likelihood machinery is checked against Rcapture
``closedpCI.t`` Mt rows of tests/reference/reference_estimates.csv.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from cifranegra.cli import main
from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import heterogeneity as het
from cifranegra.estimation.classic import Chao, Independence
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult
from refdata import reference_row, table

REL = 1e-3
ROWS = pd.read_csv(Path(__file__).parent.parent / "reference" / "rcapture_closedp.csv")
BOUNDARY_ETA_ROWS = {("SparseMSE_NewOrl", "Mh Chao (LB)"), ("SparseMSE_NewOrl", "Mth Chao (LB)")}
SPEC_OF_LABEL = {cls.rcapture_model(): cls for cls in het.SPECS.values()}


@cache
def fitted(dataset: str, model: str) -> EstimateResult:
    h = table(dataset)
    if model == "Mt":
        return Independence().fit(h)
    return SPEC_OF_LABEL[model]().fit(h)


def _ids() -> list[str]:
    return [f"{r.dataset}-{r.model}" for r in ROWS.itertuples()]


@pytest.mark.parametrize("row", [r for _, r in ROWS.iterrows()], ids=_ids())
def test_abundance_and_stderr_match_rcapture(row: pd.Series) -> None:
    """Row: Rcapture 1.4.4 `closedp.t` (rcapture_closedp.csv), abundance and stderr within 0.1%."""
    r = fitted(row["dataset"], row["model"])
    assert r.estimate == pytest.approx(row["abundance"], rel=REL)
    assert r.std_error == pytest.approx(row["stderr"], rel=REL)
    assert r.to_dict()["std_error"] == r.std_error
    if row["model"] != "Mt":
        assert r.model == row["model"]
        d = r.diagnostics
        # New Orleans has nobody on 4+ lists: Chao's columns for j ≥ 4 sit on the boundary (η → −∞). We
        # drop all of them; R's glm keeps one at a large finite value and counts it: one parameter more,
        # same likelihood (deviance equal), so df one less and AIC 2 more in Rcapture's table.
        extra = 1 if (row["dataset"], row["model"]) in BOUNDARY_ETA_ROWS else 0
        assert d["df"] == row["df"] + extra
        assert d["deviance"] == pytest.approx(row["deviance"], rel=REL, abs=1e-6)
        assert d["aic"] + 2 * extra == pytest.approx(row["AIC"], rel=REL)
        # Rcapture's infoFit 1 on these tables is its large-asymptotic-bias flag: we warn on the same rows
        flagged = any("asymptotic bias" in w for w in r.warnings)
        assert flagged == (row["infoFit"] == 1)


def test_every_model_and_table_is_in_the_reference() -> None:
    assert set(ROWS["model"]) == {*SPEC_OF_LABEL, "Mt"}
    assert len(ROWS) == 12 * 10
    assert set(het.SPECS) == {"m0", "mh-chao", "mh-poisson2", "mh-darroch", "mh-gamma3.5", "mth-chao",
                            "mth-poisson2", "mth-darroch", "mth-gamma3.5"}
    assert {cls.method for cls in het.SPECS.values()} == set(het.SPECS)


def test_mth_chao_is_chao() -> None:
    h = table("SparseMSE_UKdat_5")
    a, b = het.MthChao().fit(h), Chao().fit(h)
    assert (a.method, b.method) == ("mth-chao", "chao")
    da, db = a.to_dict(), b.to_dict()
    da.pop("method"), db.pop("method")
    assert da == db
    assert a.interval().method == "wald"


def test_chao_wald_interval_matches_rcapture() -> None:
    """Row: R Rcapture, `closedp.t Mth Chao (LB)` ±1.96 s.e. on the Kosovo table."""
    ref = reference_row("MultipleSystemsEstimation_Kosovo.csv", "Rcapture", "closedp.t Mth Chao (LB)")
    iv = het.MthChao().fit(table("MultipleSystemsEstimation_Kosovo")).interval()
    assert (iv.lower, iv.upper) == (pytest.approx(ref["lower"], rel=REL), pytest.approx(ref["upper"], rel=REL))


@dataclass(frozen=True)
class _Mt(het.ClosedPopulationModel):
    """Mt on the heterogeneity engine: only to check the engine's profile interval against R."""

    method: ClassVar[str] = "mt-engine"
    time_effects: ClassVar[bool] = True


@pytest.mark.parametrize(
    "file", ["MultipleSystemsEstimation_Korea.csv", "MultipleSystemsEstimation_Kosovo.csv", "SparseMSE_Ned.csv",
             "SparseMSE_NewOrl.csv"]
)
def test_profile_interval_matches_rcapture_closedpci(file: str) -> None:
    """Row: R Rcapture, `closedp.t Mt (independence)` with its 95% multinomial profile interval (closedpCI.t)."""
    ref = reference_row(file, "Rcapture", "closedp.t Mt (independence)")
    r = _Mt().fit(table(file))
    iv = r.interval()
    assert iv.method == "profile"
    assert iv.lower == pytest.approx(ref["lower"], rel=REL)
    assert iv.upper == pytest.approx(ref["upper"], rel=REL)


def test_profile_is_the_default_and_stays_above_the_observed_count() -> None:
    """New Orleans, Mh Gamma3.5: N̂ 5,511 with SE 6,184, so N̂ − 1.96·SE is negative; the profile
    interval's lower end is never below the 185 people observed."""
    h = table("SparseMSE_NewOrl")
    prof = het.MhGamma35().fit(h)
    assert prof.interval().method == "profile"
    assert h.observed <= prof.interval().lower < prof.estimate < prof.interval().upper
    wald = het.MhGamma35(interval="wald").fit(h)
    assert wald.interval().lower < h.observed
    assert any("--interval profile" in w for w in wald.warnings)
    assert wald.estimate == prof.estimate and wald.std_error == prof.std_error


def test_interval_at_another_level_is_narrower() -> None:
    h = table("MultipleSystemsEstimation_Korea")
    i95, i80 = het.MhDarroch().fit(h).interval(), het.MhDarroch(level=0.8).fit(h).interval()
    assert i95.lower < i80.lower < i80.upper < i95.upper


@pytest.mark.parametrize("cls", list(het.SPECS.values()), ids=list(het.SPECS))
def test_result_round_trips_through_json(cls: type[het.ClosedPopulationModel]) -> None:
    r = cls().fit(table("dga_MadiganYork_5list"))
    back = EstimateResult.from_json(r.to_json())
    assert back.to_dict() == r.to_dict()
    assert back.std_error == r.std_error and back.method == cls.method


def test_two_lists_refused_with_the_alternative() -> None:
    h = CaptureHistories(("a", "b"), np.array([0, 30, 20, 10]))
    for cls in het.SPECS.values():
        if cls is het.M0:
            continue
        with pytest.raises(InputError, match=r"at least 3 lists.*got 2.*--method chapman"):
            cls().fit(h)
    assert het.M0().fit(h).estimate > h.observed  # Rcapture fits M0 from 2 occasions


def test_too_many_lists_refused_with_reason() -> None:
    k = het.MAX_LISTS + 1
    counts = np.zeros(2**k, dtype=np.int64)
    counts[[1 << i for i in range(k)]] = 3
    counts[3] = 2
    h = CaptureHistories(tuple(f"L{i}" for i in range(k)), counts)
    with pytest.raises(InputError, match=rf"at most {k - 1} lists, got {k}: .*dense design.*--method lcmcr"):
        het.MhPoisson2().fit(h)


@pytest.mark.parametrize(("option", "value"), [("interval", "bootstrap"), ("level", 1.5), ("level", 0)])
def test_bad_option_is_an_input_error(option: str, value: object) -> None:
    with pytest.raises(InputError, match=option):
        het.MhDarroch(**{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", list(het.SPECS.values()), ids=list(het.SPECS))
def test_no_overlap_is_a_model_error(cls: type[het.ClosedPopulationModel]) -> None:
    """Nobody on two lists: N is unbounded under every model; a ModelError naming what to try, not an
    absurd number (the IRLS 'converges' at a dark figure of 10^12 and more)."""
    h = CaptureHistories(tuple("abc"), np.array([0, 5, 4, 0, 3, 0, 0, 0]))
    with pytest.raises(ModelError, match=r"cannot be fitted.*--method loglinear or lcmcr"):
        cls().fit(h)


def test_sparse_pairs_are_a_model_error_not_a_number() -> None:
    """One pair, nobody on three lists: Mh Poisson2's intercept is not determined (SE of its log ~10^4)."""
    h = CaptureHistories(tuple("abc"), np.array([0, 50, 40, 1, 30, 0, 0, 0]))
    with pytest.raises(ModelError, match="do not bound"):
        het.MhPoisson2().fit(h)
    assert het.M0().fit(h).estimate > h.observed  # M0 is still bounded here


def test_boundary_fit_is_reported_as_the_observed_count() -> None:
    h = CaptureHistories(tuple("abc"), np.array([0, 0, 0, 0, 0, 21, 0, 21]))
    r = het.MthPoisson2().fit(h)
    assert r.estimate == pytest.approx(42, abs=0.5)
    assert r.interval() is None and r.at_observed_count is not None
    assert "boundary" in r.warnings[0]


def test_chao_removes_negative_eta_as_rcapture() -> None:
    """Korea: Mh Chao's η is negative, so the model falls back to M0 (Rcapture gives the same row)."""
    h = table("MultipleSystemsEstimation_Korea")
    mh, m0 = het.MhChao().fit(h), het.M0().fit(h)
    assert mh.diagnostics["heterogeneity_terms_removed"] == [3]
    assert mh.estimate == pytest.approx(m0.estimate, rel=1e-9)


def test_permuting_lists_leaves_every_estimate_unchanged() -> None:
    h = table("dga_MadiganYork_5list")
    perm = h.select_lists(list(reversed(h.lists)))
    for cls in het.SPECS.values():
        assert cls().fit(perm).estimate == pytest.approx(cls().fit(h).estimate, rel=1e-8)


def test_std_error_is_none_without_one() -> None:
    r = EstimateResult(method="x", estimate=10.0, observed=5, lists=("a", "b"))
    assert r.std_error is None and r.to_dict()["std_error"] is None
    assert EstimateResult(method="x", estimate=10.0, observed=5, lists=("a", "b"),
                          diagnostics={"std_error": float("nan")}).std_error is None


def test_cli_json_has_top_level_std_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["estimate", "MultipleSystemsEstimation_Korea", "--method", "chao", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0
    assert math.isclose(d["std_error"], 6.29745107132997, rel_tol=REL)  # Rcapture Mth Chao (LB), Korea


@pytest.mark.parametrize("spec", [Independence, Chao, het.M0])
@pytest.mark.parametrize(("option", "value"), [("level", "high"), ("level", None), ("level", True), ("interval", 3)])
def test_odd_option_values_are_input_errors_when_built(spec: type, option: str, value: object) -> None:
    """Built with a level that is not a number (mt/independence compared it and raised TypeError)."""
    with pytest.raises(InputError, match=option):
        spec(**{option: value})
