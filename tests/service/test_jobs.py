"""Runs as durable jobs (cifranegra.service.jobs): queueing, exclusive claims, leases, a killed worker,
failures, and what is stored.

The pipeline is replaced by a fake ``run_study`` here (the job mechanics are the subject; a real run is
in test_runs_releases.py). Lease expiry is simulated by claiming with a later ``now``, never by waiting.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the hub's extra is not installed: pip install 'cifranegra[hub]'")

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.errors import InputError
from cifranegra.pipeline import hub_run
from cifranegra.service import audit, jobs
from cifranegra.service.config import HubHome
from cifranegra.service.db import (
    Agency,
    AuditEntry,
    Run,
    StoredKey,
    Study,
    Submission,
    User,
    make_engine,
    session_factory,
    utcnow,
)
from cifranegra.service.storage import Storage, open_storage

SOURCES = ("FGR", "DIF", "REFUGIO")
ZIP_SECRET = "record-id-R000123"  # a stand-in for a record identifier in the fake entities.csv


@dataclass
class Env:
    home: HubHome
    factory: sessionmaker[Session]
    storage: Storage
    study_id: int
    user_id: int
    work: Path


@pytest.fixture
def env(hub_home: HubHome) -> Iterator[Env]:
    engine = make_engine(hub_home.db_url)
    factory = session_factory(engine)
    with factory() as session, session.begin():
        storage = open_storage(hub_home, session)
        admin = session.scalars(select(User)).first()
        assert admin is not None
        coordinator = User(username="coord", password_hash="x", role="coordinator")
        session.add(coordinator)
        session.flush()
        study = Study(name="study-jobs", created_by=coordinator.id, settings={})
        session.add(study)
        session.flush()
        for i, source in enumerate(SOURCES):
            agency = Agency(name=source)
            session.add(agency)
            session.flush()
            blob = storage.put(session, f"encoded list {i}".encode())
            session.add(Submission(study_id=study.id, agency_id=agency.id, submitted_by=coordinator.id,
                                   idempotency_key=f"k{i}", source=source, sha256="0" * 64, size=10,
                                   n_records=10, state="accepted", blob_id=blob))
        ids = (study.id, coordinator.id)
    yield Env(hub_home, factory, storage, ids[0], ids[1], jobs.work_root(hub_home.path))
    engine.dispose()


def fake_run_study(calls: list[Sequence[tuple[str, Path]]] | None = None) -> Callable[..., hub_run.HubRunOutput]:
    """A run_study that writes an internal/ with a record-level entities.csv and a small publish/."""

    def run(files: Sequence[tuple[str, Path]], *, study: str, workdir: Path, settings: Mapping[str, Any],
            progress: Callable[[str, float], None]) -> hub_run.HubRunOutput:
        if calls is not None:
            calls.append([(s, Path(p)) for s, p in files])
        for _source, path in files:
            assert path.read_bytes().startswith(b"encoded list ")  # decrypted for the run
        internal = workdir / "out" / "internal"
        publish = workdir / "out" / "publish"
        (publish / "tables").mkdir(parents=True)
        internal.mkdir(parents=True)
        (internal / "results.json").write_text('{"estimates": []}')
        (internal / "estimates.csv").write_text("stratum,estimate\nall,123\n")
        (internal / "entities.csv").write_text(f"record_id,entity_id\n{ZIP_SECRET},1\n")
        (publish / "metadata.json").write_text("{}")
        (publish / "tables" / "estimates.csv").write_text("stratum,estimate\nall,120\n")
        progress("estimating", 0.5)
        return hub_run.HubRunOutput(internal, publish, {"lists": [s for s, _ in files]})

    return run


def queue(env: Env, settings: dict[str, Any] | None = None) -> str:
    with env.factory() as session, session.begin():
        study = session.get(Study, env.study_id)
        assert study is not None
        return jobs.enqueue(session, study, env.user_id, settings).id


def get_run(env: Env, run_id: str) -> Run:
    with env.factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run


def n_keys(env: Env) -> int:
    with env.factory() as session:
        return int(session.scalar(select(func.count()).select_from(StoredKey)) or 0)


def leftovers(env: Env) -> list[str]:
    return sorted(os.listdir(env.work))


def later(seconds: float) -> dt.datetime:
    return utcnow() + jobs.LEASE + dt.timedelta(seconds=seconds)


# --- queueing -------------------------------------------------------------------------------------


def test_enqueue_takes_latest_accepted_submission_per_agency(env: Env) -> None:
    with env.factory() as session, session.begin():
        first = session.scalars(select(Submission).where(Submission.source == "FGR")).one()
        newer = Submission(study_id=env.study_id, agency_id=first.agency_id, submitted_by=env.user_id,
                           idempotency_key="k-new", source="FGR", sha256="1" * 64, size=10, n_records=10,
                           state="accepted", blob_id=env.storage.put(session, b"encoded list new"),
                           created_at=utcnow() + dt.timedelta(seconds=5))
        session.add(newer)
        withdrawn = session.scalars(select(Submission).where(Submission.source == "DIF")).one()
        withdrawn.state = "withdrawn"
        session.flush()
        newer_id, old_id, withdrawn_id = newer.id, first.id, withdrawn.id
    run = get_run(env, queue(env))
    assert run.state == "queued"
    assert run.attempts == 0
    assert len(run.submission_ids) == 2
    assert newer_id in run.submission_ids
    assert old_id not in run.submission_ids
    assert withdrawn_id not in run.submission_ids


def test_enqueue_refuses_fewer_than_two_agencies_and_bad_settings(env: Env) -> None:
    with pytest.raises(InputError, match="unknown run setting"):
        queue(env, {"lists": []})
    with pytest.raises(InputError):
        queue(env, {"estimation": {"methods": ["no-such-method"]}})
    with env.factory() as session, session.begin():
        for sub in session.scalars(select(Submission).where(Submission.source != "FGR")):
            sub.state = "withdrawn"
    with pytest.raises(jobs.JobError, match="at least two agencies; this study has 1"):
        queue(env)
    with env.factory() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 0


# --- claiming and running --------------------------------------------------------------------------


def test_a_claim_is_exclusive(env: Env) -> None:
    run_id = queue(env)
    claimed = jobs.claim_next(env.factory, "worker-a")
    assert claimed is not None
    assert (claimed.id, claimed.state, claimed.worker, claimed.attempts) == (run_id, "running", "worker-a", 1)
    assert jobs.claim_next(env.factory, "worker-b") is None  # the lease holds
    assert get_run(env, run_id).worker == "worker-a"


def test_a_run_succeeds_once_and_keeps_no_record_level_file(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Sequence[tuple[str, Path]]] = []
    monkeypatch.setattr(hub_run, "run_study", fake_run_study(calls))
    run_id = queue(env)
    keys_before = n_keys(env)
    claimed = jobs.claim_next(env.factory, "worker-a")
    assert claimed is not None
    assert jobs.run_job(env.factory, env.storage, claimed, workdir_root=env.work) == "succeeded"
    run = get_run(env, run_id)
    assert (run.state, run.progress, run.step, run.message, run.attempts) == ("succeeded", 1.0, "done", "", 1)
    assert sorted(s for s, _ in calls[0]) == sorted(SOURCES)
    assert n_keys(env) == keys_before + 2
    assert run.internal_blob_id is not None and run.publish_blob_id is not None
    with env.factory() as session:
        internal = env.storage.get(session, run.internal_blob_id)
        publish = env.storage.get(session, run.publish_blob_id)
    assert jobs.zip_names(internal) == ["estimates.csv", "results.json"]  # entities.csv stays in the worker
    assert ZIP_SECRET.encode() not in internal
    assert jobs.zip_names(publish) == ["metadata.json", "tables/estimates.csv"]
    assert jobs.zip_member(publish, "tables/estimates.csv") == b"stratum,estimate\nall,120\n"
    assert jobs.zip_member(publish, "../internal/entities.csv") is None
    assert leftovers(env) == []  # the decrypted lists are gone
    assert jobs.claim_next(env.factory, "worker-b", now=later(10)) is None  # a finished job is never re-run
    # the job runner's reads and writes of data are in the audit chain
    assert runner_entries(env, run_id) == [("RUN decrypt submissions", "worker-a", "ok"),
                                           ("RUN store results", "worker-a", "ok")]


def runner_entries(env: Env, run_id: str) -> list[tuple[str, str, str]]:
    with env.factory() as session:
        assert audit.verify(session)["ok"] is True
        rows = session.scalars(select(AuditEntry).where(AuditEntry.actor == "job-runner").order_by(AuditEntry.id))
        return [(e.action, e.client, e.outcome) for e in rows if f"run={run_id}" in e.target]


def test_a_dead_worker_is_replaced_after_the_lease_and_the_job_completes_exactly_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_run, "run_study", fake_run_study())
    run_id = queue(env)
    keys_before = n_keys(env)
    dead = jobs.claim_next(env.factory, "worker-dead")  # claims, then never beats again
    assert dead is not None
    assert jobs.claim_next(env.factory, "worker-new") is None  # not before the lease has expired
    taken = jobs.claim_next(env.factory, "worker-new", now=later(1))
    assert taken is not None
    assert (taken.id, taken.worker, taken.attempts) == (run_id, "worker-new", 2)
    # the first worker wakes up and finishes: it lost the claim, so it stores nothing
    assert jobs.run_job(env.factory, env.storage, dead, workdir_root=env.work) == "lost"
    assert n_keys(env) == keys_before
    assert get_run(env, run_id).state == "running"
    assert jobs.run_job(env.factory, env.storage, taken, workdir_root=env.work) == "succeeded"
    run = get_run(env, run_id)
    assert (run.state, run.worker, run.attempts) == ("succeeded", "worker-new", 2)
    assert n_keys(env) == keys_before + 2
    with env.factory() as session:
        key_ids = set(session.scalars(select(StoredKey.blob_id)))
    assert env.storage.blob_ids_on_disk() == key_ids  # no blob of the lost attempt left on disk
    assert leftovers(env) == []


def test_requeue_stale_requeues_then_fails_after_max_attempts(env: Env) -> None:
    run_id = queue(env)
    assert jobs.claim_next(env.factory, "w1") is not None
    assert jobs.requeue_stale(env.factory) == 0  # heartbeat fresh
    assert jobs.requeue_stale(env.factory, now=later(1)) == 1
    run = get_run(env, run_id)
    assert (run.state, run.worker, run.attempts) == ("queued", None, 1)
    for n in (2, 3):
        claimed = jobs.claim_next(env.factory, f"w{n}", now=later(n * 100))
        assert claimed is not None and claimed.attempts == n
    assert jobs.claim_next(env.factory, "w4", now=later(10_000)) is None  # three attempts: no fourth
    assert jobs.requeue_stale(env.factory, now=later(10_000)) == 1
    run = get_run(env, run_id)
    assert run.state == "failed"
    assert "stopped 3 times" in run.message


def test_a_failing_run_ends_failed_with_a_message_and_publishes_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_a: Any, workdir: Path, **_k: Any) -> hub_run.HubRunOutput:
        raise InputError(f"{workdir}/lists/list-1.parquet: the encoded lists do not belong to this project; "
                         "re-encode with --project NAME")

    monkeypatch.setattr(hub_run, "run_study", refuse)
    run_id = queue(env)
    keys_before = n_keys(env)
    claimed = jobs.claim_next(env.factory, "w")
    assert claimed is not None
    assert jobs.run_job(env.factory, env.storage, claimed, workdir_root=env.work) == "failed"
    run = get_run(env, run_id)
    assert run.state == "failed"
    assert run.message == ("(the run's temporary folder)/project/lists/list-1.parquet: the encoded lists do not "
                           "belong to this project; re-encode with --project NAME")  # no path of the hub's home
    assert (run.internal_blob_id, run.publish_blob_id) == (None, None)
    assert n_keys(env) == keys_before
    assert leftovers(env) == []
    assert jobs.claim_next(env.factory, "w2", now=later(1)) is None  # a failure is final, not retried
    assert runner_entries(env, run_id) == [("RUN decrypt submissions", "w", "ok"), ("RUN finish", "w", "failed")]


def test_an_unexpected_error_is_reported_by_type_only(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_a: Any, **_k: Any) -> hub_run.HubRunOutput:
        raise RuntimeError(f"value {ZIP_SECRET} broke it")

    monkeypatch.setattr(hub_run, "run_study", crash)
    run_id = queue(env)
    claimed = jobs.claim_next(env.factory, "w")
    assert claimed is not None
    assert jobs.run_job(env.factory, env.storage, claimed, workdir_root=env.work) == "failed"
    message = get_run(env, run_id).message
    assert "RuntimeError" in message
    assert ZIP_SECRET not in message
    assert leftovers(env) == []


def test_a_withdrawn_submission_fails_the_run_cleanly(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_run, "run_study", fake_run_study())
    run_id = queue(env)
    with env.factory() as session, session.begin():
        sub = session.scalars(select(Submission).where(Submission.source == "DIF")).one()
        assert sub.blob_id is not None
        env.storage.shred(session, sub.blob_id)
        sub.state, sub.blob_id = "withdrawn", None
    claimed = jobs.claim_next(env.factory, "w")
    assert claimed is not None
    assert jobs.run_job(env.factory, env.storage, claimed, workdir_root=env.work) == "failed"
    run = get_run(env, run_id)
    assert "withdrawn after the run was queued" in run.message
    assert leftovers(env) == []


_WORKER = textwrap.dedent("""
    import sys, threading
    from cifranegra.pipeline import hub_run
    from cifranegra.service import jobs
    from cifranegra.service.config import load_home

    def block(files, *, study, workdir, settings, progress):
        progress("linkage", 0.25)
        threading.Event().wait(600)

    hub_run.run_study = block
    jobs.HEARTBEAT_S = 0.05
    jobs.run_forever(load_home(sys.argv[1]), poll=0.05)
""")


def test_a_worker_killed_mid_run_leaves_a_job_that_is_retried_and_completes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_run, "run_study", fake_run_study())
    run_id = queue(env)
    proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(env.home.path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:  # until the worker reports the run's progress from its heartbeat thread
            run = get_run(env, run_id)
            if run.state == "running" and run.step == "linkage" and leftovers(env):
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the worker did not start the run"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert len(leftovers(env)) == 1  # the killed worker's decrypted lists
    assert get_run(env, run_id).state == "running"
    assert jobs.claim_next(env.factory, "w-next") is None  # the lease has not expired yet
    assert jobs.requeue_stale(env.factory, now=later(1)) == 1
    claimed = jobs.claim_next(env.factory, "w-next")
    assert claimed is not None and claimed.attempts == 2
    assert jobs.run_job(env.factory, env.storage, claimed, workdir_root=env.work) == "succeeded"
    run = get_run(env, run_id)
    assert (run.state, run.attempts, run.worker) == ("succeeded", 2, "w-next")
    assert leftovers(env) == []  # the dead attempt's folder is removed too


def test_run_forever_does_queued_jobs(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_run, "run_study", fake_run_study())
    first, second = queue(env), queue(env)
    assert jobs.run_forever(env.home, poll=0.01, max_jobs=2) == 2
    assert [get_run(env, r).state for r in (first, second)] == ["succeeded", "succeeded"]


def test_clean_work_removes_only_folders_of_attempts_that_are_over(env: Env) -> None:
    live_id, done_id = queue(env), queue(env)
    live = jobs.claim_next(env.factory, "w")
    assert live is not None and live.id == live_id
    with env.factory() as session, session.begin():
        done = session.get(Run, done_id)
        assert done is not None
        done.state, done.attempts = "failed", 3
    keep = env.work / f"run-{live_id}-1-abc"
    stale = [env.work / f"run-{live_id}-0-old", env.work / f"run-{done_id}-3-xyz", env.work / "run-junk"]
    for folder in (keep, *stale):
        folder.mkdir()
        (folder / "list.parquet").write_bytes(b"x")
    assert jobs.clean_work(env.factory, env.work) == 3
    assert leftovers(env) == [keep.name]


def _race(factory: sessionmaker[Session], n_workers: int) -> list[str]:
    """``n_workers`` threads claim at once, each until nothing is left; the ids they got."""
    import threading

    got: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_workers)

    def work(i: int) -> None:
        try:
            barrier.wait()
            while (run := jobs.claim_next(factory, f"w{i}")) is not None:
                got.append(run.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return got


def test_racing_workers_claim_each_job_once_on_sqlite(env: Env) -> None:
    ids = {queue(env) for _ in range(4)}
    got = _race(env.factory, 6)
    assert sorted(got) == sorted(ids)


def test_racing_workers_claim_each_job_once_on_postgresql(fresh_postgres_url: str) -> None:
    from cifranegra.service import migrate

    migrate.upgrade(fresh_postgres_url)
    engine = make_engine(fresh_postgres_url)
    try:
        factory = session_factory(engine)
        with factory() as session, session.begin():
            user = User(username="coord", password_hash="x", role="coordinator")
            session.add(user)
            session.flush()
            study = Study(name="pg-study", created_by=user.id, settings={})
            session.add(study)
            session.flush()
            runs = [Run(study_id=study.id, created_by=user.id, state="queued", submission_ids=[], settings={})
                    for _ in range(5)]
            session.add_all(runs)
            session.flush()
            ids = {r.id for r in runs}
        got = _race(factory, 6)
        assert sorted(got) == sorted(ids)
        with factory() as session:
            assert {r.attempts for r in session.scalars(select(Run))} == {1}
    finally:
        engine.dispose()


# --- hub_run's own refusals (before any list is read) ------------------------------------------------


def test_run_study_refuses_before_reading_anything(tmp_path: Path) -> None:
    one = [("FGR", tmp_path / "a.parquet")]
    with pytest.raises(InputError, match="at least two agencies; the study has 1"):
        hub_run.run_study(one, study="s", workdir=tmp_path / "w")
    twice = [("FGR", tmp_path / "a.parquet"), ("FGR", tmp_path / "b.parquet")]
    with pytest.raises(InputError, match="same list source"):
        hub_run.run_study(twice, study="s", workdir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_run_settings_merge_the_studys_run_keys_and_check_them() -> None:
    study = {"strata": {"sex": ["F", "M"]}, "seed": 7, "publication": {"title": "A"}}
    merged = hub_run.run_settings(study, {"publication": {"title": "B"}})
    assert merged == {"seed": 7, "publication": {"title": "B"}}  # the checks' strata map is not a run key
    with pytest.raises(InputError, match=r"unknown run setting\(s\) \['output'\]"):
        hub_run.run_settings({}, {"output": "/etc"})
    with pytest.raises(InputError):
        hub_run.run_settings({}, {"tabulation": {"strata": ["no-such-column"]}})


def test_settings_are_checked_for_the_number_of_lists_the_run_has() -> None:
    """Two agencies can be estimated with the two-list methods; they are refused for three lists."""
    two_list = {"estimation": {"methods": ["chapman"]}}
    assert hub_run.run_settings({}, two_list, n_lists=2) == two_list
    with pytest.raises(InputError, match="chapman"):
        hub_run.run_settings({}, two_list, n_lists=3)
    hub_run.check_settings(two_list)  # a study's settings: fine if some number of lists suits them
    with pytest.raises(InputError, match="dga"):
        hub_run.run_settings({}, {"estimation": {"methods": ["dga"]}}, n_lists=2)


def test_the_job_runner_survives_a_failure_to_store_and_the_job_is_retried(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_run, "run_study", fake_run_study())
    run_id = queue(env)
    keys_before = n_keys(env)

    def database_gone(*_a: Any, **_k: Any) -> str:
        raise ConnectionError("the database went away")

    store = jobs._store
    monkeypatch.setattr(jobs, "_store", database_gone)
    assert jobs.run_forever(env.home, poll=0.01, max_jobs=1) == 1
    assert get_run(env, run_id).state == "running"  # left to its lease
    assert n_keys(env) == keys_before
    assert leftovers(env) == []
    monkeypatch.setattr(jobs, "_store", store)
    assert jobs.requeue_stale(env.factory, now=later(1)) == 1
    assert jobs.run_forever(env.home, poll=0.01, max_jobs=1) == 1
    run = get_run(env, run_id)
    assert (run.state, run.attempts) == ("succeeded", 2)
