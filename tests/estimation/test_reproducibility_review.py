"""Reproducibility review of the estimators (DESIGN.md, 'Randomness is explicit' and 'Models are data').

The rule: every stochastic function takes a seed; the same seed gives the same numbers on any number of
cores; a result records the package version, the seed, the settings and a fingerprint of its input, so that
it can be traced and re-run from its record (docs/estimation.md, 'Results'; docs/bayesian.md, 'compare').
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from cifranegra._version import __version__
from cifranegra.estimation.api import estimate
from cifranegra.estimation.combine import combine_estimates, impute_and_estimate
from cifranegra.estimation.compare import compare
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.loglinear import fit_all_models
from refdata import table

SMALL = "MultipleSystemsEstimation_Kosovo"  # 4 lists: fast bootstraps


def test_all_model_fit_does_not_depend_on_workers() -> None:
    """Same numbers on any number of cores: the all-model search on 5 lists (6,212 models, split in two
    halves fitted side by side) gave other last digits with one worker, which fitted the whole set at
    once with other warm starts (``estimate --workers 1`` and ``--workers 2`` differed in the model table)."""
    h = table("SparseMSE_UKdat_5")
    one, two = fit_all_models(h, 3, workers=1), fit_all_models(h, 3, workers=2)
    for name in ("abundance", "deviance", "aic", "bic", "status"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)


def test_sample_coverage_without_a_seed_records_the_seed_that_reproduces_it() -> None:
    """Seed omitted: a seed is drawn and recorded (as log-linear's bootstrap and LCMCR record theirs);
    sample coverage recorded ``seed: null``, so its bootstrap interval could not be re-run."""
    h = table(SMALL)
    first = estimate(h, "sample-coverage", n_boot=50)
    assert isinstance(first.seed, int)
    again = estimate(h, "sample-coverage", n_boot=50, seed=first.seed)
    assert again.replicates == first.replicates and again.intervals == first.intervals
    from_generator = estimate(h, "sample-coverage", n_boot=50, seed=np.random.default_rng(4))
    assert isinstance(from_generator.seed, int)
    assert estimate(h, "sample-coverage", n_boot=50, seed=from_generator.seed).intervals == from_generator.intervals


def test_loglinear_records_a_spawned_seed_as_entropy_and_spawn_key() -> None:
    """The recorded seed re-runs the result: a spawned seed sequence (compare gives each family one) was
    recorded as ``seed`` = its entropy alone, and that seed gives other numbers; now ``seed`` is None and
    the settings hold entropy and spawn key, as LCMCR's and sample coverage's do."""
    h = table(SMALL)
    child = np.random.SeedSequence(5).spawn(3)[2]
    r = estimate(h, "loglinear", seed=child, n_boot=30)
    assert r.seed is None
    assert r.settings["seed_entropy"] == 5 and r.settings["seed_spawn_key"] == [2]
    rebuilt = np.random.SeedSequence(r.settings["seed_entropy"], spawn_key=tuple(r.settings["seed_spawn_key"]))
    assert estimate(h, "loglinear", seed=rebuilt, n_boot=30).replicates == r.replicates
    plain = estimate(h, "loglinear", seed=5, n_boot=30)
    assert plain.seed == 5 and "seed_entropy" not in plain.settings


def test_compare_records_version_and_every_familys_resolved_spec() -> None:
    """``compare --json`` records what changes its numbers: the package version and each family's spec
    with defaults resolved (LCMCR's chains and sweeps were passed as options and recorded nowhere)."""
    h = table(SMALL)
    lc = {"chains": 2, "samples": 20, "burn_in": 40}
    c = compare(h, families=["loglinear-bic", "lcmcr", "sample-coverage"], seed=1, n_boot=20,
                options={"lcmcr": lc}, sensitivity_families=["independence"])
    s = c.to_dict()["settings"]
    assert s["cifranegra_version"] == __version__
    assert set(s["specs"]) == {"loglinear-bic", "lcmcr", "sample-coverage"}
    assert s["specs"]["lcmcr"]["options"] | lc == s["specs"]["lcmcr"]["options"]
    assert s["specs"]["lcmcr"]["options"]["thin"] == 20  # a default, resolved
    assert s["specs"]["loglinear-bic"]["options"]["select"] == "bic"
    assert s["specs"]["loglinear-bic"]["options"]["n_boot"] == 20
    assert s["sensitivity_specs"]["independence"]["method"] == "independence"


def test_fingerprint_follows_the_table_not_its_row_order() -> None:
    """The input fingerprint is the same for the same table written in another row order, and differs
    when one count differs."""
    h = table(SMALL)
    shuffled = h.to_frame().sample(frac=1.0, random_state=0).reset_index(drop=True)
    assert CaptureHistories.from_frame(shuffled).fingerprint() == h.fingerprint()
    counts = h.counts.copy()
    counts[1] += 1
    assert h.with_counts(counts).fingerprint() != h.fingerprint()


class _Imputations:
    """Three linkages of two lists (as in test_combine.py)."""

    def __init__(self) -> None:
        self.records = pd.DataFrame({"source": ["A"] * 60 + ["B"] * 50,
                                     "record_id": [str(i) for i in range(60)] + [str(i) for i in range(50)]})
        self.ids = [np.concatenate([np.arange(60), np.arange(k), 100 + np.arange(50 - k)]) for k in (30, 25, 35)]

    @property
    def n_imputations(self) -> int:
        return 3

    def entities(self, m: int) -> pd.DataFrame:
        return self.records.assign(entity_id=self.ids[m])


def test_combined_result_records_its_inputs_and_a_seed_that_reproduces_it() -> None:
    """A result combined over imputed linkages had no input fingerprint, and recorded the first
    imputation's seed (which re-runs that imputation only); with no seed, the seed the imputations'
    seeds were drawn from was recorded nowhere."""
    combined, singles = impute_and_estimate(_Imputations(), "chapman")
    assert combined.input_fingerprint is not None
    assert isinstance(combined.seed, int)
    again, _ = impute_and_estimate(_Imputations(), "chapman", seed=combined.seed)
    assert again.estimate == combined.estimate and again.input_fingerprint == combined.input_fingerprint
    assert combined.settings["imputation_seeds"] == [s.seed for s in singles]
    other = dataclasses.replace(singles[2], input_fingerprint="0" * 64)
    assert combine_estimates([*singles[:2], other]).input_fingerprint != combined.input_fingerprint
