"""Accounts and agencies (``hub_admin`` only).

- ``POST /agencies {"name"}`` → 201 ``{"name"}``; 409 if it exists. ``GET /agencies`` → ``{"agencies": [...]}``.
- ``POST /users {"username", "password", "role", "agency"?, "study"?}`` → 201 ``{"username", "role",
  "agency", "study"}``. Rules: ``agency_submitter`` needs an agency and a study; ``analyst`` and ``approver``
  a study (an agency is optional: whom they work for); ``coordinator``, ``auditor`` and ``hub_admin`` work
  on no single study (a coordinator creates its own). The agency and study must exist (create the agency
  first; the study is created by its coordinator). 409 if the username is taken.
- ``GET /users`` → ``{"users": [{"username", "role", "agency", "study", "active", "created_at"}]}``.
- ``POST /users/{username}/deactivate`` → 200: the account and every token of it stop working at once
  (accounts are never deleted: the audit log names them).

Passwords are hashed (argon2) and never returned or logged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cifranegra.errors import InputError
from cifranegra.service import auth
from cifranegra.service.audit import note_target
from cifranegra.service.db import ROLES, STUDY_ROLES, Agency, Study, User, transaction
from cifranegra.service.http_errors import ApiError
from cifranegra.service.routers.studies import STUDY_NAME

router = APIRouter()
Admin = Annotated[auth.Principal, Depends(auth.require("hub_admin"))]
AGENCY_NAME_MAX = 200


class AgencyIn(BaseModel):
    name: str = Field(min_length=1, max_length=AGENCY_NAME_MAX)


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=auth.MAX_PASSWORD)
    role: str
    agency: str | None = Field(default=None, max_length=AGENCY_NAME_MAX)
    study: str | None = Field(default=None, max_length=200)


def _bad(message: str) -> ApiError:
    return ApiError(422, "invalid_request", message)


def check_agency_name(name: str) -> str:
    name = name.strip()
    if not name or any(not ch.isprintable() for ch in name):
        raise _bad("an agency name is 1 to 200 printable characters")
    return name


def create_agency(session: Session, name: str) -> Agency:
    name = check_agency_name(name)
    if session.scalars(select(Agency).where(Agency.name == name)).first() is not None:
        raise ApiError(409, "exists", "an agency with this name exists already")
    agency = Agency(name=name)
    session.add(agency)
    session.flush()
    return agency


def create_user(session: Session, body: UserIn) -> dict[str, Any]:
    """Validate and add an account (the caller commits)."""
    try:
        auth.check_username(body.username)
        auth.check_password(body.password)
    except InputError as exc:
        raise _bad(str(exc)) from None
    if body.role not in ROLES:
        raise _bad("role must be one of: " + ", ".join(ROLES))
    if body.role == "agency_submitter" and not body.agency:
        raise _bad("an agency_submitter account needs its agency ('agency')")
    if body.role in STUDY_ROLES and not body.study:
        raise _bad(f"a {body.role} account works on one study: give 'study'")
    if body.role not in STUDY_ROLES and body.study:
        raise _bad(f"a {body.role} account works on no single study: leave 'study' out")
    if body.role in ("hub_admin", "auditor", "coordinator") and body.agency:
        raise _bad(f"a {body.role} account belongs to no agency: leave 'agency' out")
    agency = study = None
    # names that no agency or study can have (a NUL byte: PostgreSQL refuses it in a query, a 500) are
    # not looked up
    if body.agency:
        name = body.agency.strip()
        agency = session.scalars(select(Agency).where(Agency.name == name)).first() \
            if name and all(ch.isprintable() for ch in name) else None
        if agency is None:
            raise _bad("no agency with this name; create it first (POST /api/v1/agencies)")
    if body.study:
        study = session.scalars(select(Study).where(Study.name == body.study)).first() \
            if STUDY_NAME.fullmatch(body.study) else None
        if study is None:
            raise _bad("no study with this name; its coordinator creates it first (POST /api/v1/studies)")
    if session.scalars(select(User.id).where(User.username == body.username)).first() is not None:
        raise ApiError(409, "exists", "this username is taken; choose another")
    user = User(username=body.username, password_hash=auth.hash_password(body.password), role=body.role,
                agency_id=agency.id if agency else None, study_id=study.id if study else None)
    session.add(user)
    session.flush()
    return {"username": user.username, "role": user.role, "agency": agency.name if agency else None,
            "study": study.name if study else None}


def list_users(session: Session) -> list[dict[str, Any]]:
    agencies = {a.id: a.name for a in session.scalars(select(Agency))}
    studies = {s.id: s.name for s in session.scalars(select(Study))}
    return [
        {"username": u.username, "role": u.role, "agency": agencies.get(u.agency_id) if u.agency_id else None,
         "study": studies.get(u.study_id) if u.study_id else None, "active": u.active,
         "created_at": auth.as_utc(u.created_at).isoformat() if u.created_at else None}
        for u in session.scalars(select(User).order_by(User.username))
    ]


@router.post("/agencies", status_code=201)
def post_agency(body: AgencyIn, request: Request, _p: Admin) -> dict[str, str]:
    """Register an agency (a participant that submits lists)."""
    try:
        with transaction(request.app.state.sessions) as session:
            agency = create_agency(session, body.name)
            name = agency.name
        note_target(request, agency=name)
    except IntegrityError:
        raise ApiError(409, "exists", "an agency with this name exists already") from None
    return {"name": name}


@router.get("/agencies")
def get_agencies(request: Request, _p: Admin) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return {"agencies": [{"name": a.name} for a in session.scalars(select(Agency).order_by(Agency.name))]}


@router.post("/users", status_code=201)
def post_user(body: UserIn, request: Request, _p: Admin) -> dict[str, Any]:
    """Create an account."""
    try:
        with transaction(request.app.state.sessions) as session:
            made = create_user(session, body)
    except IntegrityError:
        raise ApiError(409, "exists", "this username is taken; choose another") from None
    note_target(request, username=made["username"], role=made["role"], agency=made["agency"], study=made["study"])
    return made


@router.get("/users")
def get_users(request: Request, _p: Admin) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return {"users": list_users(session)}


@router.post("/users/{username}/deactivate")
def deactivate_user(username: str, request: Request, p: Admin) -> dict[str, Any]:
    """Deactivate an account: it and its tokens stop working at once."""
    with transaction(request.app.state.sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).first() \
            if auth.USERNAME_RE.fullmatch(username) else None  # not looked up: a NUL byte was a 500 on PostgreSQL
        if user is None:
            raise ApiError(404, "not_found", "no account with this username")
        if user.id == p.user_id:
            raise ApiError(409, "conflict", "an administrator cannot deactivate its own account")
        user.active = False
    return {"username": username, "active": False}
