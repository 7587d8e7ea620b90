"""The engines' working files (they hold names, CURPs, birth dates) stay in one private folder that
is removed when linkage ends, also when it fails or is interrupted (issue 12, item 2)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from linkage_synth import fast_settings, simulate_lists

from cifranegra.errors import InputError, ModelError
from cifranegra.linkage import LinkageSettings, link_records
from cifranegra.linkage.workdir import PREFIX, private_work_dir

CURP = "GOCC770417MDFRRN09"


@pytest.fixture(scope="module")
def small_lists() -> pd.DataFrame:
    records, _ = simulate_lists(n_persons=60, capture=(0.5, 0.5), seed=4)
    return records.drop(columns=["person_id"])


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A TMPDIR of the test's own, so that anything left in 'the system temporary folder' shows."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile re-reads TMPDIR
    assert tempfile.gettempdir() == str(tmp)
    return tmp


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _setting(con, name: str) -> str | None:
    import duckdb

    try:
        cursor = con.cursor()  # the same database, without disturbing the engine's pending results
    except duckdb.ConnectionException:  # closed: the engine has finished
        return None
    try:
        return cursor.execute(f"select current_setting('{name}')").fetchone()[0]
    finally:
        cursor.close()


def _watch(parent: Path, connections: list) -> tuple[list, object]:
    """A progress callback that records, at each step, the working folders under ``parent``, their
    mode and the temp_directory of the DuckDB connection the engine opened."""
    seen: list[tuple[str, list[tuple[Path, int]], list[str | None]]] = []

    def progress(step: str) -> None:
        folders = [(p, _mode(p)) for p in parent.iterdir() if p.name.startswith(PREFIX)]
        # the engine's connections (Splink keeps a helper one) are open from the first training step on
        spill = [_setting(con, "temp_directory") for con in connections]
        seen.append((step, folders, spill))

    return seen, progress


@pytest.fixture
def duckdb_connections(monkeypatch) -> list:
    import duckdb

    made: list = []
    real = duckdb.connect

    def connect(*args, **kw):
        con = real(*args, **kw)
        made.append(con)
        return con

    monkeypatch.setattr(duckdb, "connect", connect)
    return made


def test_duckdb_files_go_to_a_private_folder_that_is_removed(small_lists, private_tmp, duckdb_connections):
    seen, progress = _watch(private_tmp, duckdb_connections)
    umask = os.umask(0o022)
    os.umask(umask)
    result = link_records(small_lists, fast_settings(), progress=progress)
    assert len(result.entities) == len(small_lists)
    during = [s for s in seen if s[0] == "scoring pairs"]
    assert during, [s[0] for s in seen]
    _, folders, spill = during[0]
    assert len(folders) == 1
    folder, mode = folders[0]
    assert mode == 0o700
    # DuckDB spills into the private folder, not into .tmp next to the working directory
    assert len(spill) == 2 and all(s is not None and Path(s).parent == folder for s in spill)
    # nothing left in the temporary folder, and the process umask is back
    assert list(private_tmp.iterdir()) == []
    now = os.umask(0o022)
    os.umask(now)
    assert now == umask


def test_configured_work_dir_holds_the_folder(small_lists, tmp_path, private_tmp, duckdb_connections):
    work = tmp_path / "work"
    work.mkdir()
    seen, progress = _watch(work, duckdb_connections)
    settings = LinkageSettings.from_dict({**fast_settings().to_dict(), "work_dir": str(work)})
    link_records(small_lists, settings, progress=progress)
    folders = next(s[1] for s in seen if s[0] == "scoring pairs")
    assert [m for _, m in folders] == [0o700]
    assert list(work.iterdir()) == []  # removed, the configured folder kept
    assert list(private_tmp.iterdir()) == []


def test_a_missing_work_dir_is_refused_before_any_work(small_lists, tmp_path):
    settings = LinkageSettings(work_dir=str(tmp_path / "nope"))
    steps: list[str] = []
    with pytest.raises(InputError, match=r"work_dir .* does not exist"):
        link_records(small_lists, settings, progress=steps.append)
    assert steps == []
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        link_records(small_lists, LinkageSettings(work_dir=str(afile)))


def _fail_at_scoring(monkeypatch, exc: BaseException) -> None:
    from splink.internals.linker_components.inference import LinkerInference

    def boom(self, *args, **kw):
        raise exc

    monkeypatch.setattr(LinkerInference, "predict", boom)


def test_an_engine_failure_removes_the_folder_and_quotes_no_record(small_lists, private_tmp, monkeypatch):
    # an engine message quoting a record (DuckDB's conversion errors do)
    _fail_at_scoring(monkeypatch, RuntimeError(f"Conversion Error: could not convert '{CURP}' CECILIA"))
    with pytest.raises(ModelError) as info:
        link_records(small_lists, fast_settings())
    message = str(info.value)
    assert "while scoring pairs" in message and "RuntimeError" in message
    assert CURP not in message and "CECILIA" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert list(private_tmp.iterdir()) == []


def test_an_interrupt_removes_the_folder(small_lists, private_tmp, monkeypatch):
    _fail_at_scoring(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        link_records(small_lists, fast_settings())
    assert list(private_tmp.iterdir()) == []


def test_private_work_dir_is_private_and_always_removed(tmp_path):
    with pytest.raises(ZeroDivisionError), private_work_dir(tmp_path) as work:
        assert _mode(work) == 0o700 and work.parent == tmp_path and work.name.startswith(PREFIX)
        (work / "spill.bin").write_bytes(b"GARCIA")
        (work / "sub").mkdir()
        (work / "sub" / "part.parquet").write_bytes(b"HERNANDEZ")
        assert _mode(work / "spill.bin") == 0o600
        assert _mode(work / "sub") == 0o700
        (work / "sub").chmod(0o500)  # a read-only folder inside is removed too
        1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []


def test_no_record_value_reaches_logs_warnings_or_the_terminal(small_lists, caplog, capfd):
    """With every logger at DEBUG (Splink's included), nothing a linkage logs, warns or prints
    quotes a name or a CURP. A guard: Splink logs column names, SQL and counts only."""
    import logging
    import warnings

    splink_logger = logging.getLogger("splink")
    old = splink_logger.level
    caplog.set_level(logging.DEBUG)
    splink_logger.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            link_records(small_lists.head(12), fast_settings())  # a small list: warnings too
    finally:
        splink_logger.setLevel(old)
    captured = capfd.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err, *(str(w.message) for w in caught)])
    assert caught  # the small-list warning, at least
    values = set()
    for col in ("given_names", "first_surname", "second_surname", "curp"):
        values |= {v for v in small_lists[col].dropna().astype(str) if len(v) >= 5}
    assert values
    assert sorted(v for v in values if v in text) == []


def test_a_cluster_session_needs_a_shared_checkpoint_folder(small_lists, private_tmp):
    """Executors cannot write into (nor clean) a folder on the driver's machine."""
    pytest.importorskip("pyspark")

    class Context:
        master = "yarn"

    class Session:
        sparkContext = Context()  # noqa: N815 - pyspark's name

    with pytest.raises(InputError, match="spark_checkpoint_dir"):
        link_records(small_lists, LinkageSettings(engine="spark"), spark=Session())
    assert list(private_tmp.iterdir()) == []
