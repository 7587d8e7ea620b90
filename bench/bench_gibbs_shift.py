"""Why the Gibbs imputation matches the amount of linking (docs/linkage.md, ``LinkTargets``).

On the linkage study's common-names cell (bench_linkage_uncertainty.py: 5,000 persons, no CURP,
errors doubled, names from the 10 most frequent; replicate 0, seed 14005300), calibrate Splink's pair
probabilities on the truth itself (isotonic, within and between lists apart), then draw 20 linkages:

- from the Gibbs sampler with those probabilities as pair odds and no shift;
- as ``impute_linkage(..., calibration=...)`` does, with the shift that matches the expected number
  of between-list links.

and print the persons each holds against the true number.

    python bench/bench_gibbs_shift.py [n_lists]    # 3 by default, as the study
"""

import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.simplefilter("ignore")
from bench_linkage_uncertainty import CELLS, SEED, _true_person, simulate_records  # noqa: E402
from cifranegra.linkage import LinkageSettings, link_records  # noqa: E402
from cifranegra.linkage.uncertainty import (  # noqa: E402
    ImputationSettings,
    calibrate,
    impute_linkage,
    pair_truth_labels,
)
from cifranegra.linkage.uncertainty.samplers import GibbsOptions, pair_graph, sample_gibbs  # noqa: E402


def main() -> None:
    n_lists = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    cell = 3  # common-names
    seed = SEED * 1000 + 100 * cell + 0  # replicate 0
    records, truth = simulate_records(CELLS[cell], 5000, n_lists, seed, Path(tempfile.mkdtemp()))
    n_true = len(np.unique(_true_person(records, truth)))
    result = link_records(records, LinkageSettings(seed=seed))
    pairs = result.pairs
    labels = pair_truth_labels(pairs, truth)
    within = (pairs["source_l"] == pairs["source_r"]).to_numpy()
    weight = pairs["match_weight"].to_numpy(float)
    cal = calibrate(weight, labels, within=within)
    p = cal.predict(np.where(np.isnan(weight), np.inf, weight), within=within)
    floor = min(float(result.settings.threshold), float(result.settings.keep_pairs_above))
    kept = p >= floor
    recs = result.entities.drop(columns=["entity_id", "match_probability"], errors="ignore").reset_index(drop=True)
    g = pair_graph(recs, pairs.assign(match_probability=p)[kept])
    between = g.list_index[g.left] != g.list_index[g.right]
    print(
        f"seed {seed}, lists {n_lists}: true persons {n_true}, records {len(recs)}, pairs kept {kept.sum()}, "
        f"expected between-list links {g.probability[between].sum():.0f}, true between-list matches "
        f"{int(labels[kept][~within[kept]].sum())}"
    )
    single = result.entities["entity_id"].nunique()
    print(f"single linkage: {single} persons ({single / n_true - 1:+.2%})")
    draws = sample_gibbs(g, 20, seed, options=GibbsOptions(), targets=None)
    persons = np.array([len(np.unique(d)) for d in draws])
    print(
        f"Gibbs, truth-calibrated odds, no shift: {persons.mean():.0f} persons (sd {persons.std(ddof=1):.1f}; "
        f"{persons.mean() / n_true - 1:+.2%})"
    )
    imp = impute_linkage(result, ImputationSettings(n_imputations=20), seed=seed, calibration=cal)
    matched = np.array([imp.entities(m)["entity_id"].nunique() for m in range(20)])
    print(
        f"impute_linkage, truth calibration, links matched: {matched.mean():.0f} persons "
        f"(sd {matched.std(ddof=1):.1f}; {matched.mean() / n_true - 1:+.2%})"
    )


if __name__ == "__main__":
    main()
