"""The same linkage on Spark (pyspark local mode): same pairs, same persons as on DuckDB; and every
file Spark writes (checkpoints with names and CURPs, shuffle files, the JVM's temporary files) stays
in the linkage's private folder and is gone afterwards.

Skipped when pyspark (``pip install 'cifranegra[spark]'``) or Java is missing. Kept small: Spark in
local mode pays about a second per job and Splink runs a few hundred jobs — still 1–2 minutes per
linkage, so it is in the slow suite, which CI runs.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from linkage_synth import simulate_lists, true_entities

pytest.importorskip("pyspark")
if shutil.which("java") is None:  # pragma: no cover
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

from cifranegra.errors import ModelError
from cifranegra.linkage import LinkageSettings, link_records, pair_scores
from cifranegra.linkage.workdir import PREFIX

COMMON = {"max_pairs_u": 2e4, "em_max_iterations": 3, "seed": 2}
#: what a Spark driver writes into java.io.tmpdir or the working directory when left to itself
SPARK_NAMES = ("spark-", "blockmgr-", "artifacts-", "liblz4", "snappy", "hsperfdata", "cifranegra-spark",
               "spark-warehouse", "metastore_db", "derby.log")


def _spark_like(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith(SPARK_NAMES)}


@pytest.fixture(scope="module")
def private_tmp(tmp_path_factory) -> Iterator[Path]:
    """The tests' own TMPDIR; and nothing Spark-like may appear in the real /tmp or here."""
    tmp = tmp_path_factory.mktemp("tmpdir")
    system_before = _spark_like(Path("/tmp"))
    cwd_before = _spark_like(Path.cwd())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(tmp))
        mp.setattr(tempfile, "tempdir", None)
        yield tmp
    assert _spark_like(Path("/tmp")) <= system_before
    assert _spark_like(Path.cwd()) <= cwd_before


def _checking(seen: list) -> object:
    def progress(step: str) -> None:
        tmp = Path(tempfile.gettempdir())
        for folder in tmp.iterdir():
            if folder.name.startswith(PREFIX):
                parquet = [p for p in folder.rglob("*.parquet") if "spark-checkpoints" in p.parts]
                seen.append((step, stat.S_IMODE(folder.stat().st_mode), len(parquet)))

    return progress


@pytest.mark.slow
def test_spark_links_like_duckdb_and_leaves_nothing(private_tmp):
    records, _ = simulate_lists(n_persons=250, capture=(0.5, 0.4), seed=4)
    plain = records.drop(columns=["person_id"])
    seen: list = []
    spark = link_records(
        plain, LinkageSettings(engine="spark", spark_master="local[2]", **COMMON), progress=_checking(seen)
    )
    # while Spark ran, its checkpoints (Parquet tables of the records) were in the private folder
    scoring = [s for s in seen if s[0] == "scoring pairs"]
    assert scoring and scoring[0][1] == 0o700 and scoring[0][2] > 0
    assert list(private_tmp.iterdir()) == []
    duck = link_records(plain, LinkageSettings(engine="duckdb", **COMMON))
    assert spark.diagnostics["engine"] == "spark"
    assert len(spark.entities) == len(records)
    s_spark = pair_scores(spark.entities, true_entities(records))
    s_duck = pair_scores(duck.entities, true_entities(records))
    assert s_spark.f1 >= 0.95
    assert abs(s_spark.f1 - s_duck.f1) <= 0.02
    # scoring in chunks (what large lists get, one chunk per 250,000 records) finds the same persons;
    # a second Spark linkage in the same process starts a fresh JVM in a fresh folder
    chunked = link_records(
        plain,
        LinkageSettings(engine="spark", spark_master="local[2]", extra={"spark_predict_chunks": 3}, **COMMON),
    )
    assert chunked.entities["entity_id"].tolist() == spark.entities["entity_id"].tolist()
    assert len(chunked.pairs) == len(spark.pairs)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.slow
def test_a_failure_on_a_given_session_deletes_its_checkpoints(private_tmp, tmp_path, monkeypatch):
    """A session handed in stays up; the checkpoint files this linkage wrote are deleted, also when
    it fails, and the engine's message (it may quote records) is not passed on."""
    from pyspark.sql import SparkSession
    from splink.internals.linker_components.training import LinkerTraining

    from cifranegra.linkage.engines import spark_session

    records, _ = simulate_lists(n_persons=80, capture=(0.5, 0.5), seed=1)
    session = spark_session("local[1]", "1g", tmp_path)  # the caller's own, its files in tmp_path
    try:
        checkpoints = tmp_path / "given-checkpoints"
        written: list[bool] = []

        def boom(self, *args, **kw):
            written.append(any(checkpoints.rglob("*.parquet")))  # Splink has written its tables by now
            raise RuntimeError("GOCC770417MDFRRN09 could not be cast")

        monkeypatch.setattr(LinkerTraining, "estimate_parameters_using_expectation_maximisation", boom)
        settings = LinkageSettings(engine="spark", extra={"spark_checkpoint_dir": str(checkpoints)}, **COMMON)
        with pytest.raises(ModelError) as info:
            link_records(records.drop(columns=["person_id"]), settings, spark=session)
        assert written == [True]
        assert "expectation-maximisation 1/2" in str(info.value)
        assert "GOCC770417MDFRRN09" not in str(info.value)
        assert not any(checkpoints.rglob("*.parquet"))
        assert SparkSession.getActiveSession() is session  # still the caller's to use
        assert session.range(3).count() == 3
        assert list(private_tmp.iterdir()) == []
    finally:
        session.stop()
        from cifranegra.linkage.engines import _shutdown_jvm

        _shutdown_jvm()
    assert os.listdir(tmp_path)  # the caller's folder is the caller's to clean
