"""Capture that depends on sex: the stratified total is unbiased and the pooled estimate is not
(bench/bench_stratified.py prints the table; docs/estimation.md, "Stratified totals")."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_stratified.py"


@pytest.mark.slow
def test_stratified_total_unbiased_pooled_biased():
    spec = importlib.util.spec_from_file_location("bench_stratified", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.study(populations=200, seed=2017)
    s, p = res["stratified"], res["pooled"]
    assert s["populations"] == 200
    assert abs(s["bias"]) < 0.03 and abs(s["bias"]) < 2 * s["bias_se"]
    assert 0.91 <= s["coverage"] <= 0.99  # the joint interval means what it says (binomial s.e. ~1.5%)
    assert p["bias"] < -0.03 and abs(p["bias"]) > 4 * p["bias_se"]  # pooled: biased downwards
    assert p["coverage"] < 0.8
