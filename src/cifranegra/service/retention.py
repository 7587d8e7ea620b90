"""Retention: submitted files are kept N days, then crypto-shredded (``cifranegra hub retention DIR --days N``).

A submission older than the limit has its blob shredded (key row deleted, file unlinked after the
commit) and becomes ``withdrawn`` with ``withdrawn_at`` set and no blob — the same end state as a
withdrawal by its agency, so later runs leave it out for the same reason. Its metadata row (study,
agency, size, checksum, record count) stays: the audit trail of what was received outlives the
content. Run results and releases are aggregates, not record-level data, and are not touched.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cifranegra.errors import InputError
from cifranegra.service.db import Submission, utcnow
from cifranegra.service.storage import Storage


def apply_retention(session: Session, storage: Storage, days: int, *, now: dt.datetime | None = None) -> int:
    """Shred every accepted submission created more than ``days`` days before ``now`` (default: now,
    UTC) and mark it withdrawn. The caller commits (files are unlinked then). Returns how many."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InputError("--days must be a whole number of days, 1 or more (how long a submitted file is kept)")
    now = utcnow() if now is None else now
    cutoff = now - dt.timedelta(days=days)
    expired = session.scalars(
        select(Submission).where(Submission.state == "accepted", Submission.created_at < cutoff)
    ).all()
    for submission in expired:
        if submission.blob_id is not None:
            storage.shred(session, submission.blob_id)
        submission.blob_id = None
        submission.state = "withdrawn"
        submission.withdrawn_at = now
    return len(expired)
