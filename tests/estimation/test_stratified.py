"""The stratified total: sums, joint intervals, unknown strata, strata not estimated, seeds, labels,
and the `estimate --strata` JSON that carries it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cifranegra.cli import main
from cifranegra.estimation.result import EstimateResult, Interval
from cifranegra.estimation.stratified import (
    N_SIMULATED,
    is_unknown,
    split_normal_sample,
    stratified_total,
    stratum_seed,
)


def _result(estimate: float, observed: int, *, replicates=None, draws=None, interval=None) -> EstimateResult:
    return EstimateResult(
        method="test", estimate=estimate, observed=observed, lists=("A", "B"),
        intervals=() if interval is None else (interval,),
        replicates=None if replicates is None else tuple(replicates),
        draws=None if draws is None else tuple(draws),
        interval_method=None if replicates is None and draws is None else "percentile",
    )


def test_bootstrap_replicates_summed_replicate_by_replicate():
    """Replicate b of the total is the sum of replicate b of each stratum (hand computation)."""
    a = _result(100.0, 80, replicates=[90, 95, 100, 105, 110])
    b = _result(50.0, 40, replicates=[60, 40, 55, 45, 50])
    t = stratified_total({"s=a": a, "s=b": b}, level=0.5)
    assert t.estimate == 150.0
    sums = np.array([150, 135, 155, 150, 160], dtype=float)  # not the sum of sorted replicates
    assert t.interval is not None and t.interval.method == "stratified-bootstrap-percentile"
    assert (t.interval.lower, t.interval.upper) == tuple(np.quantile(sums, [0.25, 0.75]))
    assert t.samples == 5 and t.strata_estimated == ("s=a", "s=b") and t.strata_not_estimated == ()


def test_posterior_draws_summed():
    a = _result(100.0, 80, draws=[90, 100, 110, 120])
    b = _result(10.0, 5, draws=[8, 12, 10, 6])
    t = stratified_total({"a": a, "b": b}, level=0.5)
    assert t.interval is not None and t.interval.method == "posterior-sum"
    assert (t.interval.lower, t.interval.upper) == tuple(np.quantile([98.0, 112.0, 120.0, 126.0], [0.25, 0.75]))


def test_analytic_intervals_combined_by_simulation_reproduce_one_stratum():
    """A split normal on log(N - n) gives back the stratum's own interval; two strata's simulated
    total is the sum's distribution (checked against a normal approximation by hand)."""
    iv = Interval(120.0, 200.0, 0.95, "profile")
    draws = split_normal_sample(150.0, 100, iv, np.random.default_rng(1), 200_000)
    lo, hi = np.quantile(draws, [0.025, 0.975])
    assert lo == pytest.approx(120.0, rel=0.01) and hi == pytest.approx(200.0, rel=0.01)
    assert np.median(draws) == pytest.approx(150.0, rel=0.01)
    # symmetric on the N scale, far from n: approximately normal; total sd = sqrt(sd1² + sd2²)
    a = _result(10_000.0, 1_000, interval=Interval(9_804.0, 10_196.0, 0.95, "wald"))
    b = _result(20_000.0, 1_000, interval=Interval(19_608.0, 20_392.0, 0.95, "wald"))
    t = stratified_total({"a": a, "b": b}, level=0.95, seed=5)
    half = 1.959964 * math.hypot(100.0, 200.0)
    assert t.interval is not None and t.interval.method == "simulated-sum" and t.samples == N_SIMULATED
    assert t.interval.lower == pytest.approx(30_000 - half, rel=0.002)
    assert t.interval.upper == pytest.approx(30_000 + half, rel=0.002)
    again = stratified_total({"a": a, "b": b}, level=0.95, seed=5)
    assert again.interval == t.interval  # same seed, same numbers


def test_unknown_stratum_allocated_in_proportion():
    """Persons of unknown stratum scale the total by observed(all) / observed(known), interval too."""
    a = _result(100.0, 80, replicates=[90, 100, 110])
    b = _result(60.0, 20, replicates=[50, 60, 70])
    t = stratified_total({"a": a, "b": b}, unknown={"s=unknown": 10}, level=0.5)
    factor = 110 / 100
    assert t.unknown_factor == pytest.approx(factor) and t.unknown_observed == 10 and t.observed == 110
    assert t.estimate == pytest.approx(160 * factor)
    assert t.interval is not None
    assert t.interval.lower == pytest.approx(np.quantile([140.0, 160.0, 180.0], 0.25) * factor)
    assert "unknown stratum value" in (t.note or "")
    assert t.to_dict()["unknown_allocated"] == {"observed": 10, "factor": pytest.approx(factor)}


def test_a_stratum_not_estimated_leaves_no_total():
    a = _result(100.0, 80, replicates=[90, 100, 110])
    t = stratified_total({"a": a}, not_estimated={"s=b": 7}, level=0.9)
    assert t.estimate is None and t.interval is None
    assert t.strata_not_estimated == ("s=b",) and "s=b" in (t.note or "")
    assert t.comparison(100.0) is None
    d = t.to_dict()
    assert d["estimate"] is None and d["interval"] is None and d["strata_not_estimated"] == ["s=b"]


def test_a_stratum_without_interval_gives_a_total_without_one():
    a = _result(100.0, 80, interval=Interval(90.0, 120.0, 0.95, "profile"))
    b = _result(30.0, 20)
    t = stratified_total({"a": a, "b": b}, seed=1)
    assert t.estimate == 130.0 and t.interval is None and "b has no interval" in (t.note or "")


def test_comparison_names_both_and_the_reason():
    t = stratified_total({"a": _result(120.0, 80, replicates=[110, 120, 130])}, level=0.5)
    text = t.comparison(100.0) or ""
    assert "120" in text and "pooled 100" in text and "+20.0%" in text and "heterogeneity" in text


def test_stratum_seeds_reproducible_and_independent():
    assert stratum_seed(3, "sex=female") == stratum_seed(3, "sex=female")
    seeds = {stratum_seed(3, "sex=female"), stratum_seed(3, "sex=male"), stratum_seed(4, "sex=female")}
    assert len(seeds) == 3 and all(0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize("value", [None, float("nan"), "", " unknown ", "Unknown", "<NA>"])
def test_unknown_values(value):
    assert is_unknown(value)


def test_known_values():
    assert not is_unknown("female") and not is_unknown(0)


# ----------------------------------------------------------------------------- the command line
def _table(tmp_path: Path, *, blank: bool = True, lone_male: bool = False, stratum: str = "sex") -> Path:
    """Women listed far more often than men; optionally persons of blank sex, or men on one list only."""
    rows = [("female", 1, 0, 0, 120), ("female", 0, 1, 0, 100), ("female", 0, 0, 1, 110),
            ("female", 1, 1, 0, 60), ("female", 1, 0, 1, 70), ("female", 0, 1, 1, 55), ("female", 1, 1, 1, 30),
            ("male", 1, 0, 0, 90), ("male", 0, 1, 0, 80), ("male", 0, 0, 1, 85),
            ("male", 1, 1, 0, 12), ("male", 1, 0, 1, 10), ("male", 0, 1, 1, 9), ("male", 1, 1, 1, 2)]
    if lone_male:
        rows = [r for r in rows if r[0] == "female"] + [("male", 1, 0, 0, 40)]
    if blank:
        rows += [("", 1, 1, 0, 3), ("", 1, 0, 0, 5)]
    path = tmp_path / "t.csv"
    path.write_text(f"{stratum},A,B,C,count\n" + "".join(",".join(map(str, r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _estimate(capsys, *args: str) -> tuple[int, dict]:
    code = main(["estimate", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_json_shape_unknown_allocated_and_pooled(tmp_path, capsys):
    path = _table(tmp_path)
    code, d = _estimate(capsys, str(path), "--strata", "sex", "--method", "independence", "--seed", "7")
    assert code == 0
    # provenance once for the whole output (the reproducibility review: it was only per stratum)
    from cifranegra import __version__

    assert (d["cifranegra_version"], d["method"], d["seed"]) == (__version__, "independence", 7)
    total = d["stratified_total"]
    assert {"estimate", "interval", "strata_estimated", "strata_not_estimated"} <= set(total)
    assert set(total["interval"]) == {"lower", "upper", "level", "method"}
    assert total["interval"]["method"] == "simulated-sum" and total["interval"]["level"] == 0.95
    assert total["strata_estimated"] == ["sex=female", "sex=male"] and total["strata_not_estimated"] == []
    by = {s["stratum"]["sex"]: s for s in d["strata"]}
    known = by["female"]["observed"] + by["male"]["observed"]
    assert total["unknown_allocated"]["observed"] == 8  # the blank-sex persons: not dropped
    factor = (known + 8) / known
    assert total["estimate"] == pytest.approx((by["female"]["estimate"] + by["male"]["estimate"]) * factor)
    assert total["interval"]["lower"] < total["estimate"] < total["interval"]["upper"]
    # the pooled fit is `estimate FILE --seed 7` on the whole table
    assert d["pooled"]["observed"] == known + 8
    code, whole = _estimate(capsys, str(path), "--lists", "A", "B", "C", "--method", "independence", "--seed", "7")
    assert d["pooled"]["estimate"] == pytest.approx(whole["estimate"], rel=1e-12)
    assert d["pooled"]["estimate"] < total["estimate"]  # heterogeneity between the sexes biases it down
    assert "pooled" in d["comparison"] and "heterogeneity" in d["comparison"]


def test_cli_bootstrap_total_seeds_reproducible(tmp_path, capsys):
    path = _table(tmp_path, blank=False)
    args = (str(path), "--strata", "sex", "--model", "[1,2,3]", "--interval", "bootstrap", "--n-boot", "40")
    _, one = _estimate(capsys, *args, "--seed", "11")
    _, two = _estimate(capsys, *args, "--seed", "11")
    _, other = _estimate(capsys, *args, "--seed", "12")
    assert one == two
    assert one["stratified_total"]["interval"]["method"] == "stratified-bootstrap-percentile"
    assert one["stratified_total"]["samples"] == 40
    assert one["stratified_total"]["interval"] != other["stratified_total"]["interval"]
    seeds = [s["seed"] for s in one["strata"]]
    assert len(set(seeds)) == 2 and 11 not in seeds  # each stratum its own seed, derived from --seed
    # a stratum re-run alone with its recorded seed gives its numbers
    female = next(s for s in one["strata"] if s["stratum"]["sex"] == "female")
    alone = tmp_path / "f.csv"
    alone.write_text("\n".join(line.partition(",")[2] for line in path.read_text().splitlines()
                               if line.startswith(("sex", "female"))) + "\n", encoding="utf-8")
    _, f = _estimate(capsys, str(alone), "--model", "[1,2,3]", "--interval", "bootstrap", "--n-boot", "40",
                     "--seed", str(female["seed"]))
    assert f["interval"] == female["interval"]


def test_cli_stratum_not_estimated_no_total(tmp_path, capsys):
    path = _table(tmp_path, blank=False, lone_male=True)
    code, d = _estimate(capsys, str(path), "--strata", "sex", "--method", "independence", "--seed", "1")
    assert code == 0
    total = d["stratified_total"]
    assert total["estimate"] is None and total["interval"] is None
    assert total["strata_not_estimated"] == ["sex=male"] and total["strata_estimated"] == ["sex=female"]
    assert "could not be estimated" in total["note"]
    main(["estimate", str(path), "--strata", "sex", "--method", "independence", "--seed", "1"])
    text = capsys.readouterr().out
    assert "stratified total" in text and "not available" in text and "sex=male" in text


def test_cli_labels_masked_for_an_identifier_like_stratum(tmp_path, capsys):
    """A CURP-shaped stratum column is masked in the strata and in the total's lists, text and JSON."""
    path = _table(tmp_path, blank=False)
    curps = {"female": "GOMC850101MDFRRR09", "male": "PEXJ900215HJCRRN04"}
    text = path.read_text()
    for k, v in curps.items():
        text = text.replace(f"\n{k},", f"\n{v},")
    path.write_text(text.replace("sex,", "id,", 1), encoding="utf-8")
    code, d = _estimate(capsys, str(path), "--strata", "id", "--method", "independence", "--seed", "1")
    assert code == 0
    body = json.dumps(d)
    assert not any(c in body or c[:10] in body for c in curps.values())
    assert len(d["stratified_total"]["strata_estimated"]) == 2
    assert all("***" in s for s in d["stratified_total"]["strata_estimated"])
    main(["estimate", str(path), "--strata", "id", "--method", "independence", "--seed", "1"])
    out = capsys.readouterr().out
    assert "stratified total" in out and not any(c[:10] in out for c in curps.values())
