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
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cifranegra.errors import InputError
from cifranegra.linkage.comparisons import (
    build_blocking_rules,
    build_comparisons,
    training_plan,
)
from cifranegra.linkage.prepare import STRATUM_COLUMNS, prepare_records, usable_identifier_mask
from cifranegra.linkage.settings import LinkageSettings

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


def settings_partitions(master: str, n_records: int = 0) -> int:
    """Shuffle partitions for a Spark master: a few per local core, and more as the lists grow
    (one per 25,000 records: a partition of a 1M-record join must fit the driver's heap in local
    mode); Spark's default on a cluster."""
    if master.startswith("local"):
        inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        cores = 2 if inside in ("*", "") else int(inside) if inside.isdigit() else 2
        return max(2, 2 * cores, n_records // 25_000)
    return 200


_SPARK_CALLS = itertools.count()

#: Spark scores the blocked pairs in chunks of about this many records on the left side of a pair
#: (Splink's ``num_chunks_left``), so that no single join holds every pair of 1M records at once.
SPARK_PREDICT_CHUNK_RECORDS = 250_000


def _spark_session(master: str, driver_memory: str = "4g") -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "engine = 'spark' needs pyspark; install it with pip install 'cifranegra[spark]' "
            "(and a Java runtime), or use engine = 'duckdb'"
        ) from exc
    from splink.backends.spark import similarity_jar_location

    return (
        SparkSession.builder.master(master)
        .appName("cifranegra-linkage")
        # Splink's string-similarity functions (Jaro-Winkler, Damerau-Levenshtein) as Spark SQL UDFs
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def _db_api(settings: LinkageSettings, spark: Any = None, n_records: int = 0) -> Any:
    if settings.engine == "spark":
        from splink import SparkAPI

        memory = str(settings.extra.get("spark_driver_memory", "4g"))
        session = spark
        if session is None:  # our local session (getOrCreate may reuse it): size its shuffles to the lists
            session = _spark_session(settings.spark_master, memory)
            partitions = settings_partitions(settings.spark_master, n_records)
            session.conf.set("spark.sql.shuffle.partitions", str(partitions))
        # checkpointing keeps Spark's query plans short across Splink's many steps
        default_dir = str(Path(tempfile.gettempdir()) / "cifranegra-spark-checkpoints")
        with contextlib.suppress(Exception):  # some managed sessions forbid it
            session.sparkContext.setCheckpointDir(settings.extra.get("spark_checkpoint_dir", default_dir))
        lineage = settings.extra.get("spark_break_lineage", "parquet")
        return SparkAPI(spark_session=session, break_lineage_method=lineage)
    from splink import DuckDBAPI

    return DuckDBAPI()


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
    if "source_dataset_l" in pairs_raw.columns:
        sl, sr = pairs_raw["source_dataset_l"], pairs_raw["source_dataset_r"]
    else:
        only = str(to_link["source_dataset"].iloc[0]) if len(to_link) else ""
        sl = sr = pd.Series(only, index=pairs_raw.index, dtype="object")
    pairs = pd.DataFrame(
        {
            "source_l": sl.astype(str).to_numpy(),
            "record_id_l": pairs_raw["unique_id_l"].astype(str).to_numpy(),
            "source_r": sr.astype(str).to_numpy(),
            "record_id_r": pairs_raw["unique_id_r"].astype(str).to_numpy(),
            "match_probability": pairs_raw["match_probability"].astype(float).to_numpy(),
            "match_weight": pairs_raw["match_weight"].astype(float).to_numpy(),
        }
    )
    entities = cluster_pairs(base, pairs, settings.threshold)
    links = int((pairs["match_probability"] >= settings.threshold).sum())
    diagnostics = {
        "engine": settings.engine,
        "n_records": len(records),
        "records_without_identifiers": int((~usable).sum()),
        "n_lists": int(n_sources),
        "list_sizes": {str(k): int(v) for k, v in records["source"].astype(str).value_counts().sort_index().items()},
        "pairs_kept": len(pairs),
        "links_at_threshold": links,
        "n_entities": int(entities["entity_id"].nunique()),
        "splink_version": _splink_version(),
    }
    return LinkageResult(entities=entities, pairs=pairs, settings=settings, model=model, diagnostics=diagnostics)


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
    random pairs with ``settings.seed``, then one EM session per rule of ``em_rules``. Returns the
    pairs with match probability ≥ min(threshold, 0.5) as pandas, and the trained model dict.
    """
    from splink import Linker

    say = progress or (lambda step: None)
    db_api = _db_api(settings, spark, len(frame))
    data = _to_engine_frame(frame, settings.engine)
    groups = [data] if source_column is None else [g for _, g in data.groupby(source_column, sort=True)]
    # a Spark session outlives the call (getOrCreate): every call registers its own table names
    prefix = f"cn_list_{next(_SPARK_CALLS)}_" if settings.engine == "spark" else "cn_list_"
    names = [f"{prefix}{i}" for i in range(len(groups))]
    inputs = [db_api.register(g.reset_index(drop=True), table_name=n) for n, g in zip(names, groups, strict=True)]
    splink_logger = logging.getLogger("splink")
    old_level = splink_logger.level
    splink_logger.setLevel(logging.ERROR)  # Splink's training chatter is not ours to print
    try:
        linker = Linker(inputs, creator, log_level=None)
        say("estimating the prior match probability")
        if deterministic:
            linker.training.estimate_probability_two_random_records_match(
                deterministic, recall=settings.prior_recall
            )
        say("estimating u probabilities (random pairs)")
        linker.training.estimate_u_using_random_sampling(
            max_pairs=float(settings.max_pairs_u),
            seed=settings.seed,
            # Spark pays a fixed cost per job: one pass instead of Splink's ten probing chunks
            num_chunks=1 if settings.engine == "spark" else 10,
        )
        em_problems = []
        for i, rule in enumerate(em_rules):
            say(f"expectation-maximisation {i + 1}/{len(em_rules)}")
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=float(settings.em_max_pairs)
                )
            except ValueError as exc:  # a level never observed in this block (tiny data)
                em_problems.append(f"EM session {i + 1} skipped: {exc}")
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
        if em_problems:
            model["cifranegra_training_warnings"] = em_problems
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
