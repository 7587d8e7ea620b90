"""Link K agency lists at once (link and dedupe) with Splink, and cluster records into persons.

Method: the Fellegi–Sunter model as implemented by Splink (Linacre et al. 2022,
https://moj-analytical-services.github.io/splink): u probabilities from random record pairs
(seeded), prior match probability from deterministic rules with an assumed recall, m probabilities
by expectation–maximisation on two complementary blocks, term-frequency adjustments for common
names (Hernández, García, Martínez, López…), pairs scored within the blocking rules, and persons as
connected components of the pairs at or above the threshold. Training and scoring (the engine
part) are in :mod:`cifranegra.linkage.scoring`; this module prepares the records, checks what can
be checked before an engine starts, and turns the scored pairs into persons.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cifranegra.errors import InputError
from cifranegra.linkage.comparisons import (
    build_blocking_rules,
    build_comparisons,
    count_blocked_pairs,
    training_plan,
)
from cifranegra.linkage.prepare import STRATUM_COLUMNS, prepare_records, usable_identifier_mask
from cifranegra.linkage.scoring import Progress, pairs_floor, score_with_splink
from cifranegra.linkage.settings import LinkageSettings
from cifranegra.linkage.workdir import check_work_dir

#: Columns of every entities table, whatever linkage produced it.
ENTITY_COLUMNS = ("source", "record_id", "entity_id", "match_probability")


@dataclass(frozen=True)
class LinkageResult:
    """What a linkage run produced.

    Attributes
    ----------
    entities:
        One row per input record: ``source``, ``record_id``, ``entity_id`` (int64; same id = same
        person), ``match_probability`` (highest probability linking the record to another member of
        its cluster; 1.0 for singletons) and the stratum columns carried from the records.
    pairs:
        Scored record pairs with ``match_probability`` ≥ min(threshold, keep_pairs_above) (the
        evidence for :mod:`cifranegra.linkage.uncertainty`): ``source_l``,
        ``record_id_l``, ``source_r``, ``record_id_r``, ``match_probability``, ``match_weight``.
    settings:
        The :class:`LinkageSettings` used.
    model:
        The trained Splink model (settings dict with m and u probabilities), JSON-ready.
    diagnostics:
        Counts: records, records without identifiers, pairs scored, links, entities, per-list sizes.
    """

    entities: pd.DataFrame
    pairs: pd.DataFrame
    settings: LinkageSettings
    model: dict[str, Any]
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def entities_at(self, threshold: float) -> pd.DataFrame:
        """Entities re-clustered at another threshold from the stored pairs, for sensitivity; the
        threshold must be at least the lowest probability kept (``keep_pairs_above``)."""
        floor = pairs_floor(self.settings)
        threshold = _threshold(threshold)
        if threshold < floor:
            raise InputError(
                f"pairs below {floor} were not kept; choose a threshold at least that high, not "
                f"{threshold} (or link again with a lower keep_pairs_above)"
            )
        base = self.entities.drop(columns=["entity_id", "match_probability"])
        return cluster_pairs(base, self.pairs, threshold)

    def to_dict(self) -> dict[str, Any]:
        """Settings, model and diagnostics (not the tables), JSON-ready."""
        return {
            "settings": self.settings.to_dict(),
            "model": self.model,
            "diagnostics": self.diagnostics,
        }


def _threshold(value: object) -> float:
    """A match-probability threshold: a number in (0, 1]. Above 1 (or NaN) every record stood alone,
    silently; text or None escaped as TypeError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
        0.0 < float(value) <= 1.0
    ):
        raise InputError(f"the threshold must be a match probability above 0 and at most 1, not {value!r}")
    return float(value)


def cluster_pairs(records: pd.DataFrame, pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Connected components of the pairs at or above ``threshold``, as an entities table.

    ``records`` needs ``source`` and ``record_id``; ``pairs`` needs ``source_l``, ``record_id_l``,
    ``source_r``, ``record_id_r`` and ``match_probability``. Entity ids number the clusters in the
    order of their first record, so they are the same on any engine.
    """
    threshold = _threshold(threshold)
    pair_columns = ("source_l", "record_id_l", "source_r", "record_id_r", "match_probability")
    missing = [c for c in ("source", "record_id") if c not in records.columns] + [
        c for c in pair_columns if c not in pairs.columns]
    if missing:
        raise InputError(f"cluster_pairs needs the column(s) {', '.join(missing)} (records: source, record_id; "
                         "pairs: source_l, record_id_l, source_r, record_id_r, match_probability)")
    out = records.reset_index(drop=True).copy()
    n = len(out)
    key = pd.MultiIndex.from_arrays([out["source"].astype(str), out["record_id"].astype(str)])
    if not key.is_unique:
        raise InputError("(source, record_id) must identify each record once")
    strong = pairs[pairs["match_probability"] >= threshold]
    li = key.get_indexer(
        pd.MultiIndex.from_arrays([strong["source_l"].astype(str), strong["record_id_l"].astype(str)])
    )
    ri = key.get_indexer(
        pd.MultiIndex.from_arrays([strong["source_r"].astype(str), strong["record_id_r"].astype(str)])
    )
    ok = (li >= 0) & (ri >= 0)
    li, ri = li[ok], ri[ok]
    prob = strong["match_probability"].to_numpy(float)[ok]
    graph = coo_matrix((np.ones(len(li)), (li, ri)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # renumber clusters by first appearance
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    # record membership: the best link to another member (edges join members of one component)
    best = np.zeros(n)
    np.maximum.at(best, li, prob)
    np.maximum.at(best, ri, prob)
    out["entity_id"] = remap[labels[np.arange(n)]].astype("int64")
    out["match_probability"] = np.where(best > 0, best, 1.0)
    cols = list(ENTITY_COLUMNS) + [c for c in out.columns if c not in ENTITY_COLUMNS]
    return out[cols]


def carried_columns(records: pd.DataFrame, carry: tuple[str, ...] | None = None) -> pd.DataFrame:
    """``source``, ``record_id`` and the stratum columns of the records (``year`` from the
    registration date when there is no ``year`` column)."""
    if carry is None:
        carry = STRATUM_COLUMNS  # those the records have
    else:  # named by the caller: each must be there (a misspelt one vanished, its stratum with it)
        if isinstance(carry, str) or not all(isinstance(c, str) for c in carry):
            raise InputError(f"carry must be a sequence of column names, such as ('sex', 'state'), not {carry!r}")
        absent = [c for c in carry if c not in records.columns
                  and not (c == "year" and "registration_date" in records.columns)]
        if absent:
            raise InputError(f"carry names column(s) the records do not have: {', '.join(map(repr, absent))}")
    missing = [c for c in ("source", "record_id") if c not in records.columns]
    if missing:
        raise InputError(f"the records have no {' or '.join(missing)} column; read them with "
                         "cifranegra.ingest.read_lists")
    out = pd.DataFrame({"source": records["source"].astype(str), "record_id": records["record_id"].astype(str)})
    for c in carry:
        if c in records.columns:
            out[c] = records[c].to_numpy()
        elif c == "year" and "registration_date" in records.columns:
            reg = pd.to_datetime(records["registration_date"], errors="coerce")
            out["year"] = reg.dt.year.astype("Int64").to_numpy()
    return out.reset_index(drop=True)


#: Below this many record pairs a warning says the lists are small (links may be missed).
SMALL_LISTS_PAIRS = 500


class LinkageWarning(UserWarning):
    """Linkage finished, but the user should know how: parts of the model fixed instead of
    estimated (small lists), or no two records linked at all."""


def link_records(
    records: pd.DataFrame,
    settings: LinkageSettings | Mapping[str, Any] | None = None,
    *,
    carry: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    spark: Any = None,
) -> LinkageResult:
    """Link and deduplicate the agency lists in ``records`` (a Records frame) at once.

    ``settings`` default to :class:`LinkageSettings` (DuckDB, threshold 0.5). ``carry`` names the
    record columns copied into the entities table (default: year, sex, age_group, state,
    exploitation, when present). ``progress`` is called with the name of each step. ``spark`` is an
    existing SparkSession for ``engine = "spark"``.

    Every record comes back in the entities table, in the records' order; records with no
    identifier at all stay alone (counted in ``diagnostics["records_without_identifiers"]``).
    """
    from splink import SettingsCreator

    if isinstance(settings, Mapping):  # a project file's [linkage] table, checked as the project's is
        settings = LinkageSettings.from_dict(settings)
    elif settings is not None and not isinstance(settings, LinkageSettings):
        raise InputError(f"settings must be a LinkageSettings or a dict of its keys, not {type(settings).__name__}")
    settings = settings or LinkageSettings()
    if not isinstance(records, pd.DataFrame):
        raise InputError("records must be a Records frame (cifranegra.ingest.read_lists), not "
                         f"{type(records).__name__}")
    if settings.work_dir is not None:
        check_work_dir(settings.work_dir)  # before any work
    say = progress or (lambda step: None)
    say("preparing records")
    prepared = prepare_records(records)
    base = carried_columns(records, carry)
    n_sources = prepared["source_dataset"].nunique()
    usable = usable_identifier_mask(prepared)
    to_link = prepared[usable].reset_index(drop=True)
    comparisons = build_comparisons(settings, to_link)
    blocking = build_blocking_rules(settings, to_link)
    if not comparisons or not blocking:
        raise InputError(
            "the records share no identifier that the chosen comparisons and blocking rules can use; "
            "map names, CURP or birth dates in the list mappings"
        )
    check_blocked_pairs(settings, to_link)
    n_link_sources = to_link["source_dataset"].nunique()
    creator = SettingsCreator(
        link_type="link_and_dedupe" if n_link_sources > 1 else "dedupe_only",
        unique_id_column_name="unique_id",
        source_dataset_column_name="source_dataset",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        em_convergence=settings.em_convergence,
        max_iterations=settings.em_max_iterations,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        linker_uid=f"cn{settings.seed}",  # fixed, so that the saved model is the same run to run
    )
    deterministic, em_rules = training_plan(to_link)
    if len(to_link) >= 2:
        pairs_raw, model = score_with_splink(
            to_link, creator, settings, deterministic=deterministic, em_rules=em_rules,
            source_column="source_dataset", progress=say, spark=spark,
        )
    else:
        pairs_raw = pd.DataFrame(columns=["unique_id_l", "unique_id_r", "match_probability", "match_weight"])
        model = {}
    say("clustering records into persons")
    pairs = _pairs_table(pairs_raw, to_link)
    if len(to_link) * (len(to_link) - 1) // 2 < SMALL_LISTS_PAIRS:
        pairs = _add_exact_rule_pairs(pairs, to_link)
    entities = cluster_pairs(base, pairs, settings.threshold)
    links = int((pairs["match_probability"] >= settings.threshold).sum())
    notes = _linkage_warnings(model, links, len(to_link)) + merged_lists_warnings(entities)
    for note in notes:
        warnings.warn(note, LinkageWarning, stacklevel=2)
    diagnostics = {
        "engine": settings.engine,
        "n_records": len(records),
        "records_without_identifiers": int((~usable).sum()),
        "n_lists": int(n_sources),
        "list_sizes": {str(k): int(v) for k, v in records["source"].astype(str).value_counts().sort_index().items()},
        "pairs_kept": len(pairs),
        "links_at_threshold": links,
        "n_entities": int(entities["entity_id"].nunique()),
        "warnings": notes,
        "splink_version": _splink_version(),
    }
    return LinkageResult(entities=entities, pairs=pairs, settings=settings, model=model, diagnostics=diagnostics)


def check_blocked_pairs(settings: LinkageSettings, prepared: pd.DataFrame) -> None:
    """Refuse, before any engine starts, blocking rules that would make more than
    ``settings.max_blocked_pairs`` candidate pairs (all records in one block, usually because
    many share a placeholder value); the message names the rule, never the value."""
    counts = count_blocked_pairs(prepared, settings.blocking)
    total = sum(n for _, n, _ in counts)
    if total <= float(settings.max_blocked_pairs):
        return
    rule, worst, largest = max(counts, key=lambda c: c[1])
    raise InputError(
        f"the blocking rules would compare about {total:,} record pairs, more than max_blocked_pairs = "
        f"{float(settings.max_blocked_pairs):,.0f}; rule {list(rule)} alone makes {worst:,}, its largest "
        f"block holding {largest:,} records that agree on {' + '.join(rule)}. If a placeholder (an unknown "
        "birth date written as a date, a name such as 'SIN NOMBRE') is shared by many records, mark it "
        "missing in the lists; otherwise use blocking = \"large\" or raise max_blocked_pairs"
    )


def _pairs_table(pairs_raw: pd.DataFrame, to_link: pd.DataFrame) -> pd.DataFrame:
    """Splink's scored pairs as the pairs table of :class:`LinkageResult`."""
    if "source_dataset_l" in pairs_raw.columns:
        sl, sr = pairs_raw["source_dataset_l"], pairs_raw["source_dataset_r"]
    else:
        only = str(to_link["source_dataset"].iloc[0]) if len(to_link) else ""
        sl = sr = pd.Series(only, index=pairs_raw.index, dtype="object")
    return pd.DataFrame(
        {
            "source_l": sl.astype(str).to_numpy(),
            "record_id_l": pairs_raw["unique_id_l"].astype(str).to_numpy(),
            "source_r": sr.astype(str).to_numpy(),
            "record_id_r": pairs_raw["unique_id_r"].astype(str).to_numpy(),
            "match_probability": pairs_raw["match_probability"].astype(float).to_numpy(),
            "match_weight": pairs_raw["match_weight"].astype(float).to_numpy(),
        }
    )


#: On small lists, pairs that agree exactly on one of these (prepared columns) are always linked.
EXACT_RULES = (("curp",), ("given", "surname_set", "birth_date"))


def _pair_keys(source_l: pd.Series, record_l: pd.Series, source_r: pd.Series, record_r: pd.Series) -> pd.Series:
    """One key per unordered pair of records."""
    left = source_l.astype(str) + "\0" + record_l.astype(str)
    right = source_r.astype(str) + "\0" + record_r.astype(str)
    lo = left.where(left <= right, right)
    hi = right.where(left <= right, left)
    return lo + "\1" + hi


def _add_exact_rule_pairs(pairs: pd.DataFrame, prepared: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with every pair of ``prepared`` records that agree exactly on a rule of
    :data:`EXACT_RULES` at match probability 1 (``match_weight`` NaN where the model had not
    scored the pair).

    Only for small lists: there the u probabilities come from random pairs of which many are true
    matches, and term frequencies from a handful of names, so the model can miss even identical
    records (docs/linkage.md, 'Small lists').
    """
    found = []
    for exact in EXACT_RULES:
        cols = list(exact)
        side = prepared[["source_dataset", "unique_id", *cols]].dropna(subset=cols).reset_index(names="pos")
        both = side.merge(side, on=cols, suffixes=("_l", "_r"))
        found.append(both[both["pos_l"] < both["pos_r"]])
    rule = pd.concat(found, ignore_index=True)
    if rule.empty:
        return pairs
    rule["key"] = _pair_keys(
        rule["source_dataset_l"], rule["unique_id_l"], rule["source_dataset_r"], rule["unique_id_r"]
    )
    rule = rule.drop_duplicates(subset="key")
    keys = _pair_keys(pairs["source_l"], pairs["record_id_l"], pairs["source_r"], pairs["record_id_r"])
    out = pairs.copy()
    out.loc[keys.isin(rule["key"]).to_numpy(), "match_probability"] = 1.0
    new = rule[~rule["key"].isin(keys)]
    added = pd.DataFrame(
        {
            "source_l": new["source_dataset_l"].astype(str).to_numpy(),
            "record_id_l": new["unique_id_l"].astype(str).to_numpy(),
            "source_r": new["source_dataset_r"].astype(str).to_numpy(),
            "record_id_r": new["unique_id_r"].astype(str).to_numpy(),
            "match_probability": 1.0,
            "match_weight": np.nan,
        }
    )
    return pd.concat([out, added], ignore_index=True) if len(added) else out


def _linkage_warnings(model: dict[str, Any], links: int, n_linkable: int) -> list[str]:
    """What the user must know about how the linkage was made (no record values; the pipeline
    prefixes them with ``linkage:``)."""
    out = []
    pairs = n_linkable * (n_linkable - 1) // 2
    if n_linkable >= 2 and pairs < SMALL_LISTS_PAIRS:
        out.append(
            f"the lists hold only {n_linkable} records ({pairs} record pairs) to learn the linkage model from; "
            "records agreeing exactly on CURP, or on given name, both surnames and birth date, were "
            "linked whatever the model said, and other true links may be missed (docs/linkage.md, "
            "'Small lists')"
        )
    training = model.get("cifranegra_training_warnings") or []
    if training:
        out.append(
            "parts of the linkage model could not be estimated from these lists ("
            + "; ".join(training)
            + "); fixed values were used instead (docs/linkage.md, 'Small lists')"
        )
    if links == 0 and n_linkable >= 2:
        out.append(
            "no two records were linked, so every record counts as a different person; if the "
            "lists should overlap, check that their names, CURP and birth dates are mapped"
        )
    return out


#: share of the records in persons holding three or more records of one list above which a linkage is
#: called over-merged (on the simulator's common-names lists a sound linkage puts 0.5% there, a collapsed
#: one 77%; the demo 0%: ``merged_lists_warnings``)
OVER_MERGED_SHARE = 0.05


def list_crowding(entities: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per person (``entity_id``): the most records it holds of any one list, and its number of records."""
    most = entities.groupby(["entity_id", "source"], sort=False).size().groupby(level=0).max()
    return most, entities.groupby("entity_id", sort=False).size()


def merged_lists_warnings(entities: pd.DataFrame) -> list[str]:
    """A warning when the linkage has merged records of one list wholesale.

    An agency's list holds a person once, or twice by mistake; three records of one list in one
    person are rare (0.5% of records on the simulator's lists with common names and no CURP, none on
    the demo). When Splink's model fails — with many people sharing a handful of names and no CURP,
    its EM can settle where names alone decide — it joins hundreds of records into a few persons
    (on one such simulated replicate 782 records became 116 persons, one of them 493 records, 208 of
    one list; bench/bench_linkage_uncertainty.py, common names, replicate 6), and the estimate falls
    far below the truth (135 for 1,000). Counts only; no record is named."""
    if entities.empty or not {"entity_id", "source"} <= set(entities.columns):
        return []
    most, sizes = list_crowding(entities)
    crowded = most.index[most >= 3]
    n_crowded = int(sizes.loc[crowded].sum())
    if n_crowded <= OVER_MERGED_SHARE * len(entities):
        return []
    return [
        f"the linkage put {n_crowded:,} of {len(entities):,} records ({n_crowded / len(entities):.0%}) into persons "
        f"that hold three or more records of one list (the largest person: {int(sizes.max()):,} records, "
        f"{int(most.max()):,} of one list); an agency rarely lists one victim three times, so different people "
        "were probably merged and the estimate would be far too low. Check the linkage model "
        "(internal/linkage_model.json), raise [linkage] threshold, or map more identifiers (CURP, birth date) "
        "(docs/linkage.md, 'Over-merged linkage')"
    ]


def _splink_version() -> str:
    import splink

    return str(getattr(splink, "__version__", "unknown"))
