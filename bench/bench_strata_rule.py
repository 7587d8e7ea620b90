"""Checks of clk-mx-3's strata rule that are not threshold scans (those are bench_private_nhat.py's).

    python bench/bench_strata_rule.py single-state --seeds 3-5    # every record in one state
    python bench/bench_strata_rule.py bic-tie --seed 6            # the held-out draw the rule misses
    python bench/bench_strata_rule.py timing --persons 20000      # the rule's cost against Dice alone

``single-state``: the simulator's lists with the state set to one value before encoding, linked by the
rule as it is (it refuses the model: fewer than two strata inform), by the model allowed to fit on one
stratum (``min_columns=1``, as before the guard), and on Dice alone; N̂ against the true linkage's,
precision and recall. ``bic-tie``: the three best log-linear models (BIC, N̂) under the true linkage,
the rule's and Dice alone's, and the rule's N̂ with the true linkage's model. ``timing``: wall time of
``link_encoded`` with and without the rule (one run each, after a warm-up on the same lists).
docs/private-linkage.md, "Dice and strata", gives the figures.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import truth_entities
from bench_private_linkage import PROJECT, SECRET, _n_hat, _read_simulated
from bench_private_nhat import _seeds


def _encode(records: pd.DataFrame) -> list:  # type: ignore[type-arg]
    from cifranegra.linkage.private import MEXICO_SPEC, encode_records

    return [encode_records(g, SECRET, PROJECT, MEXICO_SPEC) for _, g in records.groupby("source", sort=True)]


def single_state(seeds: list[int]) -> None:
    from cifranegra.linkage import pair_scores
    from cifranegra.linkage.private import link as private_link
    from cifranegra.linkage.private import link_encoded
    from cifranegra.linkage.private.strata_rule import fit_strata_model

    for seed in seeds:
        records, truth, _ = _read_simulated(5000, 4, seed)
        truth_ent = truth_entities(records, truth)
        n_truth = _n_hat(truth_ent)
        encs = _encode(records.assign(state=pd.array(["09"] * len(records), dtype="string")))
        kept = private_link.fit_strata_model
        for label, compare, one_stratum in (("rule", True, False), ("dice alone", False, False),
                                            ("one stratum allowed", True, True)):
            if one_stratum:  # the model as it was before the two-strata guard
                private_link.fit_strata_model = functools.partial(fit_strata_model, min_columns=1)  # type: ignore[assignment]
            try:
                ent = link_encoded(encs, compare_strata=compare)
            finally:
                private_link.fit_strata_model = kept
            s = pair_scores(ent, truth_ent)
            print(f"seed {seed}, {label}: N-hat {100 * (_n_hat(ent) / n_truth - 1):+.2f}% of the true linkage's, "
                  f"precision {s.precision:.4f}, recall {s.recall:.4f}; rule {ent.attrs['linkage_rule']['rule']}")


def bic_tie(seed: int) -> None:
    from cifranegra.estimation import CaptureHistories, estimate
    from cifranegra.linkage.private import link_encoded

    records, truth, _ = _read_simulated(5000, 4, seed)
    lists = sorted(records["source"].unique())
    encs = _encode(records)
    linkages = {"true linkage": truth_entities(records, truth), "rule": link_encoded(encs),
                "dice alone": link_encoded(encs, compare_strata=False)}
    truth_model = None
    for label, ent in linkages.items():
        h = CaptureHistories.from_entities(ent, lists=lists)
        res = estimate(h, "loglinear", seed=seed)
        top = [(m["model"], round(float(m["bic"]), 2), round(float(m["estimate"]))) for m in res.details["models"][:3]]
        print(f"{label}: N-hat {res.estimate:,.0f}; best three (model, BIC, N-hat): {top}")
        if truth_model is None:
            truth_model = res.details["models"][0]["model"]
    h = CaptureHistories.from_entities(linkages["rule"], lists=lists)
    fixed = estimate(h, "loglinear", model=truth_model, interval="none", seed=seed).estimate
    print(f"rule, with the true linkage's model {truth_model}: N-hat {fixed:,.0f}")


def timing(persons: int) -> None:
    from cifranegra.linkage.private import link_encoded

    records, _, _ = _read_simulated(persons, 4, 3)
    encs = _encode(records)
    link_encoded(encs[:2], compare_strata=False)  # warm-up (numba kernels)
    for compare in (False, True):
        t0 = time.perf_counter()
        ent = link_encoded(encs, compare_strata=compare)
        rule = ent.attrs["linkage_rule"]
        print(f"{len(records):,} records, compare_strata={compare}: {time.perf_counter() - t0:.2f} s "
              f"({rule['rule']}, EM iterations {rule.get('iterations', '-')})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("single-state").add_argument("--seeds", default="3-5")
    sub.add_parser("bic-tie").add_argument("--seed", type=int, default=6)
    sub.add_parser("timing").add_argument("--persons", type=int, default=20000)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.what == "single-state":
        single_state(_seeds(args.seeds))
    elif args.what == "bic-tie":
        bic_tie(args.seed)
    else:
        timing(args.persons)


if __name__ == "__main__":
    main()
