"""The same linkage on Spark (pyspark local mode): same pairs, same persons as on DuckDB.

Skipped when pyspark (``pip install 'cifranegra[spark]'``) or Java is missing. Kept small: Spark in
local mode pays about a second per job and Splink runs a few hundred jobs — still 1–2 minutes, so it is
in the slow suite, which CI runs.
"""

from __future__ import annotations

import shutil

import pytest
from linkage_synth import simulate_lists, true_entities

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

from cifranegra.linkage import LinkageSettings, link_records, pair_scores


@pytest.mark.slow
def test_spark_links_like_duckdb():
    records, _ = simulate_lists(n_persons=250, capture=(0.5, 0.4), seed=4)
    records = records.drop(columns=["person_id"]).assign(person_id=records["person_id"])
    plain = records.drop(columns=["person_id"])
    common = {"max_pairs_u": 2e4, "em_max_iterations": 3, "seed": 2}
    spark = link_records(plain, LinkageSettings(engine="spark", spark_master="local[2]", **common))
    duck = link_records(plain, LinkageSettings(engine="duckdb", **common))
    assert spark.diagnostics["engine"] == "spark"
    assert len(spark.entities) == len(records)
    s_spark = pair_scores(spark.entities, true_entities(records))
    s_duck = pair_scores(duck.entities, true_entities(records))
    assert s_spark.f1 >= 0.95
    assert abs(s_spark.f1 - s_duck.f1) <= 0.02
    # scoring in chunks (what large lists get, one chunk per 250,000 records) finds the same persons
    chunked = link_records(
        plain,
        LinkageSettings(engine="spark", spark_master="local[2]", extra={"spark_predict_chunks": 3}, **common),
    )
    assert chunked.entities["entity_id"].tolist() == spark.entities["entity_id"].tolist()
    assert len(chunked.pairs) == len(spark.pairs)
