"""The hub's database: tables, engine and sessions (SQLAlchemy 2).

SQLite by default (WAL journal, ``synchronous=FULL`` so that an acknowledged commit survives a power
cut or ``kill -9``), PostgreSQL as an option. The schema changes only through the Alembic migrations in
``cifranegra/service/migrations`` (:func:`upgrade`), run by ``hub init`` and ``hub serve`` before any
worker starts — never at import.

What the database holds is metadata: who, which study, which file, in which state. Every content —
submitted files, run results, release tables — is in the encrypted store (:mod:`.storage`); a row only
names its blob and holds the blob's key wrapped by the master key (table ``stored_keys``), so deleting
that row destroys the content (crypto-shredding).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

ROLES = ("hub_admin", "coordinator", "analyst", "approver", "agency_submitter", "auditor")
"""Roles of a hub account (see docs/hub.md, 'Roles'). The public needs no account."""

STUDY_ROLES = ("analyst", "approver", "agency_submitter")
"""Roles whose account belongs to one study (``users.study_id`` is set)."""

SUBMISSION_STATES = ("accepted", "withdrawn")
RUN_STATES = ("queued", "running", "succeeded", "failed")
RELEASE_STATES = ("draft", "approved", "withdrawn")


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware (stored as UTC on both back ends)."""
    return dt.datetime.now(dt.timezone.utc)


def new_id() -> str:
    """A random identifier for a row that is shown to users (not guessable, unlike a counter)."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the study name is the project salt of the encodings (`cifranegra encode --project NAME`)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # pinned by the first accepted submission: every later one must use the same spec and key
    spec_fingerprint: Mapped[str | None] = mapped_column(String(128), nullable=True)
    key_check: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # {"strata": {"sex": ["F", "M", ...], ...}, "methods": [...], ...}: settings of runs and checks
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), nullable=True)
    # analyst, approver, agency_submitter: the one study the account works on
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id", use_alter=True), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Token(Base):
    """A bearer token; only its SHA-256 is stored, so a copy of the database logs nobody in."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # ix_tokens_user_id
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class StoredKey(Base):
    """The key of one encrypted blob, wrapped (AES-GCM) by the master key. Deleting the row shreds
    the blob: without its key the file on disk is noise. Master-key rotation rewraps this table only."""

    __tablename__ = "stored_keys"
    blob_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))  # of the plaintext
    size: Mapped[int] = mapped_column(Integer)  # of the plaintext
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("study_id", "agency_id", "idempotency_key", name="uq_submission_idem"),
        Index("ix_submissions_study", "study_id", "agency_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))  # the list's name inside the encoded file
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    n_records: Mapped[int] = mapped_column(Integer)
    # warnings found by the checks (errors refuse the file); row numbers and codes only, no values
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="accepted")
    blob_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None once withdrawn
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Run(Base):
    """A durable job: link and estimate the study's accepted submissions (see :mod:`.jobs`)."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # ix_runs_state
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")  # failure reason, never data values
    submission_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # encrypted blobs: the internal results (unsuppressed aggregates, diagnostics) and the
    # disclosure-controlled publish/ folder (a zip) that a release is drafted from
    internal_blob_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    publish_blob_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Release(Base):
    __tablename__ = "releases"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    title: Mapped[str] = mapped_column(String(300), default="")
    drafted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the disclosure-controlled content (tables, report files) as an encrypted blob; None once withdrawn
    content_blob_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # a withdrawal (retraction): who, when and the public reason; the content is destroyed
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    withdrawal_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class AuditEntry(Base):
    """One request that read or changed data. ``hash`` = SHA-256 of the previous entry's hash and this
    entry's canonical JSON (:mod:`.audit`), so a removed or altered row breaks the chain."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # username, or "-" when not logged in; indexed for counting an account's recent failed logins
    actor: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(200))  # e.g. "POST /api/v1/studies/{study}/submissions"
    target: Mapped[str] = mapped_column(String(300))  # e.g. "study=s1 submission=ab12…"
    client: Mapped[str] = mapped_column(String(100))  # remote address
    outcome: Mapped[str] = mapped_column(String(32))  # "ok", "denied", "failed", "error"
    status: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row (id=1): the last entry's id and hash, locked while appending so that concurrent
    writers (several uvicorn workers) extend one chain."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class Setting(Base):
    """Hub-wide settings and markers (e.g. the active master key id, retention days)."""

    __tablename__ = "hub_settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- engine and sessions ----------------------------------------------------------------------------


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///…/hub.db`` or ``postgresql+psycopg://…``).

    SQLite: WAL journal, ``synchronous=FULL`` (durable commits), foreign keys on, a busy timeout so
    that several worker processes wait for each other instead of failing.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on any exception."""
    with factory() as session, session.begin():
        yield session
