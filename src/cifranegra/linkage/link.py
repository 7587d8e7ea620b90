"""Link K agency lists at once (link and dedupe) with Splink, and cluster records into persons.

Method: the Fellegi–Sunter model as implemented by Splink (Linacre et al. 2022,
https://moj-analytical-services.github.io/splink): u probabilities from random record pairs
(seeded), prior match probability from deterministic rules with an assumed recall, m probabilities
by expectation–maximisation on two complementary blocks, term-frequency adjustments for common
names (Hernández, García, Martínez, López…), pairs scored within the blocking rules, and persons as
connected components of the pairs at or above the threshold.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cifranegra.errors import CifranegraError, InputError, ModelError
from cifranegra.linkage.comparisons import (
    FIXED_M_PROBABILITIES,
    build_blocking_rules,
    build_comparisons,
    count_blocked_pairs,
    training_plan,
)
from cifranegra.linkage.engines import open_engine
from cifranegra.linkage.prepare import STRATUM_COLUMNS, prepare_records, usable_identifier_mask
from cifranegra.linkage.settings import LinkageSettings
from cifranegra.linkage.workdir import check_work_dir, private_work_dir

Progress = Callable[[str], None]

#: Columns of every entities table, whatever linkage produced it.
ENTITY_COLUMNS = ("source", "record_id", "entity_id", "match_probability")

#: Pairs scored below this probability are not kept in the result (they never join persons).
PAIRS_FLOOR = 0.5


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
        Scored record pairs with ``match_probability`` ≥ min(threshold, 0.5): ``source_l``,
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
        """Entities re-clustered at another threshold (≥ 0.5) from the stored pairs, for sensitivity."""
        if threshold < min(self.settings.threshold, PAIRS_FLOOR):
            raise InputError(
                f"pairs below {min(self.settings.threshold, PAIRS_FLOOR)} were not kept; "
                f"choose a threshold at least that high, not {threshold}"
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


def cluster_pairs(records: pd.DataFrame, pairs: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Connected components of the pairs at or above ``threshold``, as an entities table.

    ``records`` needs ``source`` and ``record_id``; ``pairs`` needs ``source_l``, ``record_id_l``,
    ``source_r``, ``record_id_r`` and ``match_probability``. Entity ids number the clusters in the
    order of their first record, so they are the same on any engine.
    """
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
    carry = STRATUM_COLUMNS if carry is None else carry
    out = pd.DataFrame({"source": records["source"].astype(str), "record_id": records["record_id"].astype(str)})
    for c in carry:
        if c in records.columns:
            out[c] = records[c].to_numpy()
        elif c == "year" and "registration_date" in records.columns:
            reg = pd.to_datetime(records["registration_date"], errors="coerce")
            out["year"] = reg.dt.year.astype("Int64").to_numpy()
    return out.reset_index(drop=True)


_SPARK_CALLS = itertools.count()

#: Spark scores the blocked pairs in chunks of about this many records on the left side of a pair
#: (Splink's ``num_chunks_left``), so that no single join holds every pair of 1M records at once.
SPARK_PREDICT_CHUNK_RECORDS = 250_000


#: Below this many record pairs a warning says the lists are small (links may be missed).
SMALL_LISTS_PAIRS = 500


class LinkageWarning(UserWarning):
    """Linkage finished, but the user should know how: parts of the model fixed instead of
    estimated (small lists), or no two records linked at all."""


def _to_engine_frame(df: pd.DataFrame, engine: str) -> Any:
    if engine == "spark":
        # Spark's pandas conversion wants plain objects for nullable columns
        df = df.copy()
        numeric = [c for c in ("birth_year", "birth_year_lo", "birth_year_hi") if c in df.columns]
        for c in numeric:
            df[c] = df[c].astype("float64")
        df = df.astype({c: "object" for c in df.columns if c not in (*numeric, "given_tokens")})
        df = df.where(df.notna(), None)
    return df


def link_records(
    records: pd.DataFrame,
    settings: LinkageSettings | None = None,
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

    settings = settings or LinkageSettings()
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
    notes = _linkage_warnings(model, links, len(to_link))
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


def score_with_splink(
    frame: pd.DataFrame,
    creator: Any,
    settings: LinkageSettings,
    *,
    deterministic: list[Any],
    em_rules: list[Any],
    source_column: str | None = "source_dataset",
    progress: Progress | None = None,
    spark: Any = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Train a Splink model on ``frame`` and score the blocked pairs (the engine-specific part).

    ``creator`` is a Splink ``SettingsCreator``; ``frame`` is split into one input table per value
    of ``source_column`` (one table when ``None`` or a single value). Training: prior from the
    ``deterministic`` rules (recall ``settings.prior_recall``), u from ``settings.max_pairs_u``
    random pairs with ``settings.seed``, then one EM session per rule of ``em_rules``; comparisons
    that no EM session could estimate (too few pairs) keep fixed m probabilities
    (:data:`~cifranegra.linkage.comparisons.FIXED_M_PROBABILITIES`), noted in
    ``model["cifranegra_training_warnings"]``. Returns the pairs with match probability
    ≥ min(threshold, 0.5) as pandas, and the trained model dict.

    The engine works in a private folder removed at the end (:mod:`cifranegra.linkage.workdir`).
    An engine failure is a :class:`~cifranegra.errors.ModelError` naming the step and the error
    type, never the engine's message, which may quote records.
    """
    say = progress or (lambda step: None)
    step = ["starting the engine"]

    def track(name: str) -> None:
        step[0] = name
        say(name)

    try:
        with private_work_dir(settings.work_dir) as work, open_engine(
            settings, work, spark=spark, n_records=len(frame)
        ) as db_api:
            return _train_and_score(
                db_api, frame, creator, settings, deterministic, em_rules, source_column, track
            )
    except CifranegraError:
        raise
    except Exception as exc:
        raise _engine_failure(settings.engine, step[0], exc) from None


def _engine_failure(engine: str, step: str, exc: BaseException) -> ModelError:
    """A clear error for an engine failure; the engine's message (it may quote records) left out."""
    kind = type(exc).__name__
    memory = isinstance(exc, MemoryError) or "memory" in f"{kind} {exc}".lower()
    advice = (
        "The engine ran out of memory: choose blocking = \"large\", a lower em_max_pairs"
        + (" or more spark_driver_memory" if engine == "spark" else "")
        + ", or link on a machine with more memory."
        if memory
        else "If the lists are large, try blocking = \"large\" or a lower em_max_pairs; if it fails "
        "again, report it with this message."
    )
    return ModelError(
        f"linkage failed in the {engine} engine while {step} ({kind}). The engine's own message is "
        f"not shown because it may quote records. {advice}"
    )


def _total_pairs(frame: pd.DataFrame, source_column: str | None, link_type: str) -> int:
    """Record pairs Splink could compare (every pair; across lists only for ``link_only``)."""
    n = len(frame)
    if link_type == "link_only" and source_column is not None:
        sizes = frame[source_column].value_counts().to_numpy(dtype=float)
        return int((n * n - float((sizes**2).sum())) // 2)
    return n * (n - 1) // 2


def _estimate_prior(linker: Any, rules: list[Any], recall: float, total: int, notes: list[str]) -> None:
    """Prior match probability from the deterministic ``rules``, kept off 0 and 1 on tiny lists
    (a prior of 0 forbids every link, 1 forces them; Splink fails on both)."""
    model = linker._settings_obj
    if not rules or total < 1:
        return
    try:
        linker.training.estimate_probability_two_random_records_match(rules, recall=recall)
    except ValueError:  # the rules match more pairs than the recall allows: only on tiny lists
        model._probability_two_random_records_match = total / (total + 1)
        notes.append(
            f"the exact rules matched nearly all of the {total} record pair(s); the prior match "
            f"probability was set to {total}/{total + 1}"
        )
        return
    prior = float(model._probability_two_random_records_match)
    if prior <= 0.0:
        model._probability_two_random_records_match = 1.0 / (recall * total + 1.0)
        notes.append(
            f"no two records agree exactly on CURP or on name and birth date among {total} record "
            "pair(s); the prior match probability was set as if one pair did"
        )
    elif prior >= 1.0:
        model._probability_two_random_records_match = total / (total + 1)


def _em_sessions(linker: Any, em_rules: list[Any], settings: LinkageSettings, say: Progress, notes: list[str]) -> None:
    """The EM sessions; those with no pairs or nothing to estimate are skipped, and comparisons
    no session estimated get fixed m probabilities."""
    from splink.internals.exceptions import EMTrainingException
    from splink.internals.parse_sql import get_columns_used_from_sql

    dialect = linker._db_api.sql_dialect
    comparisons = list(linker._settings_obj.comparisons)
    used = {
        c.output_column_name: {col.input_name for col in c._input_columns_used_by_case_statement}
        for c in comparisons
    }
    trained: set[str] = set()
    for i, rule in enumerate(em_rules):
        say(f"expectation-maximisation {i + 1}/{len(em_rules)}")
        sql = rule.get_blocking_rule(dialect.sql_dialect_str).blocking_rule_sql
        blocked = set(get_columns_used_from_sql(sql, dialect.sqlglot_dialect))
        free = [name for name, cols in used.items() if not cols & blocked]
        label = " + ".join(sorted(blocked))
        if not free:
            notes.append(f"EM session {i + 1} (records agreeing on {label}) skipped: nothing left to estimate")
            continue
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=float(settings.em_max_pairs)
            )
        except EMTrainingException:
            notes.append(f"EM session {i + 1} skipped: no two records agree on {label}")
            continue
        except ValueError:  # an agreement level never observed in this block drove m to 0 (tiny data)
            notes.append(f"EM session {i + 1} (records agreeing on {label}) skipped: its estimates degenerated")
            continue
        trained.update(free)
    untrained = [c for c in comparisons if c.output_column_name not in trained]
    for comp in untrained:
        levels = [lv for lv in comp.comparison_levels if not lv.is_null_level]
        fixed = FIXED_M_PROBABILITIES.get(comp.output_column_name)
        if fixed is not None and len(fixed) == len(levels):
            for lv, m in zip(levels, fixed, strict=True):
                lv.m_probability = m
    if untrained:
        notes.append(
            "fixed m probabilities (not estimated from these lists) for "
            + ", ".join(c.output_column_name for c in untrained)
        )


def _train_and_score(
    db_api: Any,
    frame: pd.DataFrame,
    creator: Any,
    settings: LinkageSettings,
    deterministic: list[Any],
    em_rules: list[Any],
    source_column: str | None,
    say: Progress,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from splink import Linker

    data = _to_engine_frame(frame, settings.engine)
    groups = [data] if source_column is None else [g for _, g in data.groupby(source_column, sort=True)]
    # a Spark session outlives the call (getOrCreate): every call registers its own table names
    prefix = f"cn_list_{next(_SPARK_CALLS)}_" if settings.engine == "spark" else "cn_list_"
    names = [f"{prefix}{i}" for i in range(len(groups))]
    splink_logger = logging.getLogger("splink")
    old_level = splink_logger.level
    splink_logger.setLevel(logging.ERROR)  # Splink's training chatter is not ours to print
    notes: list[str] = []
    try:
        inputs = [db_api.register(g.reset_index(drop=True), table_name=n) for n, g in zip(names, groups, strict=True)]
        linker = Linker(inputs, creator, log_level=None)
        say("estimating the prior match probability")
        total = _total_pairs(frame, source_column, linker._settings_obj._link_type)
        _estimate_prior(linker, deterministic, float(settings.prior_recall), total, notes)
        say("estimating u probabilities (random pairs)")
        linker.training.estimate_u_using_random_sampling(
            max_pairs=float(settings.max_pairs_u),
            seed=settings.seed,
            # Spark pays a fixed cost per job: one pass instead of Splink's ten probing chunks
            num_chunks=1 if settings.engine == "spark" else 10,
        )
        _em_sessions(linker, em_rules, settings, say, notes)
        floored = _floor_m_probabilities(linker, float(settings.m_floor)) if settings.m_floor > 0 else []
        say("scoring pairs")
        floor = min(settings.threshold, PAIRS_FLOOR)
        chunks = 1
        if settings.engine == "spark":
            chunks = int(settings.extra.get("spark_predict_chunks", 0)) or -(-len(frame) // SPARK_PREDICT_CHUNK_RECORDS)
        chunking = {"num_chunks_left": chunks, "num_chunks_right": 1} if chunks > 1 else {}
        predictions = linker.inference.predict(threshold_match_probability=floor, warning_mode="never", **chunking)
        pairs_raw = predictions.as_pandas_dataframe()
        model = json.loads(json.dumps(linker.misc.save_model_to_json(), default=str))
        if notes:
            model["cifranegra_training_warnings"] = notes
        model["cifranegra_m_floor"] = {"floor": float(settings.m_floor), "levels_raised": floored}
    finally:
        splink_logger.setLevel(old_level)
        if settings.engine == "spark":
            for name in names:
                with contextlib.suppress(Exception):
                    db_api.spark.catalog.dropTempView(name)
    return pairs_raw, model


def _floor_m_probabilities(linker: Any, floor: float) -> list[str]:
    """Raise every agreement level's m probability to at least ``floor`` and renormalize each
    comparison to sum to 1 (additive smoothing of the EM estimates; see ``LinkageSettings.m_floor``). Returns
    the levels raised, as ``"comparison: level"``."""
    raised: list[str] = []
    for comp in linker._settings_obj.comparisons:
        levels = [lv for lv in comp.comparison_levels if not lv.is_null_level]
        ms = [lv.m_probability for lv in levels]
        if not levels or any(m is None for m in ms):
            continue
        new = [max(float(m), floor) for m in ms]
        total = sum(new)  # also restores a sum of 1 where EM left a never-observed level at its start
        for lv, m_old, m_new in zip(levels, ms, new, strict=True):
            if m_new != float(m_old):
                raised.append(f"{comp.output_column_name}: {lv.label_for_charts}")
            lv.m_probability = m_new / total
    return raised


def _splink_version() -> str:
    import splink

    return str(getattr(splink, "__version__", "unknown"))
