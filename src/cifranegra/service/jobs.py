"""Runs as durable jobs, tracked in the hub's own database.

A run is a row of ``runs`` (:class:`~.db.Run`): ``queued`` → ``running`` → ``succeeded`` or ``failed``.

- :func:`enqueue` records which submissions the run takes (the latest accepted submission of each
  agency, fixed when the run is queued) and its settings (checked before anything is decrypted).
- :func:`claim_next` takes one job atomically: a compare-and-set ``UPDATE … WHERE state='queued' OR
  (state='running' AND heartbeat older than the lease AND attempts < MAX_ATTEMPTS)``, so two workers
  never hold one job, and a job whose worker died is taken again once its lease has expired.
- :func:`run_job` decrypts the submissions into a private temporary folder, calls
  :func:`cifranegra.pipeline.hub_run.run_study`, beats the heart (and reports progress) from a thread
  while it works, then stores the internal aggregates (:data:`~cifranegra.pipeline.hub_run.INTERNAL_FILES`:
  never ``entities.csv``) and the ``publish/`` folder as two encrypted zip blobs and sets
  ``succeeded`` in the same commit — guarded by the claim (worker and attempt), so a worker that lost
  its lease publishes nothing. A failure sets ``failed`` with the error's message (the pipeline's
  messages name files and settings, never data values; anything unexpected is reported by its type
  only). The temporary folder is always removed; one left by a killed worker is removed when the job is
  claimed again.
- :func:`requeue_stale` (at start-up) puts the running jobs whose heartbeat expired back in the queue,
  or fails them after :data:`MAX_ATTEMPTS`; :func:`run_forever` is the job-runner process of ``hub serve``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.errors import CifranegraError
from cifranegra.pipeline import hub_run
from cifranegra.service import audit
from cifranegra.service.db import Run, Study, Submission, new_id, transaction, utcnow

log = logging.getLogger("cifranegra.service.jobs")

LEASE = dt.timedelta(seconds=60)
"""A running job whose heartbeat is older than this is taken to have lost its worker."""
HEARTBEAT_S = 5.0
"""How often a working job writes its heartbeat and progress."""
MAX_ATTEMPTS = 3
"""A job is tried at most this many times (a worker that dies each time fails it for good)."""
WORK_DIR = "work"
"""The folder of the hub's home where runs decrypt their lists (mode 0700), one sub-folder per attempt."""


class JobError(CifranegraError):
    """A run cannot be queued (e.g. fewer than two agencies have submitted)."""


# --- queueing --------------------------------------------------------------------------------------


def current_submissions(session: Session, study_id: int) -> list[Submission]:
    """The submissions a run takes: the latest accepted one of each agency (older ones are superseded)."""
    rows = session.scalars(
        select(Submission).where(Submission.study_id == study_id, Submission.state == "accepted")
        .order_by(Submission.created_at, Submission.id)
    ).all()
    latest: dict[int, Submission] = {}
    for sub in rows:
        latest[sub.agency_id] = sub
    return sorted(latest.values(), key=lambda s: s.source)


def enqueue(session: Session, study: Study, user_id: int, settings: Mapping[str, Any] | None = None) -> Run:
    """Queue a run of ``study``'s current submissions (the caller commits). :class:`JobError` when fewer
    than two agencies have submitted; the settings' problems raise the pipeline's ``InputError``."""
    subs = current_submissions(session, study.id)
    if len(subs) < 2:
        raise JobError(f"a run needs accepted submissions from at least two agencies; this study has {len(subs)}")
    merged = hub_run.run_settings(study.settings or {}, settings, n_lists=len(subs))
    run = Run(id=new_id(), study_id=study.id, created_by=user_id, state="queued", progress=0.0, step="queued",
              message="", submission_ids=[s.id for s in subs], settings=merged, attempts=0)
    session.add(run)
    session.flush()
    return run


# --- claiming --------------------------------------------------------------------------------------


def _claimable(now: dt.datetime, lease: dt.timedelta) -> Any:
    stale = and_(Run.state == "running", or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < now - lease),
                 Run.attempts < MAX_ATTEMPTS)
    return or_(Run.state == "queued", stale)


def claim_next(
    factory: sessionmaker[Session], worker: str, *, lease: dt.timedelta = LEASE, now: dt.datetime | None = None
) -> Run | None:
    """Claim the oldest claimable job for ``worker`` (``state='running'``, ``attempts+1``), or ``None``.

    Atomic on SQLite and PostgreSQL: the ``UPDATE`` repeats the claimable condition, so of two workers
    racing for one job exactly one updates a row."""
    at = now or utcnow()
    with factory() as session:
        candidates = session.scalars(
            select(Run.id).where(_claimable(at, lease)).order_by(Run.created_at, Run.id).limit(10)
        ).all()
        session.rollback()
        for run_id in candidates:
            result = session.execute(
                update(Run).where(Run.id == run_id, _claimable(at, lease)).values(
                    state="running", worker=worker, attempts=Run.attempts + 1, heartbeat_at=at,
                    started_at=at, step="starting", progress=0.0, message="",
                ).execution_options(synchronize_session=False)
            )
            session.commit()
            if getattr(result, "rowcount", 0) == 1:
                return session.get(Run, run_id)
    return None


def requeue_stale(factory: sessionmaker[Session], *, lease: dt.timedelta = LEASE,
                  now: dt.datetime | None = None) -> int:
    """Running jobs whose heartbeat expired: back to ``queued`` (or ``failed`` after :data:`MAX_ATTEMPTS`).
    Returns how many were changed."""
    at = now or utcnow()
    expired = and_(Run.state == "running", or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < at - lease))
    with transaction(factory) as session:
        requeued = session.execute(
            update(Run).where(expired, Run.attempts < MAX_ATTEMPTS)
            .values(state="queued", worker=None, step="queued again: its worker stopped")
            .execution_options(synchronize_session=False))
        failed = session.execute(
            update(Run).where(expired, Run.attempts >= MAX_ATTEMPTS)
            .values(state="failed", finished_at=at, worker=None,
                    message=f"the run's worker stopped {MAX_ATTEMPTS} times before it finished; start a new run "
                    "(if it keeps stopping, check the hub's memory and log)")
            .execution_options(synchronize_session=False))
    return int(getattr(requeued, "rowcount", 0) or 0) + int(getattr(failed, "rowcount", 0) or 0)


# --- running ---------------------------------------------------------------------------------------


def _mine(run_id: str, worker: str, attempt: int) -> Any:
    return and_(Run.id == run_id, Run.state == "running", Run.worker == worker, Run.attempts == attempt)


class _Heart:
    """A thread that writes the heartbeat and the latest progress every ``every`` seconds; it notes when
    the claim was lost (another worker took the job), so the result is not stored."""

    def __init__(self, factory: sessionmaker[Session], run_id: str, worker: str, attempt: int, every: float):
        self.factory, self.run_id, self.worker, self.attempt, self.every = factory, run_id, worker, attempt, every
        self.step, self.progress = "starting", 0.0
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id[:8]}", daemon=True)

    def report(self, step: str, fraction: float) -> None:
        self.step, self.progress = step[:200], float(fraction)

    def beat(self) -> None:
        with transaction(self.factory) as session:
            result = session.execute(
                update(Run).where(_mine(self.run_id, self.worker, self.attempt))
                .values(heartbeat_at=utcnow(), step=self.step, progress=self.progress)
                .execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) != 1:
            self.lost = True

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception as exc:  # a busy database: try again at the next beat
                log.warning("run %s: heartbeat not written (%s)", self.run_id, type(exc).__name__)

    def __enter__(self) -> _Heart:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _zip_folder(folder: Path, names: list[str] | None = None) -> bytes:
    """The files of ``folder`` (all, or only ``names``) as a zip, with paths relative to it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if names is None:
            paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        else:
            paths = [folder / n for n in names if (folder / n).is_file()]
        for path in paths:
            zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def zip_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return sorted(i.filename for i in zf.infolist() if not i.is_dir())


def zip_member(data: bytes, name: str) -> bytes | None:
    """One file of a result zip by its exact name, or ``None`` (names are matched, never joined to a path)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        if name not in {i.filename for i in zf.infolist() if not i.is_dir()}:
            return None
        return zf.read(name)


def work_root(home_path: Path) -> Path:
    root = Path(home_path) / WORK_DIR
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    return root


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, CifranegraError):
        return str(exc)[:4000]
    return (f"the run stopped on an internal error ({type(exc).__name__}); nothing was published. "
            "Check the hub's log and start a new run")


def run_job(
    factory: sessionmaker[Session],
    storage: Any,
    run: Run,
    *,
    workdir_root: Path,
    heartbeat_s: float | None = None,
) -> str:
    """Do the claimed job ``run`` (from :func:`claim_next`); returns its final state as this worker saw it:
    ``succeeded``, ``failed``, or ``lost`` (another worker holds it now: nothing was stored)."""
    assert run.worker is not None
    run_id, worker, attempt = run.id, run.worker, run.attempts
    for old in Path(workdir_root).glob(f"run-{run_id}-*"):  # left by a killed worker's earlier attempt
        shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"run-{run_id}-{attempt}-", dir=workdir_root))
    os.chmod(tmp, 0o700)
    try:
        every = HEARTBEAT_S if heartbeat_s is None else heartbeat_s
        with _Heart(factory, run_id, worker, attempt, every) as heart:
            try:
                output = _work(factory, storage, run, tmp, heart)
            except Exception as exc:
                heart.lost = heart.lost or _still_mine(factory, run_id, worker, attempt) is False
                if heart.lost:
                    return "lost"
                message = _failure_message(exc).replace(str(tmp), "(the run's temporary folder)")
                _finish(factory, run_id, worker, attempt, state="failed", message=message)
                log.info("run %s failed (%s)", run_id, type(exc).__name__)
                return "failed"
        return _store(factory, storage, run_id, worker, attempt, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _audit(session: Session, worker: str, action: str, target: str, outcome: str) -> None:
    """The job runner's own reads and writes of data in the audit log (actor ``job-runner``, role
    ``worker``, client = the worker's name, status 0: not an HTTP request); the caller commits."""
    audit.record(session, actor="job-runner", role="worker", action=action, target=target, client=worker,
                 outcome=outcome, status=0)


def _still_mine(factory: sessionmaker[Session], run_id: str, worker: str, attempt: int) -> bool:
    with factory() as session:
        return session.scalars(select(Run.id).where(_mine(run_id, worker, attempt))).first() is not None


def _work(factory: sessionmaker[Session], storage: Any, run: Run, tmp: Path, heart: _Heart) -> hub_run.HubRunOutput:
    lists = tmp / "input"
    lists.mkdir(mode=0o700)
    files: list[tuple[str, Path]] = []
    with factory() as session:
        study = session.get(Study, run.study_id)
        if study is None:  # pragma: no cover - rows are never deleted
            raise JobError("the run's study no longer exists")
        study_name = study.name
        for i, sub_id in enumerate(run.submission_ids):
            sub = session.get(Submission, sub_id)
            if sub is None or sub.state != "accepted" or sub.blob_id is None:
                raise JobError(f"submission {sub_id} was withdrawn after the run was queued; start a new run")
            path = lists / f"list-{i + 1}.parquet"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(storage.get(session, sub.blob_id))
            files.append((sub.source, path))
        _audit(session, run.worker or "-", "RUN decrypt submissions",
               f"study={study_name} run={run.id} submissions={','.join(run.submission_ids)}", "ok")
        session.commit()
    heart.report("linking and estimating", 0.0)
    return hub_run.run_study(files, study=study_name, workdir=tmp / "project", settings=run.settings or {},
                             progress=heart.report)


def _store(factory: sessionmaker[Session], storage: Any, run_id: str, worker: str, attempt: int,
           output: hub_run.HubRunOutput) -> str:
    """Both blobs and ``succeeded`` in one commit, only while the claim is still ours."""
    internal = _zip_folder(output.internal_dir, list(hub_run.INTERNAL_FILES))
    publish = _zip_folder(output.publish_dir)
    with factory() as session:
        written: list[str] = []
        try:
            with session.begin():
                written.append(storage.put(session, internal))
                written.append(storage.put(session, publish))
                result = session.execute(
                    update(Run).where(_mine(run_id, worker, attempt)).values(
                        state="succeeded", progress=1.0, step="done", message="", finished_at=utcnow(),
                        heartbeat_at=utcnow(), internal_blob_id=written[0], publish_blob_id=written[1],
                    ).execution_options(synchronize_session=False))
                if getattr(result, "rowcount", 0) != 1:
                    raise _LostClaimError
                _audit(session, worker, "RUN store results", f"run={run_id} attempt={attempt}", "ok")
        except _LostClaimError:
            discard_blobs(storage, written)
            return "lost"
        except BaseException:
            discard_blobs(storage, written)
            raise
    log.info("run %s succeeded", run_id)
    return "succeeded"


class _LostClaimError(Exception):
    pass


def discard_blobs(storage: Any, blob_ids: list[str]) -> None:
    """Remove the files of blobs whose key rows were rolled back (else the orphan sweep would)."""
    for blob_id in blob_ids:
        with contextlib.suppress(OSError, CifranegraError):  # the orphan sweep removes what is left
            storage.path(blob_id).unlink()


def _finish(factory: sessionmaker[Session], run_id: str, worker: str, attempt: int, *, state: str,
            message: str) -> None:
    with transaction(factory) as session:
        result = session.execute(update(Run).where(_mine(run_id, worker, attempt)).values(
            state=state, message=message, finished_at=utcnow(), heartbeat_at=utcnow(),
        ).execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0) == 1:
            _audit(session, worker, "RUN finish", f"run={run_id} attempt={attempt} state={state}",
                   "failed" if state == "failed" else "ok")


# --- the job-runner process ------------------------------------------------------------------------


def clean_work(factory: sessionmaker[Session], root: Path) -> int:
    """Remove the folders of attempts that are over (their run is not running that attempt any more):
    decrypted lists left by a killed worker whose job was then failed or finished elsewhere. Returns
    how many were removed. Run by the job runner at start (one job runner per hub)."""
    removed = 0
    for folder in Path(root).glob("run-*"):
        parts = folder.name.split("-")
        run_id, attempt = (parts[1], parts[2]) if len(parts) >= 4 else ("", "")
        with factory() as session:
            live = session.scalars(select(Run.id).where(
                Run.id == run_id, Run.state == "running",
                Run.attempts == (int(attempt) if attempt.isdigit() else -1))).first()
        if live is None:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed



def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{new_id()[:8]}"


def run_forever(home: Any, poll: float = 1.0, *, stop: threading.Event | None = None,
                max_jobs: int | None = None) -> int:
    """The job runner of ``hub serve``: claim and do jobs until ``stop`` is set (or ``max_jobs`` done).
    Returns how many jobs it did."""
    from cifranegra.service.db import make_engine, session_factory
    from cifranegra.service.storage import open_storage

    engine = make_engine(home.db_url)
    factory = session_factory(engine)
    stop = stop or threading.Event()
    done = 0
    try:
        with transaction(factory) as session:
            storage = open_storage(home, session)
        root = work_root(home.path)
        clean_work(factory, root)
        worker = worker_name()
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            try:
                run = claim_next(factory, worker)
            except Exception as exc:  # the database is busy or restarting: wait and try again
                log.warning("job runner: no job claimed (%s)", type(exc).__name__)
                run = None
            if run is None:
                stop.wait(poll)
                continue
            try:
                run_job(factory, storage, run, workdir_root=root)
            except Exception as exc:  # e.g. the database went away while storing: the lease expires, it is retried
                log.error("job runner: run %s not finished (%s); it is retried after its lease", run.id,
                          type(exc).__name__)
            done += 1
    finally:
        engine.dispose()
    return done


def wait_for(factory: sessionmaker[Session], run_id: str, states: tuple[str, ...], timeout: float = 60.0) -> str:
    """Poll until the run is in one of ``states`` (tests and scripts); returns the state."""
    end = time.monotonic() + timeout
    while True:
        with factory() as session:
            state = session.scalars(select(Run.state).where(Run.id == run_id)).one()
        if state in states or time.monotonic() > end:
            return str(state)
        time.sleep(0.05)
