"""Reproducibility review of a run's records (DESIGN.md, 'Models are data': results carry the version,
seed, settings and input fingerprint, so that every published number can be traced and re-run)."""

from __future__ import annotations

from cifranegra.estimation.api import estimate
from cifranegra.pipeline.imputation import _combine_one
from refdata import table


def test_combined_loglinear_records_the_interval_it_takes_and_the_tables_seed() -> None:
    """Under linkage imputation a log-linear row's interval width comes from the single linkage's
    bootstrap, but results.json recorded the imputations' point-only settings (``interval: none``,
    ``n_boot: 0``), no input fingerprint, and no seed (the table's seed, from which every imputation's
    seed is derived)."""
    h = table("MultipleSystemsEstimation_Kosovo")
    single = estimate(h, "loglinear", seed=1, n_boot=30, interval="parametric")
    points = [estimate(h.with_counts(h.counts + (h.counts > 0) * i), "loglinear", seed=10 + i, interval="none")
              for i in range(3)]
    combined = _combine_one("all", "loglinear", [(r, None, []) for r in points], 0.95, single, seed=7).result
    assert combined is not None
    s = combined.settings
    assert (s["interval"], s["n_boot"]) == ("parametric", 30)
    assert s["bootstrap_interval"] == single.settings["bootstrap_interval"]
    assert s["spec"] == single.settings["spec"]
    assert s["imputation_spec"]["options"]["interval"] == "none" and s["linkage_imputations"] == 3
    assert combined.seed == 7 and combined.input_fingerprint is not None
