"""Linkage: find the same person across agency lists (see DESIGN.md and docs/linkage.md).

Plaintext linkage runs on Splink (DuckDB in-process by default, Spark to scale out); private
linkage of encoded lists lives in :mod:`cifranegra.linkage.private`. Both return the entities
table: one row per record with ``source``, ``record_id``, ``entity_id``, ``match_probability`` and
the stratum columns. Splink, DuckDB and Spark are imported only here, and only when used.
"""

from cifranegra.linkage.evaluation import PairScores, blocking_recall, pair_scores
from cifranegra.linkage.link import (
    ENTITY_COLUMNS,
    LinkageResult,
    LinkageWarning,
    carried_columns,
    cluster_pairs,
    link_records,
)
from cifranegra.linkage.prepare import check_records, prepare_records
from cifranegra.linkage.settings import (
    COMPARISONS,
    DEFAULT_BLOCKING,
    ENGINES,
    LARGE_BLOCKING,
    LinkageSettings,
)

__all__ = [
    "COMPARISONS",
    "DEFAULT_BLOCKING",
    "ENGINES",
    "ENTITY_COLUMNS",
    "LARGE_BLOCKING",
    "LinkageResult",
    "LinkageSettings",
    "LinkageWarning",
    "PairScores",
    "blocking_recall",
    "carried_columns",
    "check_records",
    "cluster_pairs",
    "link_records",
    "pair_scores",
    "prepare_records",
]
