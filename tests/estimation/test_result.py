"""The result surface: frozen, JSON round trip, intervals at any level, reproducible by seed."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from cifranegra import __version__
from cifranegra.errors import InputError
from cifranegra.estimation import EstimateResult, estimate
from refdata import table


@pytest.fixture(scope="module")
def boot() -> EstimateResult:
    return estimate(table("MultipleSystemsEstimation_Korea"), "loglinear", select="bic",
                    interval="bootstrap", n_boot=300, seed=7, workers=1)


def test_result_is_frozen(boot: EstimateResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        boot.estimate = 1.0  # type: ignore[misc]


def test_json_round_trip_keeps_everything(boot: EstimateResult) -> None:
    text = boot.to_json()
    again = EstimateResult.from_json(text)
    assert again == boot
    d = json.loads(text)
    assert d["cifranegra_version"] == __version__
    assert d["seed"] == 7
    assert d["input_fingerprint"] == table("MultipleSystemsEstimation_Korea").fingerprint()
    assert d["settings"]["n_boot"] == 300 and d["settings"]["select"] == "bic"


def test_interval_at_other_levels_from_replicates(boot: EstimateResult) -> None:
    i95, i80 = boot.interval(0.95), boot.interval(0.80)
    assert i80.lower > i95.lower and i80.upper < i95.upper
    assert EstimateResult.from_json(boot.to_json()).interval(0.8) == i80
    with pytest.raises(InputError):
        boot.interval(1.5)


def test_summary_and_models_table() -> None:
    r = estimate(table("MultipleSystemsEstimation_Kosovo"), "loglinear", select="bic", interval="profile")
    s = r.summary()
    assert list(s.columns[:4]) == ["method", "model", "lists", "observed"]
    assert s.loc[0, "model"] == "[123,14,34]"
    models = r.models()
    assert models.loc[0, "model"] == "[123,14,34]" and models["bic"].is_monotonic_increasing
    assert len(models) == 113  # every Kosovo model up to order 3 passes the checks


def test_fixed_model_interval_not_computed_at_other_level() -> None:
    r = estimate(table("MultipleSystemsEstimation_Korea"), "loglinear", model="[12,23]", interval="profile")
    with pytest.raises(InputError, match="refit"):
        r.interval(0.8)


def test_same_seed_same_numbers_whatever_the_workers() -> None:
    h = table("MultipleSystemsEstimation_Kosovo")
    a = estimate(h, "loglinear", select="bic", interval="bootstrap", n_boot=120, seed=11, workers=1)
    b = estimate(h, "loglinear", select="bic", interval="bootstrap", n_boot=120, seed=11, workers=2)
    c = estimate(h, "loglinear", select="bic", interval="bootstrap", n_boot=120, seed=12, workers=1)
    assert a.replicates == b.replicates
    assert a.interval() == b.interval()
    assert a.replicates != c.replicates


def test_stepwise_bootstrap_is_reproducible() -> None:
    h = table("MultipleSystemsEstimation_Korea")
    a = estimate(h, "loglinear", select="stepwise", interval="bootstrap", n_boot=60, seed=3, workers=1)
    b = estimate(h, "loglinear", select="stepwise", interval="bootstrap", n_boot=60, seed=3, workers=2)
    assert a.replicates == b.replicates
    assert np.isfinite(np.asarray(a.replicates)).all()


def test_no_interval_asked_for_is_said_in_estimate_json(capsys):
    """docs/estimation.md: --json prints `interval: null` and an `interval_note` when there is no
    interval; with --interval none there was no note. reported_interval() itself gives no reason then
    (summaries leave an interval nobody asked for out without comment: tests/report/test_rows.py)."""
    import json

    from cifranegra import cli

    assert cli.main(["estimate", "SparseMSE_UKdat_5", "--model", "[12,3,4,5]", "--interval", "none", "--seed", "1",
                     "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["interval"] is None and d["interval_note"] == "no interval was asked for (--interval none)"
    assert cli.main(["estimate", "SparseMSE_UKdat_5", "--model", "[12,3,4,5]", "--seed", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["interval"] is not None and "interval_note" not in d
