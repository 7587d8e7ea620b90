"""Link encoded lists into the shared entities table.

Candidate pairs come from the blocking signatures (records sharing any signature) or, with
``blocking=False``, from comparing every pair with the popcount kernel. Pairs are scored by Dice
similarity on the encodings and accepted at ``threshold``. Clusters are formed greedily from the
best-scoring pair down, refusing a merge that would put two records of the same list in one entity
(the one-record-per-person-per-list assumption of multiple systems estimation; the greedy solver of
anonlink, Hall et al. 2016 / Data61); with ``one_per_source=False`` plain connected components are
used. The output is exactly the entities table of the plaintext linkage, so the pipeline can pass
it to ``CaptureHistories.from_entities`` unchanged.

``match_probability`` is the posterior probability of a match given the Dice score, from a
two-component Gaussian mixture fitted by EM to the candidate scores (a one-dimensional
Fellegi–Sunter-style model on the only comparison an encoding allows); a record's value is the
best posterior among the accepted links that placed it in its entity, and 1.0 for singletons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
import pandas as pd

from cifranegra._names import as_items
from cifranegra.errors import InputError
from cifranegra.linkage.private.blocking import block_column
from cifranegra.linkage.private.encode import EncodedList
from cifranegra.linkage.private.similarity import all_pairs_above, dice_pairs, popcounts
from cifranegra.linkage.private.strata_rule import NoStrataModel, StrataRule, fit_strata_model

if TYPE_CHECKING:
    from cifranegra.linkage.uncertainty import ScoredLinkage

_MAX_BLOCK = 5_000  # a signature shared by more records than this is too coarse to block on
_EM_MAX = 20_000  # scores used by EM at most (a fixed-seed subsample beyond)


@dataclass(frozen=True)
class ScoredPairs:
    """Candidate pairs (indices into the stacked records) with their Dice scores."""

    i: np.ndarray
    j: np.ndarray
    dice: np.ndarray


def _check_same_key(lists: Sequence[EncodedList]) -> None:
    """Every list was encoded under one secret and project salt (the same key check).

    The lists are grouped by key check, so that the message names the list(s) that differ from the
    others rather than whichever came second: when the first list is the odd one out, "re-encode list
    2" would send the wrong agency to re-encode (and fail again)."""
    groups: dict[str, list[str]] = {}
    for k, enc in enumerate(lists, start=1):
        groups.setdefault(enc.key_check, []).append(f"{k} ({', '.join(enc.sources)})")
    if len(groups) < 2:
        return
    ranked = sorted(groups.values(), key=len, reverse=True)
    if len(ranked[0]) > len(ranked[1]):
        odd = [name for g in ranked[1:] for name in g]
        raise InputError(
            f"encoded list(s) {', '.join(odd)} were encoded with a different secret or project salt than "
            f"the other {len(ranked[0])} list(s) ({', '.join(ranked[0])}); their encodings cannot match. "
            "Ask those agencies to re-encode with the study's shared secret and project name."
        )
    sets = "; ".join(" and ".join(g) for g in ranked)
    raise InputError(
        f"the encoded lists fall into {len(ranked)} groups, each encoded with a different secret or project "
        f"salt (lists {sets}); their encodings cannot match. Find out which secret and project name are the "
        "study's and have the other agencies re-encode with them."
    )


def _stack(lists: Sequence[EncodedList]) -> tuple[pd.DataFrame, np.ndarray]:
    if not lists:
        raise InputError("no encoded lists to link")
    first = lists[0]
    for k, enc in enumerate(lists[1:], start=2):
        if enc.spec.version != first.spec.version:
            raise InputError(
                f"encoded list {k} ({', '.join(enc.sources)}) uses encoding spec {enc.spec.version} but "
                f"list 1 ({', '.join(first.sources)}) uses {first.spec.version}: encodings of different "
                "spec versions cannot be linked. Re-encode every list with the same cifranegra version "
                "(cifranegra encode writes the spec version of the installed release)."
            )
        if enc.spec.fingerprint() != first.spec.fingerprint():
            raise InputError(
                f"encoded list {k} uses spec {enc.spec.version} ({enc.spec.fingerprint()}) but list 1 "
                f"uses {first.spec.version} ({first.spec.fingerprint()}): same name, different settings; "
                "every agency must encode with the same spec (the same cifranegra version and options)"
            )
    _check_same_key(lists)
    records = pd.concat([e.records for e in lists], ignore_index=True)
    clks = np.concatenate([e.clks for e in lists], axis=0)
    dup = records.duplicated(["source", "record_id"], keep=False)
    if dup.any():
        first_dup = records.loc[dup].iloc[0]
        raise InputError(
            f"{int(dup.sum())} records share a (source, record_id) with another, e.g. source "
            f"{first_dup['source']!r} record {first_dup['record_id']!r}; each list must have unique "
            "record ids and each agency its own source name"
        )
    return records, clks


def _blocked_candidates(
    records: pd.DataFrame, block_names: Sequence[str], within: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(records)
    source_codes = pd.factorize(records["source"])[0]
    keys: list[np.ndarray] = []
    for name in block_names:
        col = block_column(name)
        if col not in records.columns:
            continue
        codes, _ = pd.factorize(records[col], use_na_sentinel=True)
        valid = np.flatnonzero(codes >= 0)
        if len(valid) < 2:
            continue
        order = valid[np.argsort(codes[valid], kind="stable")]
        sorted_codes = codes[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(order)]))
        sizes = ends - starts
        for s, e in zip(starts[sizes >= 2], ends[sizes >= 2], strict=True):
            if e - s > _MAX_BLOCK:
                continue
            members = order[s:e]
            a, b = np.triu_indices(len(members), 1)
            ia, ib = members[a], members[b]
            keys.append(np.minimum(ia, ib) * n + np.maximum(ia, ib))
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    pair_keys = np.unique(np.concatenate(keys))
    i, j = pair_keys // n, pair_keys % n
    if not within:
        keep = source_codes[i] != source_codes[j]
        i, j = i[keep], j[keep]
    return i, j


def score_pairs(
    lists: Sequence[EncodedList],
    *,
    blocking: bool = True,
    floor: float = 0.0,
    within_sources: bool = False,
) -> tuple[pd.DataFrame, ScoredPairs]:
    """Stack the lists and score candidate pairs; keeps pairs with Dice ≥ ``floor``.

    Returns the stacked records (source, record_id, blocks, strata) and the scored pairs (indices
    into them, ``i < j``).
    """
    records, clks = _stack(lists)
    words = np.ascontiguousarray(clks).view(np.uint64)
    if blocking and lists[0].spec.blocks:
        i, j = _blocked_candidates(records, [b.name for b in lists[0].spec.blocks], within_sources)
        dice = dice_pairs(words, words, i, j)
        keep = dice >= floor
        return records, ScoredPairs(i[keep], j[keep], dice[keep])
    source_codes = pd.factorize(records["source"])[0]
    if within_sources:
        i, j, dice = all_pairs_above(words, words, floor, same=True)
        return records, ScoredPairs(i, j, dice)
    parts_i, parts_j, parts_s = [], [], []
    groups = [np.flatnonzero(source_codes == c) for c in range(source_codes.max() + 1)]
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            ga, gb = groups[a], groups[b]
            ii, jj, ss = all_pairs_above(words[ga], words[gb], floor)
            gi, gj = ga[ii], gb[jj]
            parts_i.append(np.minimum(gi, gj))
            parts_j.append(np.maximum(gi, gj))
            parts_s.append(ss)
    if not parts_i:
        empty = np.zeros(0, dtype=np.int64)
        return records, ScoredPairs(empty, empty, np.zeros(0))
    return records, ScoredPairs(np.concatenate(parts_i), np.concatenate(parts_j), np.concatenate(parts_s))


def match_posterior(
    scores: np.ndarray,
    threshold: float,
    *,
    weights: np.ndarray | None = None,
    at: np.ndarray | None = None,
    max_iter: int = 100,
) -> np.ndarray:
    """P(match | Dice) from a two-component Gaussian mixture fitted by weighted EM to ``scores``.

    ``weights`` let a random sample stand for many pairs (the background of non-matches when every
    pair is compared); the posterior is evaluated at ``at`` (default: ``scores``). Falls back to a
    steep logistic centred on ``threshold`` when the scores cannot support a mixture (too few, or
    one component only). Made monotone in the score.
    """
    s = np.asarray(scores, dtype=np.float64)
    wt = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64)
    x = s if at is None else np.asarray(at, dtype=np.float64)
    if len(s) > _EM_MAX:  # a fixed-seed subsample keeps EM cheap and the result reproducible
        pick = np.random.default_rng(0).choice(len(s), _EM_MAX, replace=False)
        wt = wt[pick] * (wt.sum() / wt[pick].sum())
        s = s[pick]
    fallback = 1.0 / (1.0 + np.exp(-(x - threshold) / 0.02))
    below, above = s < threshold, s >= threshold
    if len(s) < 20 or above.sum() < 5 or below.sum() < 5:
        return fallback
    mu = np.array([np.average(s[below], weights=wt[below]), np.average(s[above], weights=wt[above])])
    sd = np.array([0.05, 0.05])
    w = np.array([wt[below].sum(), wt[above].sum()]) / wt.sum()
    for _ in range(max_iter):
        dens = w / sd * np.exp(-0.5 * ((s[:, None] - mu) / sd) ** 2)
        total = dens.sum(axis=1, keepdims=True)
        total[total == 0] = 1e-300
        resp = dens / total * wt[:, None]
        nk = resp.sum(axis=0)
        if np.any(nk <= 1e-9):
            return fallback
        new_mu = (resp * s[:, None]).sum(axis=0) / nk
        sd = np.sqrt((resp * (s[:, None] - new_mu) ** 2).sum(axis=0) / nk).clip(0.005)
        w = nk / nk.sum()
        converged = np.allclose(new_mu, mu, atol=1e-6)
        mu = new_mu
        if converged:
            break
    if mu[1] <= mu[0]:
        return fallback
    dens = w / sd * np.exp(-0.5 * ((x[:, None] - mu) / sd) ** 2)
    total = dens.sum(axis=1)
    total[total == 0] = 1e-300
    post = np.where(x < mu[0], 0.0, dens[:, 1] / total)
    post = np.where((x > mu[1]) & (total <= 1e-300), 1.0, post)
    # Gaussian tails can make the posterior fall again far above the match mean: make it monotone
    order = np.argsort(x, kind="stable")
    monotone = np.empty_like(post)
    monotone[order] = np.maximum.accumulate(post[order])
    return np.clip(monotone, 0.0, 1.0)


def _background(lists: Sequence[EncodedList], n_sample: int = 10_000) -> tuple[np.ndarray, float]:
    """Dice scores of a fixed-seed random sample of cross-list pairs, and how many pairs exist."""
    records, clks = _stack(lists)
    words = np.ascontiguousarray(clks).view(np.uint64)
    codes = pd.factorize(records["source"])[0]
    rng = np.random.default_rng(0)
    i = rng.integers(0, len(records), n_sample)
    j = rng.integers(0, len(records), n_sample)
    keep = codes[i] != codes[j]
    i, j = i[keep], j[keep]
    sizes = np.bincount(codes)
    total = (sizes.sum() ** 2 - (sizes**2).sum()) / 2.0
    return dice_pairs(words, words, i, j), float(total)


def mixture_threshold(
    lists: Sequence[EncodedList],
    *,
    blocking: bool = True,
    quantile: float = 0.999,
    n_background: int = 20_000,
) -> float | None:
    """The Dice score at which P(match | Dice), from a two-component mixture fitted by EM to the
    scores, reaches 1/2: a threshold chosen without labels.

    A fixed-seed random sample of ``n_background`` cross-list pairs (almost all non-matches) sets a
    floor at its ``quantile``; the mixture is fitted to every cross-list candidate pair at or above
    the floor (from the blocking signatures when ``blocking`` and the spec has any, else every pair)
    and to the sample below it, weighted to stand for all cross-list pairs; EM starts from a split
    halfway between the sample's median and the best score. Returns None when the scores cannot
    support a mixture (fewer than two lists, or too few pairs above the floor).
    """
    records, _ = _stack(lists)
    codes = pd.factorize(records["source"])[0]
    if codes.max(initial=0) < 1:
        return None
    sample, total = _background(lists, 2 * n_background)
    if len(sample) < 100:
        return None
    floor = float(np.quantile(sample, quantile))
    _, pairs = score_pairs(lists, blocking=blocking, floor=floor)
    if len(pairs.dice) < 20:
        return None
    low = sample[sample < floor]
    scores = np.concatenate([low, pairs.dice])
    weights = np.concatenate([np.full(len(low), max(total - len(pairs.dice), 1.0) / max(len(low), 1)),
                              np.ones(len(pairs.dice))])
    start = (float(np.median(sample)) + float(pairs.dice.max())) / 2
    grid = np.linspace(floor, 1.0, 1001)
    posterior = match_posterior(scores, start, weights=weights, at=grid)
    if not (posterior >= 0.5).any() or posterior[0] >= 0.5:
        return None
    return float(grid[np.argmax(posterior >= 0.5)])


@numba.njit(cache=True)
def _greedy_kernel(n, source_bits, i, j, order, force, one_per_source):  # type: ignore[no-untyped-def]
    parent = np.arange(n)
    bits = source_bits.copy()
    accepted = np.zeros(len(i), dtype=np.bool_)
    for t in order:
        ra = i[t]
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = j[t]
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb:
            accepted[t] = True
            continue
        if one_per_source and not force[t] and (bits[ra] & bits[rb]) != 0:
            continue
        parent[rb] = ra
        bits[ra] |= bits[rb]
        accepted[t] = True
    roots = np.empty(n, dtype=np.int64)
    for x in range(n):
        r = x
        while parent[r] != r:
            r = parent[r]
        roots[x] = r
    return roots, accepted


def _greedy_clusters(
    n: int,
    source_codes: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    dice: np.ndarray,
    one_per_source: bool,
    force: np.ndarray | None = None,
    rank: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Union–find over pairs taken best first; returns (root per record, accepted-pair mask).

    Pairs flagged in ``force`` (within-list duplicates) are taken first and always merged. The others
    are taken by ``rank`` (when given: the match probability), then by Dice. A merge is refused when
    ``one_per_source`` and both clusters already hold a record of the same list (lists are bits of a
    64-bit mask, so at most 64 lists are linked at once).
    """
    if source_codes.max(initial=0) >= 64:
        raise InputError("at most 64 lists can be linked at once")
    forced = np.zeros(len(i), dtype=bool) if force is None else np.asarray(force, dtype=bool)
    keys = (j, i, -dice, ~forced) if rank is None else (j, i, -dice, -np.asarray(rank, dtype=np.float64), ~forced)
    order = np.lexsort(keys).astype(np.int64)
    source_bits = np.left_shift(np.int64(1), source_codes.astype(np.int64))
    return _greedy_kernel(
        int(n), source_bits, i.astype(np.int64), j.astype(np.int64), order, forced, bool(one_per_source)
    )


def link_encoded(
    lists: EncodedList | Sequence[EncodedList],
    *,
    threshold: float | str | None = None,
    dedupe_threshold: float | None = None,
    blocking: bool = True,
    one_per_source: bool = True,
    strata: Sequence[str] | None = None,
    compare_strata: bool | Sequence[str] = True,
) -> pd.DataFrame:
    """Link encoded lists into the entities table.

    ``lists``: the agencies' :class:`EncodedList` (same spec, secret and project; checked).
    ``threshold``: Dice similarity at which two records of different lists are the same person
    (default: the spec's), or ``"mixture"``: fitted without labels (:func:`mixture_threshold`),
    falling back to the spec's when the scores cannot support a mixture. The threshold used and its
    origin are reported in ``entities.attrs`` (``threshold``, ``threshold_source``,
    ``dedupe_threshold``). ``dedupe_threshold``: Dice similarity at which two
    records of the same list are duplicates of one person (default: the spec's, 0.75 for
    ``clk-mx-1``; a value above 1 never merges within a list). ``blocking``: candidate pairs from
    the blocking signatures (False: compare every pair). ``one_per_source``: apart from those
    duplicates, never put two records of one list in the same entity (greedy, best pairs first).
    ``strata``: stratum columns to carry (default: all carried in the encoded files).
    ``compare_strata``: weigh, with the Dice score, whether two records of different lists agree on
    the strata the files carry in clear (:mod:`.strata_rule`): ``True`` (default) the spec's rule
    (:data:`STRATA_RULES`; for ``clk-mx-3``: state and form of exploitation, pairs linked at Dice ≥
    0.62 when P(match | Dice, fill ratio, strata) ≥ 0.2), ``False`` the Dice score alone, or the
    columns to compare. With the rule, ``threshold`` (given) is the lowest Dice linked. When the lists do not
    carry the columns, or the model cannot be fitted, linking falls back to the Dice score alone at
    the spec's threshold; ``entities.attrs["linkage_rule"]`` says which rule linked and what the
    model learned.

    Returns one row per record: ``source``, ``record_id``, ``entity_id`` (int64, 0..m-1 in order of
    first appearance), ``match_probability``, then the stratum columns.
    """
    return _link(lists, threshold, dedupe_threshold, blocking, one_per_source, strata, None, compare_strata)[0]


def link_encoded_scored(
    lists: EncodedList | Sequence[EncodedList],
    *,
    threshold: float | str | None = None,
    dedupe_threshold: float | None = None,
    blocking: bool = True,
    one_per_source: bool = True,
    strata: Sequence[str] | None = None,
    keep_pairs_above: float = 0.01,
    compare_strata: bool | Sequence[str] = True,
) -> tuple[pd.DataFrame, ScoredLinkage]:
    """:func:`link_encoded`, and the evidence for linkage imputation: every pair of records (of two
    lists or of one) whose match probability is at least ``keep_pairs_above``, the probability being
    P(match | Dice) from the same two-component mixture the linkage fitted (:func:`match_posterior`).

    Pairs are scored again for this, down to the Dice score where that probability reaches
    ``keep_pairs_above`` and within lists too (the within-list pairs are the control group of
    :func:`~cifranegra.linkage.uncertainty.calibrate_within_lists`). Returns the entities table (the
    same as :func:`link_encoded`'s) and a :class:`~cifranegra.linkage.uncertainty.ScoredLinkage`
    whose pairs carry ``source_l``, ``record_id_l``, ``source_r``, ``record_id_r``,
    ``match_probability`` and ``dice``. The evidence's probabilities come from the Dice score alone
    (the imputation draws links from them), whichever rule formed the entities.
    """
    if isinstance(keep_pairs_above, bool) or not isinstance(keep_pairs_above, (int, float)) or not (
        0.0 < float(keep_pairs_above) <= 0.5
    ):
        raise InputError(f"keep_pairs_above must be above 0 and at most 0.5 (a probability), not {keep_pairs_above!r}")
    entities, scored = _link(lists, threshold, dedupe_threshold, blocking, one_per_source, strata,
                             float(keep_pairs_above), compare_strata)
    assert scored is not None
    return entities, scored


def _link(
    lists: EncodedList | Sequence[EncodedList],
    threshold: float | str | None,
    dedupe_threshold: float | None,
    blocking: bool,
    one_per_source: bool,
    strata: Sequence[str] | None,
    keep_pairs_above: float | None,
    compare_strata: bool | Sequence[str] = True,
) -> tuple[pd.DataFrame, ScoredLinkage | None]:
    from cifranegra.linkage.uncertainty import ScoredLinkage

    if isinstance(lists, EncodedList):
        lists = [lists]
    if not lists:
        raise InputError("no encoded lists to link")
    spec = lists[0].spec
    given = threshold is not None
    threshold, threshold_source = _resolve_threshold(lists, threshold, blocking)
    dedupe = spec.dedupe_threshold if dedupe_threshold is None else float(dedupe_threshold)
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"the Dice threshold must be in (0, 1], got {threshold}")
    if dedupe <= 0.0:
        raise InputError(f"the dedupe threshold must be positive (above 1: never), got {dedupe}")
    rule, columns, rule_note = _strata_plan(lists, compare_strata)
    dice_only_threshold = threshold
    if rule is not None and not given:
        threshold, threshold_source = rule.dice, f"spec {spec.version} (Dice and strata)"
    within = dedupe <= 1.0 or not one_per_source
    floor = min(threshold, dedupe) if within else threshold
    if rule is not None:
        floor = min(floor, rule.floor)
    use_blocks = bool(blocking and spec.blocks)
    if use_blocks:
        records, pairs = score_pairs(lists, blocking=True, floor=0.0, within_sources=within)
        keep = pairs.dice >= floor
        fit, weights = pairs.dice, None
    else:
        records, pairs = score_pairs(lists, blocking=False, floor=floor, within_sources=within)
        keep = np.ones(len(pairs.dice), dtype=bool)
        background, n_pairs = _background(lists)
        low = background[background < threshold]
        fit = np.concatenate([low, pairs.dice])
        weights = np.concatenate([np.full(len(low), max(n_pairs - len(pairs.dice), 1.0) / max(len(low), 1)),
                                  np.ones(len(pairs.dice))])
    posterior = match_posterior(fit, dice_only_threshold, weights=weights, at=pairs.dice[keep])
    n = len(records)
    i, j, dice, post = pairs.i[keep], pairs.j[keep], pairs.dice[keep], posterior
    source_codes = pd.factorize(records["source"])[0]
    same = source_codes[i] == source_codes[j]
    rule_info: dict[str, object] = {"rule": "dice", "why": rule_note}
    strata_ok = np.ones(len(i), dtype=bool)
    rank: np.ndarray | None = None
    if rule is not None:
        fit_floor = min(rule.floor, threshold)
        cand = ~same & (dice >= fit_floor)
        fill = None
        if rule.fill_edges:
            ones = popcounts(np.concatenate([e.clks for e in lists]).view(np.uint64)).astype(np.float64)
            ci, cj = i[cand], j[cand]
            fill = np.minimum(ones[ci], ones[cj]) / np.maximum(np.maximum(ones[ci], ones[cj]), 1.0)
        try:
            model = fit_strata_model(records, i[cand], j[cand], dice[cand], columns, floor=fit_floor,
                                     start=spec.threshold, bins=rule.bins, fill=fill, fill_edges=rule.fill_edges)
        except NoStrataModel as why:
            rule_info["why"] = f"the Dice-and-strata model could not be fitted: {why}; linked on the Dice score alone"
            if not given:
                threshold, threshold_source = dice_only_threshold, f"spec {spec.version} (Dice alone: no strata model)"
        else:
            post = post.copy()
            post[cand] = model.posterior  # between-list pairs outside cand lie below the threshold: never linked
            strata_ok = same | (post >= rule.posterior)
            rank = np.where(same, 1.0, post)
            rule_info = {"rule": "dice+strata", "dice_min": threshold, "posterior_min": rule.posterior,
                         "floor": fit_floor, "fill_edges": list(rule.fill_edges), **model.summary()}
    if one_per_source:
        usable = np.where(same, dice >= dedupe, (dice >= threshold) & strata_ok)
        force = same[usable]
    else:
        usable = (dice >= threshold) & strata_ok
        force = None
    i, j, dice, post = i[usable], j[usable], dice[usable], post[usable]
    roots, accepted = _greedy_clusters(n, source_codes, i, j, dice, one_per_source, force,
                                       None if rank is None else rank[usable])
    _, entity = np.unique(roots, return_inverse=True)
    # renumber entities by first appearance
    first_seen = pd.unique(entity)
    remap = np.empty(len(first_seen), dtype=np.int64)
    remap[first_seen] = np.arange(len(first_seen))
    entity_id = remap[entity].astype(np.int64)
    prob = np.zeros(n, dtype=np.float64)
    np.maximum.at(prob, i[accepted], post[accepted])
    np.maximum.at(prob, j[accepted], post[accepted])
    sizes = np.bincount(entity_id)
    prob[sizes[entity_id] == 1] = 1.0
    out = pd.DataFrame(
        {
            "source": records["source"].astype("string").to_numpy(),
            "record_id": records["record_id"].astype("string").to_numpy(),
            "entity_id": entity_id,
            "match_probability": prob,
        }
    )
    carried = list(lists[0].spec.strata) if strata is None else as_items(strata)
    for col in carried:
        if col in records.columns:
            out[col] = records[col].to_numpy()
        elif strata is not None:
            raise InputError(f"stratum column {col!r} is not in the encoded lists")
    out.attrs["threshold"] = threshold
    out.attrs["threshold_source"] = threshold_source
    out.attrs["dedupe_threshold"] = dedupe
    out.attrs["linkage_rule"] = rule_info
    if keep_pairs_above is None:
        return out, None
    # the evidence: every pair (within lists too) down to where P(match | Dice) reaches keep_pairs_above
    grid = np.linspace(0.0, 1.0, 2001)
    on_grid = match_posterior(fit, dice_only_threshold, weights=weights, at=grid)
    reach = np.flatnonzero(on_grid >= keep_pairs_above)
    lowest = float(grid[reach[0]]) if reach.size else 1.0
    _, scored = score_pairs(lists, blocking=use_blocks, floor=lowest, within_sources=True)
    prob = match_posterior(fit, dice_only_threshold, weights=weights, at=scored.dice)
    kept = prob >= keep_pairs_above
    src = records["source"].astype(str).to_numpy()
    rid = records["record_id"].astype(str).to_numpy()
    si, sj = scored.i[kept], scored.j[kept]
    table = pd.DataFrame({"source_l": src[si], "record_id_l": rid[si], "source_r": src[sj], "record_id_r": rid[sj],
                          "match_probability": prob[kept], "dice": scored.dice[kept]})
    return out, ScoredLinkage(out, table, float(keep_pairs_above), None, "private (encoded, Bloom filters)")


#: The strata rule of each spec version that has one (:mod:`.strata_rule`); a spec without one links on
#: the Dice score alone. ``clk-mx-3``'s was chosen on simulator seeds 30-49 and reported on seeds 3-14
#: (docs/private-linkage.md, "Dice and strata").
STRATA_RULES: dict[str, StrataRule] = {
    "clk-mx-3": StrataRule(columns=("state", "exploitation"), floor=0.60, dice=0.62, posterior=0.2, bins=20,
                           fill_edges=(0.8, 0.9)),
}


def _strata_plan(
    lists: Sequence[EncodedList], compare_strata: bool | Sequence[str]
) -> tuple[StrataRule | None, tuple[str, ...], str]:
    """The strata rule to link with (None: the Dice score alone), its columns, and why."""
    spec = lists[0].spec
    if compare_strata is False:
        return None, (), "compare_strata = false"
    if compare_strata is True:
        wanted: tuple[str, ...] | None = None
    else:
        items = as_items(compare_strata) if isinstance(compare_strata, (str, list, tuple)) else None
        if not items or not all(isinstance(c, str) and c.strip() for c in items):
            raise InputError("compare_strata must be true, false or a list of stratum columns carried by the "
                             f"encoded lists (e.g. [\"state\", \"exploitation\"]); got {compare_strata!r}")
        wanted = tuple(dict.fromkeys(c.strip() for c in items))  # a column named twice counts once
    rule = STRATA_RULES.get(spec.version)
    if rule is None:
        if wanted is not None:
            raise InputError(f"encoding spec {spec.version} has no rule for comparing strata (only "
                             f"{', '.join(sorted(STRATA_RULES))} has); set compare_strata = false or re-encode "
                             "with the current cifranegra version")
        return None, (), f"spec {spec.version} has no strata rule"
    carried = [set(e.records.columns) for e in lists]
    if wanted is not None:
        missing = [c for c in wanted if not all(c in cols for cols in carried)]
        if missing:
            raise InputError(f"compare_strata names {', '.join(repr(c) for c in missing)}, which not every "
                             "encoded list carries; compare only stratum columns every list has "
                             f"(they carry: {', '.join(sorted(set.intersection(*carried) - {'source', 'record_id'}))})")
        return dataclasses.replace(rule, columns=wanted), wanted, "compare_strata: the columns given"
    present = tuple(c for c in rule.columns if all(c in cols for cols in carried))
    if not present:
        return None, (), f"the encoded lists carry none of {', '.join(rule.columns)}"
    return rule, present, f"spec {spec.version}'s strata rule"


def _resolve_threshold(
    lists: Sequence[EncodedList], threshold: float | str | None, blocking: bool
) -> tuple[float, str]:
    """The cross-list Dice threshold to use and where it came from (reported with the entities)."""
    spec = lists[0].spec
    if threshold is None:
        return spec.threshold, f"spec {spec.version}"
    if isinstance(threshold, str):
        if threshold.strip().lower() != "mixture":
            raise InputError(f'the linkage threshold must be a Dice score in (0, 1] or "mixture" (fitted '
                             f'from the scores, no labels needed); got {threshold!r}')
        fitted = mixture_threshold(lists, blocking=blocking and bool(spec.blocks))
        if fitted is None:
            return spec.threshold, (f"spec {spec.version} (the mixture could not be fitted: too few "
                                    "records or no clear group of matches)")
        return fitted, "mixture"
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise InputError(f'the linkage threshold must be a Dice score in (0, 1] or "mixture"; got {threshold!r}')
    return float(threshold), "given"
