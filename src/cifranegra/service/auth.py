"""Accounts and tokens: argon2 password hashes, opaque bearer tokens, the request's principal.

- Passwords: argon2id (``argon2-cffi`` defaults); an unknown username costs one hash too, so timing
  does not tell which accounts exist.
- Tokens: ``secrets.token_urlsafe(32)`` given to the client once; only its SHA-256 is stored, with an
  expiry (``home.token_ttl``, 12 h by default). Logging out revokes it; a deactivated account's tokens stop
  working at once (checked on every request).
- Where a token comes from: the API (``/api/…``) reads ``Authorization: Bearer TOKEN`` only; the web pages
  read the ``hub_session`` cookie (HttpOnly, SameSite=Strict, with CSRF tokens in forms — see web.py) and
  also accept the header. The API never accepts the cookie, so a page elsewhere cannot make a browser call
  the API with its session.
- :func:`get_principal` → 401 (with ``WWW-Authenticate: Bearer``) when the token is missing, unknown,
  revoked or expired; :func:`require` → 403 for a role that may never use the endpoint. Whether a study is
  visible (404) is each router's business.

The principal is also put on the request's audit record (:mod:`.audit`'s middleware) so that every
entry names its actor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cifranegra.errors import InputError
from cifranegra.service.db import Agency, Study, Token, User, make_engine, session_factory, transaction, utcnow
from cifranegra.service.http_errors import ApiError

COOKIE_NAME = "hub_session"
USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@\-]{0,99}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of any account")


@dataclass(frozen=True)
class Principal:
    """Who is making the request (from a valid token)."""

    user_id: int
    username: str
    role: str
    agency_id: int | None = None
    agency: str | None = None
    study_id: int | None = None
    study: str | None = None


# --- passwords ----------------------------------------------------------------------------------------


def check_username(username: str) -> None:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise InputError(
            "a username has 1 to 100 characters: letters, digits and . _ @ - (starting with a letter or digit)"
        )


def check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InputError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters; choose a longer one")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account with this username and password, else ``None`` (same cost either way). A name
    no account can have (a NUL byte, which PostgreSQL refuses in a query) is looked up nowhere."""
    user = session.scalars(select(User).where(User.username == username)).one_or_none() \
        if USERNAME_RE.fullmatch(username) else None
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def create_first_admin(db_url: str, username: str, password: str) -> None:
    """The first ``hub_admin`` (``hub init``)."""
    engine = make_engine(db_url)
    try:
        with transaction(session_factory(engine)) as session:
            if session.scalars(select(User).where(User.username == username)).first() is not None:
                raise InputError(f"the database has an account named {username!r} already")
            session.add(User(username=username, password_hash=hash_password(password), role="hub_admin"))
    finally:
        engine.dispose()


# --- tokens --------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, ttl: dt.timedelta) -> str:
    """A new bearer token for ``user`` (the caller commits); returned once, stored as its SHA-256."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # the account's tokens that expired a day ago or more are of no use to anyone: drop them
    session.execute(delete(Token).where(Token.user_id == user.id, Token.expires_at < now - dt.timedelta(days=1)))
    session.add(Token(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=now + ttl))
    return token


def revoke_token(session: Session, token: str) -> bool:
    row = session.scalars(select(Token).where(Token.token_hash == token_hash(token))).one_or_none()
    if row is None or row.revoked:
        return False
    row.revoked = True
    return True


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite gives them back without a zone)."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The principal of a valid token (known, not revoked, not expired, account active), else ``None``."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(Token, User).join(User, User.id == Token.user_id).where(Token.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    tok, user = row
    if tok.revoked or not user.active or as_utc(tok.expires_at) <= utcnow():
        return None
    return principal_of(session, user)


def principal_of(session: Session, user: User) -> Principal:
    agency = session.get(Agency, user.agency_id) if user.agency_id is not None else None
    study = session.get(Study, user.study_id) if user.study_id is not None else None
    return Principal(
        user_id=user.id, username=user.username, role=user.role,
        agency_id=user.agency_id, agency=agency.name if agency else None,
        study_id=user.study_id, study=study.name if study else None,
    )


# --- FastAPI dependencies ------------------------------------------------------------------------------


def request_token(request: Request) -> str | None:
    """The bearer token of the request: the header; for web pages (outside /api/) also the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if not request.url.path.startswith("/api/"):
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie:
            return cookie
    return None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def note_principal(request: Request, principal: Principal | None) -> None:
    """Tell the audit middleware who is asking (see :mod:`.audit`)."""
    from cifranegra.service.audit import request_record

    record = request_record(request)
    if record is not None and principal is not None:
        record.actor = principal.username
        record.role = principal.role


def resolve_principal(request: Request) -> Principal | None:
    token = request_token(request)
    if token is None:
        return None
    with request.app.state.sessions() as session:
        principal = principal_for_token(session, token)
    note_principal(request, principal)
    return principal


def optional_principal(request: Request) -> Principal | None:
    """The principal, or ``None`` without a valid token (public pages)."""
    return resolve_principal(request)


def get_principal(request: Request) -> Principal:
    """The principal; 401 without a valid token."""
    if request_token(request) is None:
        raise _unauthorized("log in first: send 'Authorization: Bearer TOKEN' with a token from POST /api/v1/login")
    principal = resolve_principal(request)
    if principal is None:
        raise _unauthorized("the token is unknown, expired or revoked; log in again (POST /api/v1/login)")
    return principal


def require(*roles: str) -> Callable[..., Any]:
    """A dependency: the principal, if its role is one of ``roles``; 401 without a token; else 403."""

    def dependency(request: Request) -> Principal:
        principal = get_principal(request)
        if principal.role not in roles:
            raise ApiError(403, "forbidden", f"your role ({principal.role}) may not use this; it is for: "
                           + ", ".join(roles))
        return principal

    return dependency


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
"""A route parameter annotated with this gets the principal (401 without a valid token)."""
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
"""The principal, or ``None`` for a public caller."""
