"""Train the Splink model and score the blocked pairs, on DuckDB or Spark (the engine-specific part
of linkage), in a private working folder; an engine failure becomes a clear error.

Training: prior match probability from deterministic rules with an assumed recall, u probabilities
from random record pairs (seeded), m probabilities by expectation–maximisation on complementary
blocks, then an m floor. Data that leave part of the model with nothing to learn from (tiny lists,
no pair in an EM block, nothing left to estimate) get documented fixed values and a note instead of
Splink's exception (docs/linkage.md, 'Small lists').
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from cifranegra.errors import CifranegraError, ModelError
from cifranegra.linkage.comparisons import FIXED_M_PROBABILITIES
from cifranegra.linkage.engines import open_engine
from cifranegra.linkage.settings import LinkageSettings
from cifranegra.linkage.workdir import private_work_dir

Progress = Callable[[str], None]

def pairs_floor(settings: LinkageSettings) -> float:
    """Smallest match probability of a pair kept in the result: ``keep_pairs_above``, or the
    threshold when that is lower (every pair that can join persons is kept)."""
    return min(float(settings.threshold), float(settings.keep_pairs_above))


_SPARK_CALLS = itertools.count()

#: Spark scores the blocked pairs in chunks of about this many records on the left side of a pair
#: (Splink's ``num_chunks_left``), so that no single join holds every pair of 1M records at once.
SPARK_PREDICT_CHUNK_RECORDS = 250_000



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
    ≥ :func:`pairs_floor` as pandas, and the trained model dict.

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
        _round_probabilities(linker)
        say("scoring pairs")
        floor = pairs_floor(settings)
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


#: significant digits the trained m and u probabilities keep (:func:`_round_probabilities`)
PROBABILITY_DIGITS = 10


def _round_probabilities(linker: Any, digits: int = PROBABILITY_DIGITS) -> None:
    """Round every level's m and u probability to ``digits`` significant digits before scoring.

    DuckDB (and Spark) add up the EM sessions' expectations in parallel, in an order that changes from
    run to run, so identical inputs and seed gave m probabilities differing in the 16th digit
    (linkage_model.json differed between two runs of one project; found by the reproducibility review).
    Rounded, the same project scores its pairs with the same numbers (unless a value lies within 1e-16
    of a rounding boundary), and a pair near the threshold cannot flip between runs. Ten digits are far
    below what the data can estimate."""
    def rounded(value: Any) -> float | None:
        if value is None:
            return None
        x = float(value)
        return float(f"{x:.{digits}g}") if math.isfinite(x) and x != 0 else x

    for comp in linker._settings_obj.comparisons:
        for lv in comp.comparison_levels:
            if lv.is_null_level:
                continue
            for name in ("m_probability", "u_probability"):
                value = getattr(lv, name)
                new = rounded(value)
                if new is not None and new != value:
                    setattr(lv, name, new)


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
