"""The Splink database engines (DuckDB, Spark), opened for one linkage inside its private folder.

Every working file an engine writes goes under the linkage's private folder
(:func:`cifranegra.linkage.workdir.private_work_dir`): DuckDB's ``temp_directory`` (spill files);
for a Spark session cifranegra starts itself, ``spark.local.dir`` (shuffle and block files, the
Python-to-JVM transfer files), ``spark.sql.warehouse.dir``, Derby's home, the JVM's temporary
folder and the checkpoint folder where Splink writes its Parquet tables. The engine is closed
before the folder is removed: the DuckDB connection, or the Spark session and the JVM cifranegra
launched; a session handed in by the caller is left running, and only the checkpoint files this
linkage wrote are deleted from it.

The driver of a session cifranegra starts listens on the loopback address in local mode; on a
cluster master (``spark://``, ``yarn``...) where it listens and what it advertises are left to Spark
or set with ``[linkage.extra] spark_driver_host`` / ``spark_driver_bind_address``
(:func:`driver_addresses`). A cluster needs ``spark_checkpoint_dir`` on shared storage, whoever made
the session; a session handed in must have Splink's similarity jar on its classpath.

Spark's own log lines (log4j) are switched off in a session cifranegra starts: a failing task logs
the rows it was working on, and those are victims' records. Failures reach the caller as exceptions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cifranegra.errors import InputError
from cifranegra.linkage.settings import LinkageSettings
from cifranegra.linkage.workdir import WorkDirWarning

#: log4j2 configuration of the Spark sessions cifranegra starts: nothing logged.
_LOG4J2 = """\
status = off
rootLogger.level = off
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = off
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %p %c{1}: %m%n
"""


def settings_partitions(master: str, n_records: int = 0) -> int:
    """Shuffle partitions for a Spark master: a few per local core, and more as the lists grow
    (one per 25,000 records: a partition of a 1M-record join must fit the driver's heap in local
    mode); Spark's default on a cluster."""
    if master.startswith("local"):
        inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        cores = 2 if inside in ("*", "") else int(inside) if inside.isdigit() else 2
        return max(2, 2 * cores, n_records // 25_000)
    return 200


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise InputError(
            "engine = 'spark' needs pyspark; install it with pip install 'cifranegra[spark]' "
            "(and a Java runtime), or use engine = 'duckdb'"
        ) from exc


def driver_addresses(master: str, extra: Mapping[str, Any] | None = None) -> tuple[str | None, str | None]:
    """The driver's advertised host and bind address for a session cifranegra starts on ``master``.

    ``extra`` keys ``spark_driver_host`` and ``spark_driver_bind_address`` win. Otherwise, in local
    mode both are the loopback address (nothing listens beyond this machine); on any other master
    (``spark://``, ``yarn``, ``k8s://``) both are left to Spark (``None``): it advertises this
    machine's host name (or ``SPARK_LOCAL_IP`` / ``SPARK_LOCAL_HOSTNAME``) and binds to it, which is
    what executors on other machines can reach. Loopback there would make every executor dial itself.
    """
    extra = extra or {}
    local = master.startswith("local")
    host = extra.get("spark_driver_host") or ("127.0.0.1" if local else None)
    bind = extra.get("spark_driver_bind_address") or ("127.0.0.1" if local and not extra.get("spark_driver_host")
                                                      else None)
    return (None if host is None else str(host)), (None if bind is None else str(bind))


def spark_session(
    master: str,
    driver_memory: str = "4g",
    work: Path | None = None,
    *,
    driver_host: str | None = "127.0.0.1",
    bind_address: str | None = "127.0.0.1",
) -> Any:
    """A Spark session for linkage; with ``work``, every file it writes goes under that folder.

    ``driver_host`` is the address the driver advertises to executors (``spark.driver.host``) and
    ``bind_address`` the one it listens on (``spark.driver.bindAddress``); ``None`` leaves either to
    Spark (see :func:`driver_addresses`)."""
    _require_pyspark()
    from pyspark.sql import SparkSession

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise InputError(
            "engine = 'spark' needs a Java runtime (no java on the PATH and no JAVA_HOME); "
            "install Java 17 or use engine = 'duckdb'"
        )
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(master)
        .appName("cifranegra-linkage")
        # Splink's string-similarity functions (Jaro-Winkler, Damerau-Levenshtein) as Spark SQL UDFs
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.catalogImplementation", "in-memory")
    )
    if driver_host is not None:
        builder = builder.config("spark.driver.host", driver_host)
    if bind_address is not None:
        builder = builder.config("spark.driver.bindAddress", bind_address)
    if work is not None:
        for sub in ("spark-local", "spark-warehouse", "derby", "jvm-tmp"):
            (work / sub).mkdir(exist_ok=True)
        log4j = work / "log4j2.properties"
        log4j.write_text(_LOG4J2, encoding="utf-8")
        java_options = " ".join(
            [
                f"-Djava.io.tmpdir={work / 'jvm-tmp'}",
                f"-Dderby.system.home={work / 'derby'}",
                f"-Dlog4j2.configurationFile={log4j.as_uri()}",
                "-XX:-UsePerfData",  # no hsperfdata file in the system temporary folder
            ]
        )
        builder = (
            builder.config("spark.local.dir", str(work / "spark-local"))
            .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
            .config("spark.driver.extraJavaOptions", java_options)
        )
        # spark-submit first runs a short launcher JVM, which the options above do not reach: on Linux
        # it wrote /tmp/hsperfdata_<user> (HotSpot ignores java.io.tmpdir there). Its own options
        # variable is set for the launch only, the caller's value kept and restored.
        before = os.environ.get("SPARK_LAUNCHER_OPTS")
        os.environ["SPARK_LAUNCHER_OPTS"] = f"{before or ''} -XX:-UsePerfData".strip()
        try:
            return builder.getOrCreate()
        finally:
            if before is None:
                os.environ.pop("SPARK_LAUNCHER_OPTS", None)
            else:
                os.environ["SPARK_LAUNCHER_OPTS"] = before
    return builder.getOrCreate()


def _shutdown_jvm() -> None:
    """Stop the JVM that pyspark launched (it would keep pointing at the removed folder)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        return
    with contextlib.suppress(Exception):
        gateway.shutdown()
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        with contextlib.suppress(Exception):
            proc.stdin.close()  # the JVM exits when its standard input closes
        try:
            proc.wait(timeout=60)
        except Exception:  # pragma: no cover - a JVM that does not exit
            proc.kill()
    SparkContext._gateway = None
    SparkContext._jvm = None


def _delete_spark_path(session: Any, path: str) -> None:
    """Delete ``path`` (a local or distributed folder) through Spark's Hadoop file system."""
    jvm = session.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(session.sparkContext._jsc.hadoopConfiguration())
    fs.delete(hadoop_path, True)


def _check_similarity_jar(session: Any) -> None:
    """A given session must load Splink's string-similarity functions (a jar Splink ships), or every
    name comparison would fail mid-linkage: refuse before any work, saying how to add the jar. Not
    on Databricks, where Splink's SparkAPI installs the jar itself."""
    from pyspark.sql.types import DoubleType

    if "DATABRICKS_RUNTIME_VERSION" in os.environ:
        return

    try:
        session.udf.registerJavaFunction(
            "jaro_winkler", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity", DoubleType()
        )
    except Exception:
        from splink.backends.spark import similarity_jar_location

        raise InputError(
            "this Spark session cannot load Splink's string-similarity functions (jaro_winkler and "
            f"others); start it with the jar Splink ships: spark-submit --jars {similarity_jar_location()} "
            "(or the spark.jars setting)"
        ) from None


@contextlib.contextmanager
def _spark_engine(settings: LinkageSettings, spark: Any, n_records: int, work: Path) -> Iterator[Any]:
    _require_pyspark()
    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from splink import SparkAPI

    own = spark is None
    if own:
        active = SparkSession.getActiveSession()
        if active is not None:  # the caller's session, made before: use it, as if handed in
            spark, own = active, False
    launched_jvm = own and SparkContext._gateway is None
    chosen = settings.extra.get("spark_checkpoint_dir")
    master = str(settings.spark_master if own else spark.sparkContext.master)
    if not chosen and not master.startswith("local"):
        raise InputError(
            "on a Spark cluster, set [linkage.extra] spark_checkpoint_dir to a folder on shared storage "
            "(HDFS, S3...) that only you can read: Splink writes the records there while it links, and "
            "a folder on this machine cannot be reached or cleaned on the cluster's workers"
        )
    if not own:
        _check_similarity_jar(spark)
    with warnings.catch_warnings():
        # pyspark's notices about pandas versions and deprecations, at every conversion: not the user's
        warnings.filterwarnings("ignore", module="pyspark")
        session = spark
        checkpoints = None
        try:
            if own:
                memory = str(settings.extra.get("spark_driver_memory", "4g"))
                host, bind = driver_addresses(settings.spark_master, settings.extra)
                session = spark_session(settings.spark_master, memory, work, driver_host=host, bind_address=bind)
                session.sparkContext.setLogLevel("OFF")
                partitions = settings_partitions(settings.spark_master, n_records)  # shuffles sized to the lists
                session.conf.set("spark.sql.shuffle.partitions", str(partitions))
            # checkpointing keeps Spark's query plans short across Splink's many steps; Splink writes
            # its Parquet tables there. Spark adds a fresh sub-folder, deleted at the end.
            parent = chosen or str(work / "spark-checkpoints")
            with contextlib.suppress(Exception):  # some managed sessions forbid it
                session.sparkContext.setCheckpointDir(str(parent))
                checkpoints = session.sparkContext.getCheckpointDir()
            lineage = settings.extra.get("spark_break_lineage", "parquet")
            yield SparkAPI(spark_session=session, break_lineage_method=lineage)
        finally:
            if checkpoints and session is not None:
                try:
                    _delete_spark_path(session, checkpoints)
                except Exception:
                    warnings.warn(
                        f"Spark checkpoint files in {checkpoints!r} could not be deleted; they hold "
                        "identifying data: delete them by hand",
                        WorkDirWarning,
                        stacklevel=3,
                    )
            if own and session is not None:
                with contextlib.suppress(Exception):
                    session.stop()
            if launched_jvm:
                _shutdown_jvm()


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextlib.contextmanager
def open_engine(settings: LinkageSettings, work: Path, *, spark: Any = None, n_records: int = 0) -> Iterator[Any]:
    """The Splink database API for ``settings.engine``, its working files under ``work``; closed
    on exit (also on failure). Splink keeps a second, in-memory DuckDB connection in every API for
    small computations; it spills under ``work`` too."""
    spill = work / "duckdb"
    spill.mkdir()
    if settings.engine == "spark":
        with _spark_engine(settings, spark, n_records, work) as api, _helper_connection(api, spill):
            yield api
        return
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:", config={"temp_directory": str(spill)})
    try:
        api = DuckDBAPI(connection=con)
        with _helper_connection(api, spill):
            yield api
    finally:
        con.close()


@contextlib.contextmanager
def _helper_connection(api: Any, spill: Path) -> Iterator[None]:
    """Splink's in-memory helper connection of every API (the engine's own one, for DuckDB) spills
    under ``spill`` too, and is closed at the end."""
    helpers: list[Any] = []
    for con in (getattr(api, "_ddb_con", None), getattr(api, "duckdb_con", None)):
        if con is not None and all(con is not h for h in helpers):
            helpers.append(con)
    for con in helpers:
        con.execute(f"SET temp_directory = {_sql_text(str(spill))}")
    try:
        yield
    finally:
        for con in helpers:
            with contextlib.suppress(Exception):
                con.close()
