"""Studies: a coordinator creates one; its participants see it.

- ``POST /studies {"name", "settings"?}`` (coordinator) → 201. The name is the encodings' project salt
  (``cifranegra encode --project NAME``), so it must be given exactly as the agencies encode with; it is
  also a path segment, hence 1–100 letters, digits, ``.``, ``_``, ``-``. ``settings.strata`` (optional)
  lists the allowed values of each stratum column (``{"sex": ["F", "M"]}``): submissions with other values
  are refused. The other keys are the run settings every run starts from, checked here as a run checks
  them (422 ``invalid_settings``; any other key too); settings must be plain JSON (no NaN, no lone
  surrogate escape). 409 if the name is taken.
- ``GET /studies``: hub_admin → every study's name only (to create accounts for it); coordinator → the
  studies it created; analyst, approver, agency_submitter → their one study; auditor → 403.
- ``GET /studies/{study}``: the coordinator who created it (with participants and submission counts),
  and the study's own analyst, approver, agency submitters (name, settings); anyone else → 404 (existence
  is not revealed); hub_admin and auditor → 403.

:func:`visible_study` is the one rule of "may this principal see this study" for the routers that
have no stricter rule of their own.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cifranegra.errors import InputError
from cifranegra.service import auth
from cifranegra.service.audit import note_target
from cifranegra.service.db import STUDY_ROLES, Agency, Study, Submission, User, transaction
from cifranegra.service.http_errors import ApiError

router = APIRouter()
Coordinator = Annotated[auth.Principal, Depends(auth.require("coordinator"))]

STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,99}")
NOT_FOUND = "no such study, or not one your account works on"
READ_ROLES = ("coordinator", *STUDY_ROLES)


class StudyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    settings: dict[str, Any] = Field(default_factory=dict)


def check_plain_json(value: Any, what: str) -> None:
    """422 unless ``value`` is plain JSON that every back end stores and every answer can repeat: text
    encodable as UTF-8 (Python's JSON reader lets a lone surrogate escape such as ``"\\ud800"`` through)
    and finite numbers (it also reads ``NaN`` and ``Infinity``). Such a value used to be stored and then
    make every later answer that lists it a 500."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise ApiError(422, "invalid_request", f"{what} must be plain JSON: text without lone surrogate escapes "
                       "(\\ud800 …) and finite numbers (no NaN or Infinity)") from None


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    check_plain_json(settings, "settings")
    strata = settings.get("strata", {})
    if not isinstance(strata, dict) or not all(
        isinstance(col, str) and isinstance(values, list) and all(isinstance(v, str) for v in values)
        for col, values in strata.items()
    ):
        raise ApiError(422, "invalid_request", "settings.strata maps each stratum column to a list of allowed "
                       'values (text), e.g. {"sex": ["F", "M"]}')
    if len(settings) > 50:
        raise ApiError(422, "invalid_request", "settings has more than 50 keys")
    # docs/hub.md, sections 5 and 6: a study's settings are 'strata' and the run settings, which are checked
    # when the study is created (for three lists or, failing that, two): a typo is refused here, not by
    # every run of the study (before, any key and any value were kept and every run got a 422)
    from cifranegra.pipeline import hub_run

    unknown = sorted(str(k) for k in settings if k != "strata" and k not in hub_run.RUN_SETTING_KEYS)
    if unknown:
        raise ApiError(422, "invalid_settings", f"unknown setting(s) {unknown}; a study's settings are strata and "
                       f"the run settings ({', '.join(hub_run.RUN_SETTING_KEYS)})")
    try:
        hub_run.check_settings({k: v for k, v in settings.items() if k != "strata"})
    except InputError as exc:
        raise ApiError(422, "invalid_settings", f"settings: {exc}") from None
    return settings


def create_study(session: Session, principal: auth.Principal, name: str, settings: dict[str, Any]) -> Study:
    if not STUDY_NAME.fullmatch(name):
        raise ApiError(422, "invalid_request", "a study name has 1 to 100 characters: letters, digits and . _ - "
                       "(starting with a letter or digit); agencies encode with it: --project NAME")
    if session.scalars(select(Study.id).where(Study.name == name)).first() is not None:
        raise ApiError(409, "exists", "a study with this name exists already; choose another")
    study = Study(name=name, created_by=principal.user_id, settings=check_settings(settings))
    session.add(study)
    session.flush()
    return study


def visible_study(session: Session, principal: auth.Principal, name: str) -> Study:
    """The study, if the principal works on it (its coordinator, or one of its own accounts); else 404.
    A name no study can have (a NUL byte, which PostgreSQL refuses in a query) is 404 without a query."""
    study = session.scalars(select(Study).where(Study.name == name)).one_or_none() if STUDY_NAME.fullmatch(name) \
        else None
    if study is not None:
        if principal.role == "coordinator" and study.created_by == principal.user_id:
            return study
        if principal.role in STUDY_ROLES and principal.study_id == study.id:
            return study
    raise ApiError(404, "not_found", NOT_FOUND)


def list_studies(session: Session, principal: auth.Principal) -> list[dict[str, Any]]:
    query = select(Study).order_by(Study.name)
    if principal.role == "hub_admin":
        return [{"name": s.name} for s in session.scalars(query)]
    if principal.role == "coordinator":
        query = query.where(Study.created_by == principal.user_id)
    elif principal.role in STUDY_ROLES:
        query = query.where(Study.id == principal.study_id)
    else:
        raise ApiError(403, "forbidden", f"your role ({principal.role}) does not see studies")
    return [describe_study(session, s, full=False) for s in session.scalars(query)]


def describe_study(session: Session, study: Study, *, full: bool) -> dict[str, Any]:
    created = auth.as_utc(study.created_at).isoformat() if study.created_at else None
    out: dict[str, Any] = {"name": study.name, "created_at": created, "settings": study.settings or {},
                           "pinned": study.key_check is not None}
    if full:
        rows = session.execute(
            select(User.username, User.role, Agency.name).outerjoin(Agency, Agency.id == User.agency_id)
            .where(User.study_id == study.id).order_by(User.role, User.username)
        ).all()
        out["participants"] = [{"username": u, "role": r, "agency": a} for u, r, a in rows]
        counts = session.execute(
            select(Agency.name, Submission.state, func.count()).join(Agency, Agency.id == Submission.agency_id)
            .where(Submission.study_id == study.id).group_by(Agency.name, Submission.state)
        ).all()
        out["submissions"] = [{"agency": a, "state": s, "count": n} for a, s, n in counts]
    return out


def get_study(session: Session, principal: auth.Principal, name: str) -> dict[str, Any]:
    if principal.role not in READ_ROLES:
        raise ApiError(403, "forbidden", f"your role ({principal.role}) does not see studies' details")
    study = visible_study(session, principal, name)
    return describe_study(session, study, full=principal.role == "coordinator")


@router.post("/studies", status_code=201)
def post_study(
    body: StudyIn, request: Request, principal: Coordinator
) -> dict[str, Any]:
    """Create a study (its name is the agencies' encoding project)."""
    try:
        with transaction(request.app.state.sessions) as session:
            study = create_study(session, principal, body.name, body.settings)
            made = describe_study(session, study, full=False)
    except IntegrityError:
        raise ApiError(409, "exists", "a study with this name exists already; choose another") from None
    note_target(request, study=made["name"])
    return made


@router.get("/studies")
def get_studies(request: Request, principal: auth.CurrentPrincipal) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return {"studies": list_studies(session, principal)}


@router.get("/studies/{study}")
def get_one_study(study: str, request: Request,
                  principal: auth.CurrentPrincipal) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return get_study(session, principal, study)
