"""Linkage of very small lists (issue 12): pairwise precision and recall of ``link_records`` against
exact-agreement linkage alone, on simulated Mexican lists of a few to a few dozen records.

    python bench/bench_linkage_small.py [--persons 3,6,10,16,25,40] [--seeds 10]

Two lists, each capturing a person with probability about 0.5 (tests/linkage/linkage_synth.py, a
third of the records carry a recording error); seeds 100, 101, ... Precision and recall are summed
over the seeds. "exact only" links records agreeing exactly on CURP or on given name, both surnames
and birth date. Figures are in docs/linkage.md ("Small lists").
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "linkage"))

from linkage_synth import simulate_lists, true_entities  # noqa: E402

from cifranegra.linkage import LinkageSettings, LinkageWarning, cluster_pairs, link_records, pair_scores  # noqa: E402
from cifranegra.linkage.link import EXACT_RULES, _add_exact_rule_pairs  # noqa: E402
from cifranegra.linkage.prepare import prepare_records  # noqa: E402


def exact_only(records: pd.DataFrame) -> pd.DataFrame:
    empty = pd.DataFrame(columns=["source_l", "record_id_l", "source_r", "record_id_r", "match_probability",
                                  "match_weight"])
    pairs = _add_exact_rule_pairs(empty, prepare_records(records))
    return cluster_pairs(records[["source", "record_id"]], pairs, 0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", default="3,6,10,16,25,40")
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    print(f"exact rules: {EXACT_RULES}")
    print("persons  records(mean)  method      precision  recall  true pairs  warned")
    for n in (int(x) for x in args.persons.split(",")):
        tallies = {"link_records": [0, 0, 0, 0], "exact only": [0, 0, 0, 0]}
        n_records = []
        for seed in range(args.seeds):
            recs, _ = simulate_lists(n_persons=n, capture=(0.5, 0.5), seed=100 + seed)
            if len(recs) < 2:
                continue
            n_records.append(len(recs))
            plain = recs.drop(columns=["person_id"])
            truth = true_entities(recs)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LinkageWarning)
                linked = link_records(plain, LinkageSettings(seed=1, max_pairs_u=1e5)).entities
            warned = any(issubclass(w.category, LinkageWarning) for w in caught)
            for name, ent in (("link_records", linked), ("exact only", exact_only(plain))):
                s = pair_scores(ent, truth)
                t = tallies[name]
                t[0] += s.true_positives
                t[1] += s.predicted_pairs
                t[2] += s.true_pairs
                t[3] += warned if name == "link_records" else 0
        for name, (tp, pred, true, warned) in tallies.items():
            precision = tp / pred if pred else float("nan")
            recall = tp / true if true else float("nan")
            mean = sum(n_records) / max(len(n_records), 1)
            print(f"{n:7d}  {mean:13.1f}  {name:12s} {precision:9.3f}  {recall:6.3f}  {true:10d}  "
                  f"{warned if name == 'link_records' else '':>6}")


if __name__ == "__main__":
    main()
