"""``POST /login`` and ``POST /logout``.

``POST /login {"username", "password"}`` → 200 ``{"token", "expires_at", "role", "username"}``; a wrong
username or password (or an inactive account) → 401 with one message for all three, so a caller cannot
learn which accounts exist. The audit entry of a failed login names the account only when it exists
(see :mod:`cifranegra.service.audit`). After :data:`MAX_FAILED_LOGINS` failures of one account within
:data:`FAILURE_WINDOW` (counted in the audit log, so every worker agrees), its logins are refused with
429 until the window has passed — guessing passwords becomes slow; the price is that someone can keep an
account locked by failing on purpose, which the audit log shows. ``POST /logout`` revokes the token it is
called with → 200.

:func:`log_in` and :func:`log_out` are what the web pages call too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cifranegra.service import auth
from cifranegra.service.audit import request_record
from cifranegra.service.db import AuditEntry, User, transaction, utcnow
from cifranegra.service.http_errors import ApiError

router = APIRouter()

MAX_FAILED_LOGINS = 10
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOGIN_ACTIONS = ("POST /api/v1/login", "POST /login")  # the API's and the web page's


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=auth.MAX_PASSWORD)


def recent_failures(session: Session, username: str) -> int:
    """Failed logins of the account in the last :data:`FAILURE_WINDOW` (API and web), from the audit log."""
    return int(session.scalar(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == username, AuditEntry.action.in_(LOGIN_ACTIONS), AuditEntry.status.in_((401, 429)),
            AuditEntry.at >= utcnow() - FAILURE_WINDOW)
    ) or 0)


def log_in(request: Request, username: str, password: str) -> tuple[str, dt.datetime, auth.Principal]:
    """Check the password and issue a token; 401 otherwise, 429 after too many failures. Tells the audit
    record who tried."""
    record = request_record(request)
    with transaction(request.app.state.sessions) as session:
        # a name no account can have is not looked up: a NUL byte in it was a 500 on PostgreSQL
        exists = auth.USERNAME_RE.fullmatch(username) is not None and session.scalars(
            select(User.id).where(User.username == username)).first() is not None
        if exists and recent_failures(session, username) >= MAX_FAILED_LOGINS:
            if record is not None:
                record.actor = username
            raise ApiError(429, "too_many_attempts", "too many failed logins for this account; wait "
                           f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes and try again")
        user = auth.authenticate(session, username, password)
        if user is None:
            if record is not None and exists:
                record.actor = username
            raise ApiError(401, "login_failed", "wrong username or password (or the account is deactivated)")
        token = auth.issue_token(session, user, request.app.state.home.token_ttl)
        principal = auth.principal_of(session, user)
        expires = utcnow() + request.app.state.home.token_ttl
    auth.note_principal(request, principal)
    return token, expires, principal


def log_out(request: Request, token: str) -> bool:
    with transaction(request.app.state.sessions) as session:
        return auth.revoke_token(session, token)


@router.post("/login")
def login(body: LoginRequest, request: Request) -> dict[str, Any]:
    """Exchange a username and password for a bearer token."""
    token, expires, principal = log_in(request, body.username, body.password)
    return {"token": token, "expires_at": expires.isoformat(), "role": principal.role,
            "username": principal.username}


@router.post("/logout")
def logout(request: Request, _p: auth.CurrentPrincipal) -> dict[str, bool]:
    """Revoke the token this request carries."""
    token = auth.request_token(request)
    return {"revoked": bool(token and log_out(request, token))}
