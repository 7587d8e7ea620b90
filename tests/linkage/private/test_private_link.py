"""Linking encoded lists into the entities table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from private_synth import simulate_lists

from cifranegra.errors import InputError
from cifranegra.linkage.private import (
    MEXICO_SPEC,
    LinkageSecret,
    all_pairs_above,
    dice_pairs,
    encode_records,
    link_encoded,
    link_encoded_scored,
    match_posterior,
)

SECRET = LinkageSecret(b"\x07" * 32)
PROJECT = "test-study"


def _encode(df: pd.DataFrame, secret: LinkageSecret = SECRET, project: str = PROJECT):  # type: ignore[no-untyped-def]
    return [encode_records(g, secret, project) for _, g in df.groupby("source", sort=True)]


def _pair_f1(entities: pd.DataFrame, truth: np.ndarray) -> tuple[float, float, float]:
    def pairs(labels: np.ndarray) -> set[tuple[int, int]]:
        out: set[tuple[int, int]] = set()
        for lab in np.unique(labels):
            idx = np.flatnonzero(labels == lab)
            out.update((int(a), int(b)) for k, a in enumerate(idx) for b in idx[k + 1 :])
        return out

    p, t = pairs(entities["entity_id"].to_numpy()), pairs(truth)
    tp = len(p & t)
    precision, recall = tp / max(len(p), 1), tp / max(len(t), 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)


@pytest.fixture(scope="module")
def lists() -> pd.DataFrame:
    return simulate_lists(1500, 3, seed=11).sort_values("source", kind="stable").reset_index(drop=True)


def test_entities_table_contract(lists: pd.DataFrame) -> None:
    ent = link_encoded(_encode(lists))
    assert list(ent.columns[:4]) == ["source", "record_id", "entity_id", "match_probability"]
    assert {"year", "sex", "age_group", "state", "exploitation"} <= set(ent.columns)
    assert len(ent) == len(lists)
    assert ent["entity_id"].dtype == np.int64
    assert ent["match_probability"].between(0, 1).all()
    sizes = ent.groupby("entity_id")["source"].transform("size")
    assert (ent.loc[sizes == 1, "match_probability"] == 1.0).all()
    # entity ids are 0..m-1 in order of first appearance
    firsts = ent.drop_duplicates("entity_id")["entity_id"].to_numpy()
    assert np.array_equal(firsts, np.arange(len(firsts)))
    # one record per list per entity
    assert not ent.duplicated(["entity_id", "source"]).any()


def test_accuracy_on_synthetic_lists(lists: pd.DataFrame) -> None:
    ent = link_encoded(_encode(lists))
    precision, recall, f1 = _pair_f1(ent, lists["person_id"].to_numpy())
    # clk-mx-3 measured: precision 0.974, recall 0.972, F1 0.973 (clk-mx-2 at its 0.66: 0.951, 0.970,
    # 0.960). These lists draw the form of exploitation per record, so the strata rule falls back to
    # the Dice score alone (test_strata_rule.py measures the rule where two strata inform)
    assert ent.attrs["linkage_rule"]["rule"] == "dice"
    assert precision > 0.95 and recall > 0.95 and f1 > 0.95, (precision, recall, f1)


def test_blocking_finds_nearly_what_full_comparison_finds(lists: pd.DataFrame) -> None:
    enc = _encode(lists)
    blocked = _pair_f1(link_encoded(enc, blocking=True), lists["person_id"].to_numpy())
    full = _pair_f1(link_encoded(enc, blocking=False), lists["person_id"].to_numpy())
    assert blocked[1] >= full[1] - 0.02


def test_identical_lists_link_completely() -> None:
    df = simulate_lists(400, 1, capture=(0.9,), seed=3, error_rate=0.0)
    a = encode_records(df.assign(source="A"), SECRET, PROJECT)
    b = encode_records(df.assign(source="B"), SECRET, PROJECT)
    ent = link_encoded([a, b])
    assert ent["entity_id"].nunique() == len(df)
    assert (ent.groupby("entity_id").size() == 2).all()


def test_the_list_encoded_under_another_secret_is_the_one_named(lists: pd.DataFrame) -> None:
    """docs/private-linkage.md, 'How a study runs': every agency encodes with the one shared secret, and
    a list encoded under another is refused clearly. The message named whichever list came second
    ("re-encode it"), so when the first list was the odd one out it sent the wrong agency to re-encode."""
    _, b, c = _encode(lists)
    odd = encode_records(lists[lists["source"] == "agency_1"], LinkageSecret(b"\x08" * 32), PROJECT)
    with pytest.raises(InputError) as info:
        link_encoded([odd, b, c])
    message = str(info.value)
    assert message.startswith("encoded list(s) 1 (agency_1) were encoded with a different secret")
    assert "2 (agency_2), 3 (agency_3)" in message
    # no majority (one list each under two secrets): neither is blamed, both are named
    with pytest.raises(InputError, match=r"2 groups.*lists 1 \(agency_1\); 2 \(agency_2\)\)"):
        link_encoded([odd, b])


def test_mixing_secrets_or_specs_is_refused(lists: pd.DataFrame) -> None:
    a, b, _ = _encode(lists)
    other = encode_records(lists[lists["source"] == "agency_3"], LinkageSecret(b"\x08" * 32), PROJECT)
    with pytest.raises(InputError, match="different secret or project"):
        link_encoded([a, other])
    spec2 = dataclasses.replace(MEXICO_SPEC, bits=1024)
    c = encode_records(lists[lists["source"] == "agency_2"], SECRET, PROJECT, spec2)
    with pytest.raises(InputError, match="spec"):
        link_encoded([a, c])
    with pytest.raises(InputError, match="record"):
        link_encoded([a, a])
    with pytest.raises(InputError):
        link_encoded([a, b], threshold=1.5)


def test_dice_kernels_agree() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**63, size=(300, 16), dtype=np.uint64)
    b = rng.integers(0, 2**63, size=(200, 16), dtype=np.uint64)
    b[:20] = a[:20]
    b[20:40] = a[20:40] & rng.integers(0, 2**63, size=(20, 16), dtype=np.uint64) | a[20:40]
    i, j, s = all_pairs_above(a, b, 0.55)
    ref = dice_pairs(a, b, i, j)
    assert np.allclose(s, ref)
    ii, jj = np.meshgrid(np.arange(300), np.arange(200), indexing="ij")
    every = dice_pairs(a, b, ii.ravel(), jj.ravel())
    assert len(i) == int((every >= 0.55).sum())
    # Dice by hand for one pair
    bits_a = np.unpackbits(a[0].view(np.uint8))
    bits_b = np.unpackbits(b[5].view(np.uint8))
    expected = 2 * (bits_a & bits_b).sum() / (bits_a.sum() + bits_b.sum())
    assert dice_pairs(a, b, np.array([0]), np.array([5]))[0] == pytest.approx(expected)
    si, sj, _ = all_pairs_above(a, a, 0.99, same=True)
    assert len(si) == 0 or (si < sj).all()


def test_match_posterior_is_monotone_and_bounded() -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(0.55, 0.03, 5000), rng.normal(0.85, 0.05, 300)]).clip(0, 1)
    post = match_posterior(scores, 0.7)
    order = np.argsort(scores)
    assert (np.diff(post[order]) >= -1e-12).all()
    assert post.min() >= 0 and post.max() <= 1
    assert post[scores > 0.8].mean() > 0.95 and post[scores < 0.6].mean() < 0.05
    few = match_posterior(np.array([0.9, 0.5]), 0.7)
    assert few[0] > 0.99 and few[1] < 0.01


def test_mixing_spec_versions_names_both_and_the_fix(lists: pd.DataFrame) -> None:
    from cifranegra.linkage.private import MEXICO_SPEC_V1

    a = _encode(lists)[0]
    old = encode_records(lists[lists["source"] == "agency_2"], SECRET, PROJECT, MEXICO_SPEC_V1)
    with pytest.raises(InputError, match=r"clk-mx-1.*clk-mx-3|clk-mx-3.*clk-mx-1") as err:
        link_encoded([a, old])
    assert "Re-encode every list with the same cifranegra version" in str(err.value)


def test_threshold_is_reported_and_mixture_is_label_free(lists: pd.DataFrame) -> None:
    enc = _encode(lists)
    ent = link_encoded(enc)
    # these lists carry one informative stratum only, so the strata rule falls back (test_strata_rule.py)
    assert ent.attrs["threshold"] == MEXICO_SPEC.threshold
    assert ent.attrs["threshold_source"] == "spec clk-mx-3 (Dice alone: no strata model)"
    dice_alone = link_encoded(enc, compare_strata=False)
    assert dice_alone.attrs["threshold"] == MEXICO_SPEC.threshold
    assert dice_alone.attrs["threshold_source"] == "spec clk-mx-3"
    # the fitted mixture itself is checked on FEBRL4 (test_private_febrl.py)
    assert link_encoded(enc, threshold=0.7).attrs["threshold_source"] == "given"
    with pytest.raises(InputError, match='"mixture"'):
        link_encoded(enc, threshold="median")


def test_mixture_falls_back_to_the_spec_when_it_cannot_be_fitted() -> None:
    df = simulate_lists(30, 2, seed=4)
    ent = link_encoded(_encode(df), threshold="mixture")
    assert ent.attrs["threshold"] == MEXICO_SPEC.threshold
    assert ent.attrs["threshold_source"].startswith("spec clk-mx-3 (the mixture could not be fitted")


def test_scored_private_linkage_keeps_the_evidence_and_imputes_near_the_truth(lists: pd.DataFrame) -> None:
    """The evidence private linkage keeps for imputation: the same entities, every pair (within lists
    too) down to P(match | Dice) = 0.01, no identifier. Imputed from it with the within-list
    calibration, the number of persons is near the truth (866 persons in the lists); the mixture's
    own probabilities add up to more between-list links than the lists can hold (2,153 under clk-mx-3;
    573 true matches), and the imputation refuses them."""
    from cifranegra.linkage.uncertainty import ImputationSettings, impute_linkage

    enc = _encode(lists)
    entities, scored = link_encoded_scored(enc)
    assert entities.equals(link_encoded(enc))
    pairs = scored.pairs
    assert list(pairs.columns) == ["source_l", "record_id_l", "source_r", "record_id_r", "match_probability", "dice"]
    assert pairs["match_probability"].min() >= 0.01 and scored.floor == 0.01
    assert (pairs["source_l"] == pairs["source_r"]).sum() > 100  # the calibration's control group
    assert pairs["dice"].min() < MEXICO_SPEC.threshold  # evidence below the linkage threshold
    truth = lists["person_id"].nunique()
    calibrated = impute_linkage(scored, ImputationSettings(n_imputations=10), seed=1)
    assert calibrated.diagnostics["calibration"]["method"] == "within-lists"
    assert abs(calibrated.persons().mean() / truth - 1) < 0.05
    # the mixture's own probabilities expect more between-list links than three lists of these sizes
    # can hold: refused rather than drawn (they merged far too many records)
    with pytest.raises(InputError, match=r"more than the .* these lists can hold"):
        impute_linkage(scored, ImputationSettings(n_imputations=10, calibration="none"), seed=1)
    with pytest.raises(InputError, match="keep_pairs_above"):
        link_encoded_scored(enc, keep_pairs_above=0.7)


def test_a_truth_sample_calibration_of_dice_imputes_encoded_lists_near_the_truth(lists: pd.DataFrame) -> None:
    """Dice calibrated on a simulated truth sample (other lists, seed 12, encoded under the same
    spec and key; ``calibrate(dice, labels, score="dice", within=...)``) and applied to these lists'
    pairs: the imputed linkages hold about as many persons as the truth (866), where the within-list
    calibration of the same pairs is off by more (docs/private-linkage.md). Pairs the calibration
    puts below the linkage's floor (0.01) are dropped, as the linkage drops them, and counted; a
    calibration of match weights is refused on Dice pairs with the fix."""
    from cifranegra.linkage.uncertainty import ImputationSettings, calibrate, impute_linkage

    def labelled(df: pd.DataFrame):  # type: ignore[no-untyped-def]
        _, scored = link_encoded_scored(_encode(df))
        person = dict(zip(zip(df["source"], df["record_id"].astype(str), strict=True), df["person_id"], strict=True))
        p = scored.pairs
        left = [person[k] for k in zip(p["source_l"], p["record_id_l"].astype(str), strict=True)]
        right = [person[k] for k in zip(p["source_r"], p["record_id_r"].astype(str), strict=True)]
        return scored, np.asarray(left) == np.asarray(right), (p["source_l"] == p["source_r"]).to_numpy()

    sample = simulate_lists(1500, 3, seed=12).sort_values("source", kind="stable").reset_index(drop=True)
    train, labels, within = labelled(sample)
    cal = calibrate(train.pairs["dice"], labels, score="dice", within=within)
    scored, _, _ = labelled(lists)
    truth = lists["person_id"].nunique()
    imps = impute_linkage(scored, ImputationSettings(n_imputations=10), seed=1, calibration=cal)
    diag = imps.diagnostics["calibration"]
    assert diag["method"] == "truth sample" and diag["score"] == "dice" and diag["pairs_dropped_below_floor"] > 1000
    err_truth_sample = abs(imps.persons().mean() / truth - 1)
    err_within = abs(impute_linkage(scored, ImputationSettings(n_imputations=10), seed=1).persons().mean() / truth - 1)
    assert err_truth_sample < 0.02 and err_truth_sample < err_within
    with pytest.raises(InputError, match="score='dice'"):
        impute_linkage(scored, ImputationSettings(n_imputations=2), seed=1,
                       calibration=calibrate(train.pairs["dice"], labels))


def test_records_of_unknown_sex_are_linked_under_the_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The simulator's base recording-error rates with sex not recorded on 15% of records (SESNSP
    leaves it unidentified for 9-23% of victims), read back through ingest: the default links nearly
    every true pair (recall 0.993 here), while clk-mx-2's sex salt loses about a quarter of them (0.757
    here; 0.734 over 12 seeds of 5,000 persons, docs/private-linkage.md, "clk-mx-3")."""
    from pathlib import Path

    from cifranegra.datasets.synthetic import simulate
    from cifranegra.datasets.synthetic.profiles import RecordingErrors
    from cifranegra.ingest import read_list
    from cifranegra.linkage.private import MEXICO_SPEC_2

    sim = simulate(n_persons=1500, n_agencies=3, seed=5, errors=RecordingErrors(unknown_sex=0.15))
    manifest = sim.write(tmp_path, persons=False)
    frames = []
    for entry in manifest["lists"]:  # type: ignore[index]
        mapping = str(Path(tmp_path) / entry["mapping"]) if entry.get("mapping") else None
        frames.append(read_list(Path(tmp_path) / entry["file"], mapping, entry["source"], on_error="report")[0])
    records = pd.concat(frames, ignore_index=True)
    assert (records["sex"].astype(str) == "unknown").mean() > 0.1
    truth = sim.truth.assign(record_id=sim.truth["record_id"].astype(str))
    person = dict(zip(zip(truth["source"], truth["record_id"], strict=True), truth["person_id"], strict=True))
    recall = {}
    for spec in (MEXICO_SPEC, MEXICO_SPEC_2):
        encs = [encode_records(g, SECRET, PROJECT, spec) for _, g in records.groupby("source", sort=True)]
        ent = link_encoded(encs)
        labels = np.array([person[(s, r)] for s, r in zip(ent["source"], ent["record_id"].astype(str), strict=True)])
        recall[spec.version] = _pair_f1(ent, labels)[1]
    assert recall["clk-mx-3"] > 0.95 and recall["clk-mx-2"] < 0.85, recall
