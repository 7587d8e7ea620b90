"""The audit log: one hash-chained entry per request that reads or changes data.

Chain: entry ``n`` stores ``prev_hash`` (entry ``n-1``'s hash, or 64 zeros for the first) and
``hash = SHA-256(prev_hash || canonical JSON of its fields)``, the fields being id, time (UTC, µs), actor,
role, action, target, client, outcome and status. Ids run 1, 2, 3… without gaps; the ``audit_head`` row
holds the last id and hash. So an altered row fails its hash, a removed row breaks the next entry's
``prev_hash`` (or, for the last one, the head), and an inserted row breaks the numbering.
:func:`verify` reports the first bad id.

Appending locks the head row first — ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite an ``UPDATE`` of
the head before reading it, which takes the database's write lock as ``BEGIN IMMEDIATE`` would — so
concurrent writers (threads, several uvicorn workers) extend one chain.

What is recorded (the middleware, :class:`AuditMiddleware`): every request under ``/api/v1`` except
``/healthz`` and the OpenAPI documents, every web ``POST``, and every web ``GET`` made with a valid
session (a logged-in page shows data). Each entry has the actor (username, or ``"-"``), role, the route
template (``"POST /api/v1/studies/{study}/submissions"``: never the query string), the target (the path
parameters, ``study=s1 id=ab…``, plus what the route names with :func:`note_target`, e.g. the study it
created), the client address, outcome and status; it is written *before* the
response is sent, so an acknowledged request always has its entry; if it cannot be written the client
gets a 500 instead. Failed logins: the actor is the attempted username only when such an account
exists (a password typed into the username field is never logged), else ``"-"``; the role is ``"-"``.
Outcomes: ``ok`` (< 400), ``denied`` (401, 403, 404 — 404 is how studies one does not belong to are
refused), ``failed`` (other 4xx), ``error`` (5xx).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.service.db import AuditEntry, AuditHead, transaction, utcnow

log = logging.getLogger("cifranegra.service")

GENESIS = "0" * 64
API_PREFIX = "/api/v1"
NO_ACTOR = "-"
_SKIPPED = ("/api/v1/healthz", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/redoc", "/api/v1/docs/oauth2-redirect")
_LIMITS = {"actor": 100, "role": 32, "action": 200, "target": 300, "client": 100, "outcome": 32}


def _utc_text(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(entry_id: int, at: dt.datetime, fields: dict[str, Any]) -> bytes:
    """The canonical JSON of an entry (sorted keys, no spaces, UTF-8)."""
    doc = {"id": entry_id, "at": _utc_text(at), **{k: fields[k] for k in (*_LIMITS, "status")}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(prev_hash: str, entry_id: int, at: dt.datetime, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry_id, at, fields)).hexdigest()


def _clean(value: object, limit: int) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text[:limit]


def _lock_head(session: Session) -> AuditHead:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id))
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    else:
        head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()
    session.refresh(head)
    return head


def record(
    session: Session, *, actor: str, role: str, action: str, target: str, client: str, outcome: str, status: int
) -> AuditEntry:
    """Append one entry to the chain (the caller commits; the head stays locked until then)."""
    fields: dict[str, Any] = {
        "actor": _clean(actor or NO_ACTOR, _LIMITS["actor"]),
        "role": _clean(role or NO_ACTOR, _LIMITS["role"]),
        "action": _clean(action, _LIMITS["action"]),
        "target": _clean(target, _LIMITS["target"]),
        "client": _clean(client or NO_ACTOR, _LIMITS["client"]),
        "outcome": _clean(outcome, _LIMITS["outcome"]),
        "status": int(status),
    }
    head = _lock_head(session)
    entry_id = head.last_id + 1
    at = utcnow()
    digest = chain_hash(head.last_hash, entry_id, at, fields)
    entry = AuditEntry(id=entry_id, at=at, prev_hash=head.last_hash, hash=digest, **fields)
    session.add(entry)
    head.last_id = entry_id
    head.last_hash = digest
    session.flush()
    return entry


def append(factory: sessionmaker[Session], **fields: Any) -> None:
    """:func:`record` in its own transaction."""
    with transaction(factory) as session:
        record(session, **fields)


def entry_fields(entry: AuditEntry) -> dict[str, Any]:
    return {k: getattr(entry, k) for k in (*_LIMITS, "status")}


def verify(session: Session) -> dict[str, Any]:
    """Walk the chain: ``{"ok": bool, "entries": n, "first_bad_id": id or None}``.

    ``first_bad_id`` is the first entry whose hash, predecessor or number is wrong; when only the last
    entries were removed, it is the first missing id (the head remembers how far the chain went)."""
    prev, expected_id, count = GENESIS, 1, 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)):
        count += 1
        good = (
            entry.id == expected_id
            and entry.prev_hash == prev
            and entry.hash == chain_hash(prev, entry.id, entry.at, entry_fields(entry))
        )
        if not good:
            return {"ok": False, "entries": count, "first_bad_id": min(entry.id, expected_id)}
        prev, expected_id = entry.hash, entry.id + 1
    head = session.get(AuditHead, 1)
    if head is None or head.last_id != expected_id - 1 or head.last_hash != prev:
        return {"ok": False, "entries": count, "first_bad_id": expected_id}
    return {"ok": True, "entries": count, "first_bad_id": None}


# --- the middleware ------------------------------------------------------------------------------------


@dataclass
class RequestRecord:
    """What the routes tell the middleware about a request (who; for logins, who tried)."""

    actor: str = NO_ACTOR
    role: str = NO_ACTOR
    skip: bool = False
    extra: str = ""  # what the route adds to the target (e.g. the name of what it created)


_SCOPE_KEY = "cifranegra.audit"


def request_record(request: Any) -> RequestRecord | None:
    """The audit record of the request being served, if the middleware is on."""
    record_ = request.scope.get(_SCOPE_KEY)
    return record_ if isinstance(record_, RequestRecord) else None


ALWAYS, IF_LOGGED_IN = "always", "if_logged_in"


def note_target(request: Any, **fields: object) -> None:
    """Add ``key=value`` pairs to the request's audit target (names and ids only, never data values):
    e.g. ``note_target(request, study=name)`` when a route creates a study."""
    record_ = request_record(request)
    if record_ is not None:
        added = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        record_.extra = f"{record_.extra} {added}".strip()


def audit_mode(method: str, path: str) -> str | None:
    """Whether a request is audited: always (API, web POST), only when made with a valid session
    (other web pages: a logged-in page shows data), or never (health, API documents, static files)."""
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return None if path in _SKIPPED else ALWAYS
    if method == "POST":
        return ALWAYS
    if path.startswith("/static/") or path == "/favicon.ico":
        return None
    return IF_LOGGED_IN


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403, 404):
        return "denied"
    return "failed" if status < 500 else "error"


def _route_and_target(scope: dict[str, Any]) -> tuple[str, str]:
    """The route template (``/api/v1/studies/{study}``) or, without a matched route, the path (cut short),
    and the path parameters."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    path = str(scope.get("path", ""))
    if isinstance(template, str):
        # an included router's route keeps its own path; the API prefix is put back
        action_path = API_PREFIX + template if path.startswith(API_PREFIX + "/") and not template.startswith(
            API_PREFIX + "/") else template
    else:
        action_path = path if len(path) <= 120 else path[:120] + "…"
    params = scope.get("path_params") or {}
    target = " ".join(f"{k}={v}" for k, v in params.items())
    return f"{scope.get('method', '?')} {action_path}", target


class AuditMiddleware:
    """ASGI middleware writing one audit entry per audited request (see the module docstring)."""

    def __init__(self, app: Any, factory_of: Any) -> None:
        self.app = app
        self.factory_of = factory_of  # () -> sessionmaker (app.state.sessions, read at request time)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        mode = audit_mode(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        if mode is None:
            await self.app(scope, receive, send)
            return
        rec = RequestRecord()
        scope[_SCOPE_KEY] = rec
        started = False

        async def write(status: int) -> None:
            if rec.skip or (mode == IF_LOGGED_IN and rec.actor == NO_ACTOR):
                return
            action, target = _route_and_target(scope)
            target = f"{target} {rec.extra}".strip()
            client = scope.get("client")
            fields = {"actor": rec.actor, "role": rec.role, "action": action, "target": target,
                      "client": client[0] if client else NO_ACTOR, "outcome": outcome_of(status), "status": status}
            await anyio.to_thread.run_sync(lambda: append(self.factory_of(), **fields))

        failed = False

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal started, failed
            if failed:  # the client has its 500 already: the app's own answer is dropped
                return
            if message["type"] == "http.response.start" and not started:
                started = True
                try:
                    await write(int(message["status"]))
                except Exception as exc:
                    log.error("audit entry not written (%s); answering 500", type(exc).__name__)
                    failed = True
                    await _send_500(send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            log.error("internal error: %s", type(exc).__name__)
            try:
                await write(500)
            except Exception as audit_exc:
                log.error("audit entry not written (%s)", type(audit_exc).__name__)
            await _send_500(send)


async def _send_500(send: Any) -> None:
    from cifranegra.service.http_errors import error_body

    body = json.dumps(error_body(500, "internal_error", "internal error")).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
