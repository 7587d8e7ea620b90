"""Linkage on a real (standalone) Spark cluster: a master and one worker (1 core, 1 GiB), started on
loopback by the test itself from pyspark's bundled Spark, on free ports.

A synthetic project (``cifranegra simulate``) is linked through that master twice: by
``link_records`` with a session cifranegra starts on ``spark://`` (driver address from
``[linkage.extra]``), and by ``spark-submit`` of the documented entry point
(``cifranegra/cli/spark_submit.py``), which runs the whole project on the session spark-submit
provides. Both must find the persons the DuckDB engine finds on the same records: pairwise F1
of their entities against DuckDB's ≥ 0.98. Not exact equality: the u
probabilities come from random pairs that each engine samples its own way (DuckDB's and Spark's
seeded samplers differ), and EM's sums run in a different order, so a few borderline pairs can
fall on the other side of the threshold (the local-mode test, tests/linkage/test_spark.py, uses the
same tolerance). The cluster is stopped in a ``finally`` and no process of it may be left.

Skipped when pyspark or Java is missing. Slow (several minutes on two cores).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip("a standalone Spark cluster needs a Java runtime (no java on the PATH, no JAVA_HOME)",
                allow_module_level=True)

import pyspark

from cifranegra.cli import main as cli_main
from cifranegra.linkage import link_records, pair_scores
from cifranegra.linkage.workdir import PREFIX
from cifranegra.pipeline import load_project
from cifranegra.pipeline.run import read_project_lists

SPARK_HOME = Path(pyspark.__file__).parent
PERSONS = 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat_file.read_text()
            fields = text[text.rfind(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(stat_file.parent.name))
    return found


def _alive_workers(ui_port: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as r:
            state = json.load(r)
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")
    return 0


def _stop(procs: list[subprocess.Popen]) -> None:
    """Stop each daemon's whole process group (the worker's executors are in it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_group_members(p.pid) for p in procs):
            time.sleep(0.5)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if not any(_group_members(p.pid) for p in procs):
            return


def _spark_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(tmp / "logs"),
        "SPARK_LOCAL_DIRS": str(tmp / "local"),  # executors' shuffle and block files
        "SPARK_WORKER_DIR": str(tmp / "work"),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_DAEMON_JAVA_OPTS": f"-Djava.io.tmpdir={tmp / 'jvm-tmp'}",
        # every JVM started from here (launchers, daemons, executors, spark-submit's driver): no
        # hsperfdata folder in /tmp
        "JAVA_TOOL_OPTIONS": "-XX:-UsePerfData",
        "TMPDIR": str(tmp / "jvm-tmp"),
    })
    for sub in ("logs", "local", "work", "jvm-tmp"):
        (tmp / sub).mkdir(mode=0o700, exist_ok=True)
    return env


@contextlib.contextmanager
def standalone_cluster(tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A master and one worker (1 core, 1g) on loopback; yields the master URL and their environment."""
    env = _spark_env(tmp)
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port, ui_port = _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    try:
        for name, args in (
            ("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                        "--webui-port", str(ui_port)]),
            ("worker", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--port", str(_free_port()), "--webui-port", str(_free_port()), "--cores", "1",
                        "--memory", "1g", "--work-dir", str(tmp / "work"), url]),
        ):
            log = (tmp / "logs" / f"{name}.out").open("wb")
            procs.append(subprocess.Popen([spark_class, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))
            log.close()
        deadline = time.monotonic() + 180
        while _alive_workers(ui_port) < 1:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                logs = "\n".join((tmp / "logs" / f"{n}.out").read_text()[-2000:] for n in ("master", "worker"))
                raise AssertionError(f"the standalone cluster did not start:\n{logs}")
            time.sleep(1)
        yield url, env
    finally:
        _stop(procs)
        left = [pid for p in procs for pid in _group_members(p.pid)]
        assert not left, f"cluster processes left running: {left}"


def _simulated_project(folder: Path) -> Path:
    assert cli_main(["simulate", str(folder), "--persons", str(PERSONS), "--agencies", "3", "--seed", "5",
                     "--no-persons"]) == 0
    project = folder / "project.toml"
    with project.open("a", encoding="utf-8") as f:  # a smaller model fit: the test is about the engine
        f.write('\n[linkage]\nmax_pairs_u = 20000\nem_max_iterations = 5\n')
    return project


@pytest.mark.slow
def test_linkage_on_a_standalone_cluster_and_through_spark_submit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    private_tmp = tmp_path / "tmpdir"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    project_file = _simulated_project(tmp_path / "study")
    capsys.readouterr()
    project = load_project(project_file)
    records, _ = read_project_lists(project)
    duck = link_records(records, project.linkage)

    cluster_dir = tmp_path / "cluster"
    cluster_dir.mkdir(mode=0o700)
    with standalone_cluster(cluster_dir) as (url, env):
        # 1. a session cifranegra starts itself on the cluster's master
        checkpoints = tmp_path / "checkpoints"
        extra = {"spark_checkpoint_dir": str(checkpoints), "spark_driver_host": "127.0.0.1",
                 "spark_driver_memory": "1g"}
        settings = replace(project.linkage, engine="spark", spark_master=url, extra=extra)
        on_cluster = link_records(records, settings)
        assert on_cluster.diagnostics["engine"] == "spark"
        assert not any(checkpoints.rglob("*.parquet"))  # the linkage's checkpoint files are deleted
        assert not [p for p in private_tmp.iterdir() if p.name.startswith(PREFIX)]

        # 2. spark-submit of the entry point: the whole project, on the session spark-submit made
        from splink.backends.spark import similarity_jar_location

        import cifranegra.cli.spark_submit as entry

        out = tmp_path / "out"
        done = subprocess.run(
            [str(SPARK_HOME / "bin" / "spark-submit"), "--master", url, "--driver-memory", "1g",
             "--jars", similarity_jar_location(),
             "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
             "--conf", "spark.ui.enabled=false",
             entry.__file__, str(project_file), "--output", str(out), "--checkpoint-dir",
             str(tmp_path / "checkpoints-submit"), "--no-publish", "--quiet"],
            env=env, capture_output=True, text=True, timeout=1200, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        submitted = pd.read_csv(out / "internal" / "entities.csv", dtype={"record_id": str})
        assert not any((tmp_path / "checkpoints-submit").rglob("*.parquet"))

    for spark in (on_cluster.entities, submitted):
        assert len(spark) == len(duck.entities)
        assert pair_scores(spark, duck.entities).f1 >= 0.98
    linkage = json.loads((out / "internal" / "results.json").read_text())["linkage"]
    assert linkage["engine"] == "spark"
