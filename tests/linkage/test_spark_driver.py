"""Fast checks of the Spark settings for a cluster: the driver's address, the checkpoint folder a
cluster requires, and the spark-submit entry point's project (no JVM started)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from cifranegra.cli.spark_submit import spark_project
from cifranegra.errors import InputError
from cifranegra.linkage import LinkageSettings
from cifranegra.linkage.engines import driver_addresses


@pytest.mark.parametrize(
    ("master", "extra", "expected"),
    [
        ("local[*]", {}, ("127.0.0.1", "127.0.0.1")),
        ("local[2]", {"spark_driver_host": "10.0.0.5"}, ("10.0.0.5", None)),
        ("spark://head:7077", {}, (None, None)),  # Spark's own: this machine's host name
        ("yarn", {}, (None, None)),
        ("spark://head:7077", {"spark_driver_host": "10.0.0.5", "spark_driver_bind_address": "0.0.0.0"},
         ("10.0.0.5", "0.0.0.0")),
        ("spark://127.0.0.1:7077", {"spark_driver_host": "127.0.0.1"}, ("127.0.0.1", None)),
    ],
)
def test_driver_address_is_loopback_only_in_local_mode(
    master: str, extra: dict[str, str], expected: tuple[str | None, str | None]
) -> None:
    assert driver_addresses(master, extra) == expected


def test_a_session_cifranegra_starts_on_a_cluster_needs_a_checkpoint_folder() -> None:
    pytest.importorskip("pyspark")
    from pyspark import SparkContext

    from cifranegra.linkage.engines import open_engine

    settings = LinkageSettings(engine="spark", spark_master="spark://127.0.0.1:1")
    with tempfile.TemporaryDirectory() as tmp, pytest.raises(InputError, match="spark_checkpoint_dir"), \
            open_engine(settings, Path(tmp)):
        pass
    assert SparkContext._gateway is None  # refused before any JVM started


@dataclasses.dataclass(frozen=True)
class _Spec:
    encoded: bool = False


@dataclasses.dataclass(frozen=True)
class _Project:
    linkage: LinkageSettings
    lists: tuple[_Spec, ...] = (_Spec(),)

    @property
    def encoded(self) -> bool:
        return any(s.encoded for s in self.lists)


def test_the_entry_point_links_on_spark_with_the_checkpoint_folder_given() -> None:
    project = _Project(LinkageSettings(engine="duckdb", extra={"spark_predict_chunks": 2}))
    out = spark_project(project, "hdfs:///user/me/ckpt")
    assert out.linkage.engine == "spark"
    assert dict(out.linkage.extra) == {"spark_predict_chunks": 2, "spark_checkpoint_dir": "hdfs:///user/me/ckpt"}
    assert spark_project(project).linkage.extra == {"spark_predict_chunks": 2}
    with pytest.raises(InputError, match="encoded"):
        spark_project(_Project(LinkageSettings(), lists=(_Spec(encoded=True),)))
