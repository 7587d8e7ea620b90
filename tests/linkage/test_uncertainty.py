"""Keeping the linkage evidence, calibrating it, and imputing linkages from a real (small) linkage."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from linkage_synth import fast_settings

from cifranegra.errors import InputError
from cifranegra.linkage import LinkageSettings, link_records
from cifranegra.linkage.uncertainty import (
    Calibration,
    ImputationSettings,
    brier_score,
    calibrate,
    impute_linkage,
    pair_truth_labels,
    reliability_table,
)


def test_calibration_by_hand():
    # pool-adjacent-violators: (0, 1, 0, 1) at scores 1..4 -> (0, .5, .5, 1)
    cal = calibrate([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1], clip=0.0)
    assert cal.predict([1.0, 2.0, 3.0, 4.0]).tolist() == [0.0, 0.5, 0.5, 1.0]
    assert cal.predict([0.0, 2.5, 9.0]).tolist() == [0.0, 0.5, 1.0]
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    # tied scores are one point of the map
    tied = calibrate([1.0, 1.0, 2.0], [1, 0, 1])
    assert tied.knots == (1.0, 2.0) and tied.values == (0.5, 1.0)
    assert calibrate([1.0, 2.0], [1, 1]).predict([1.0]).tolist() == [1 - 1e-4]  # never certain
    assert brier_score([0.2, 0.9], [0, 1]) == pytest.approx((0.04 + 0.01) / 2)
    table = reliability_table([0.05, 0.15, 0.12, 0.95], [0, 0, 1, 1], bins=10)
    assert table["pairs"].tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table.loc[1, "observed_share"] == 0.5
    assert table.loc[1, "mean_probability"] == pytest.approx(0.135)
    with pytest.raises(InputError, match="0/1"):
        calibrate([1.0, 2.0], [0, 2])
    with pytest.raises(InputError, match="same length"):
        brier_score([0.1], [0, 1])


def test_calibration_within_and_between_lists_apart_by_hand():
    """Fitted apart (``within``): each kind of pair gets its own isotonic map, chosen per pair by
    ``predict(..., within=)``; without flags, or without a within-list map, the between-list one."""
    scores = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    labels = [0, 1, 1, 0, 0, 1]
    within = [False, False, False, True, True, True]
    cal = calibrate(scores, labels, clip=0.0, score="dice", within=within)
    assert cal.score == "dice" and cal.values == (0.0, 1.0, 1.0) and cal.within_values == (0.0, 0.0, 1.0)
    assert cal.predict([2.0, 2.0], within=[False, True]).tolist() == [1.0, 0.0]
    assert cal.predict([2.0]).tolist() == [1.0]
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    assert calibrate(scores, labels).within_knots == ()  # one map by default
    with pytest.raises(InputError, match="score must be one of match_weight, dice"):
        calibrate(scores, labels, score="jaccard")
    with pytest.raises(InputError, match="one per scored pair"):
        calibrate(scores, labels, within=within[:-1])
    with pytest.raises(InputError, match="both kinds"):
        calibrate(scores, labels, within=[True] * 6)


def test_keep_pairs_above_is_a_validated_setting():
    assert LinkageSettings().keep_pairs_above == 0.01
    s = LinkageSettings.from_dict({"keep_pairs_above": "0.05"})
    assert LinkageSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    for bad in (0, 0.7, "many", True):
        with pytest.raises(InputError, match="keep_pairs_above"):
            LinkageSettings(keep_pairs_above=bad)


@pytest.fixture(scope="module")
def small_linkage(mexican_lists):
    records, _ = mexican_lists
    small = records[records["person_id"] < 300].reset_index(drop=True)
    # on these lists no pair scores between 0.01 and 0.5: keep more, to have weak evidence to draw from
    settings = dataclasses.replace(fast_settings(), keep_pairs_above=1e-4)
    return small, link_records(small.drop(columns=["person_id"]), settings)


def test_linkage_keeps_the_low_probability_pairs_and_clusters_as_before(small_linkage):
    _records, result = small_linkage
    p = result.pairs["match_probability"]
    assert p.min() >= 1e-4
    assert (p < 0.5).sum() > 0  # evidence below the threshold kept (before, only pairs >= 0.5)
    # clustering still uses only pairs at or above the threshold
    at = result.entities_at(result.settings.threshold)
    pd.testing.assert_frame_equal(at, result.entities)
    with pytest.raises(InputError, match="keep_pairs_above"):
        result.entities_at(1e-5)


def test_calibration_against_simulated_truth(small_linkage):
    records, result = small_linkage
    labels = pair_truth_labels(result.pairs, records, entity="person_id")
    weights = result.pairs["match_weight"].fillna(np.inf).to_numpy(float)
    cal = calibrate(weights, labels)
    calibrated = cal.predict(weights)
    assert np.all(np.diff(calibrated[np.argsort(weights, kind="stable")]) >= 0)  # monotone in the weight
    # isotonic regression is the least-squares monotone map: in sample it cannot do worse than the model's
    assert brier_score(calibrated, labels) <= brier_score(result.pairs["match_probability"], labels) + 1e-12
    table = reliability_table(calibrated, labels)
    assert table["pairs"].sum() == len(labels)


def test_impute_linkage_draws_plausible_linkages(small_linkage):
    _records, result = small_linkage
    for sampler in ("gibbs", "components"):
        imp = impute_linkage(result, ImputationSettings(n_imputations=5, sampler=sampler, burn_in=2, thin=1), seed=4)
        assert imp.assignments.shape == (5, len(result.entities))
        persons = imp.persons()
        at_threshold = result.entities["entity_id"].nunique()
        assert np.all(np.abs(persons - at_threshold) < 0.1 * at_threshold)
        assert len({tuple(row) for row in imp.assignments}) > 1  # the linkages differ
        ent = imp.entities(0)
        assert ent[["source", "record_id"]].equals(result.entities[["source", "record_id"]])
        again = impute_linkage(result, ImputationSettings(n_imputations=5, sampler=sampler, burn_in=2, thin=1), seed=4)
        np.testing.assert_array_equal(imp.assignments, again.assignments)
    dedup = impute_linkage(result, ImputationSettings(n_imputations=3, lists_deduplicated=True, burn_in=1), seed=1)
    lists = result.entities["source"].to_numpy()
    for row in dedup.assignments:
        assert not pd.DataFrame({"e": row, "l": lists}).duplicated().any()
    with pytest.raises(InputError, match="sampler"):
        ImputationSettings(sampler="magic")
    with pytest.raises(InputError, match="n_imputations"):
        ImputationSettings(n_imputations=1)


def test_probabilities_expecting_more_links_than_the_lists_hold_are_refused():
    """Two lists of 10 records share at most 10 links (each person once per list); probabilities of
    0.9 on all 100 cross pairs expect 90, which no linkage of these lists can match (a private
    linkage whose score mixture fell back did this on the simulator: 782,000 links expected among
    4,554 records). The imputation refuses them instead of merging nearly everyone; 0.09 each (9
    expected) is drawn from."""
    from cifranegra.linkage.uncertainty import ScoredLinkage

    ents = pd.DataFrame({"source": ["A"] * 10 + ["B"] * 10, "record_id": [str(i) for i in range(20)],
                         "entity_id": np.arange(20), "match_probability": 1.0})
    cross = [(f"{a}", f"{b}") for a in range(10) for b in range(10, 20)]
    pairs = pd.DataFrame({"source_l": "A", "record_id_l": [a for a, _ in cross], "source_r": "B",
                          "record_id_r": [b for _, b in cross], "match_probability": 0.9})
    settings = ImputationSettings(n_imputations=3, calibration="none")
    with pytest.raises(InputError, match=r"expect 90 links between lists, more than the 10 these lists can hold"):
        impute_linkage(ScoredLinkage(ents, pairs, 0.01), settings, seed=1)
    ok = impute_linkage(ScoredLinkage(ents, pairs.assign(match_probability=0.09), 0.01), settings, seed=1)
    assert ok.n_imputations == 3 and ok.diagnostics["persons_min"] >= 10
