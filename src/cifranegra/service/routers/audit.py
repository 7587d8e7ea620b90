"""The audit log, for the ``auditor`` only.

- ``GET /audit?after_id=0&limit=100`` → ``{"entries": [...], "next_after_id"}`` (oldest first; limit ≤ 1000);
- ``GET /audit/verify`` → ``{"ok", "entries", "first_bad_id"}`` (walks the whole hash chain);
- ``GET /audit/export.csv`` → every entry as CSV (streamed), with each entry's hashes so that the
  export can be checked on its own. Cells that a spreadsheet would run as a formula (starting with
  ``= + - @``) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from cifranegra.service import auth
from cifranegra.service.audit import verify
from cifranegra.service.db import AuditEntry

router = APIRouter()
Auditor = Annotated[auth.Principal, Depends(auth.require("auditor"))]
MAX_ENTRY_ID = 2**31 - 1
COLUMNS = ("id", "at", "actor", "role", "action", "target", "client", "outcome", "status", "prev_hash", "hash")


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    out = {c: getattr(entry, c) for c in COLUMNS}
    out["at"] = auth.as_utc(entry.at).isoformat()
    return out


def list_entries(session: Any, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    query = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
    return [entry_dict(e) for e in session.scalars(query)]


@router.get("/audit")
def get_audit(
    request: Request,
    _p: Auditor,
    # at most the largest id an entry can have (PostgreSQL's integer; SQLite's is larger): a bigger number
    # was a 500 (docs/hub.md, section 9: errors are 4xx in one shape)
    after_id: Annotated[int, Query(ge=0, le=MAX_ENTRY_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Entries after ``after_id``, oldest first."""
    with request.app.state.sessions() as session:
        entries = list_entries(session, after_id, limit)
    return {"entries": entries, "next_after_id": entries[-1]["id"] if entries else after_id}


@router.get("/audit/verify")
def get_verify(request: Request, _p: Auditor) -> dict[str, Any]:
    """Check the hash chain end to end."""
    with request.app.state.sessions() as session:
        return verify(session)


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_rows(factory: Any) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    last = 0
    while True:
        with factory() as session:
            batch = list_entries(session, last, 1000)
        for entry in batch:
            writer.writerow([_safe_cell(entry[c]) for c in COLUMNS])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(batch) < 1000:
            return
        last = batch[-1]["id"]


@router.get("/audit/export.csv")
def export_csv(request: Request, _p: Auditor) -> StreamingResponse:
    """Every entry, as CSV."""
    return StreamingResponse(
        _csv_rows(request.app.state.sessions), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="hub-audit.csv"'},
    )
