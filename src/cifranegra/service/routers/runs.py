"""Runs of a study: start one, follow it, read its internal aggregates.

Routes (under ``/api/v1``):

- ``POST /studies/{study}/runs {"settings"?}`` — coordinator of the study → 202 ``{"id", "state"}``. The
  run takes the latest accepted submission of each agency (:func:`cifranegra.service.jobs.enqueue`);
  409 with fewer than two agencies; 422 for settings the project file would refuse.
- ``GET /studies/{study}/runs`` and ``GET /studies/{study}/runs/{id}`` — state, progress, step,
  heartbeat, message, attempts; coordinator (own studies), the study's analyst and approver (an approver
  reviews what a release was drafted from).
- ``GET /studies/{study}/runs/{id}/internal`` → the names of the internal files;
  ``GET …/internal/{name}`` → one file (unsuppressed tables and diagnostics, never record-level: the
  hub never stores ``entities.csv``). The study's **analyst only**: the issue gives internal aggregates
  to the analyst; the coordinator drafts releases from the disclosure-controlled tables and does not
  need the small counts, so it gets 403 here.

Access: other roles 403; a study the principal does not work on, or a run of another study, 404.
The functions below the routes are what the web pages call.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.errors import InputError
from cifranegra.service import jobs
from cifranegra.service.auth import CurrentPrincipal, Principal, as_utc
from cifranegra.service.db import Run, Study, transaction
from cifranegra.service.http_errors import ApiError
from cifranegra.service.routers.studies import check_plain_json, visible_study

router = APIRouter()

START_ROLES = ("coordinator",)
READ_ROLES = ("coordinator", "analyst", "approver")
INTERNAL_ROLES = ("analyst",)
_RUN_ID = re.compile(r"[0-9a-f]{32}")
MEDIA = {".csv": "text/csv; charset=utf-8", ".json": "application/json", ".html": "text/html; charset=utf-8",
         ".pdf": "application/pdf"}


class RunIn(BaseModel):
    settings: dict[str, Any] = Field(default_factory=dict)


def require(principal: Principal, roles: tuple[str, ...], why: str) -> None:
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"{why} (your role: {principal.role})")


def media_type(name: str) -> str:
    suffix = name[name.rfind("."):].lower() if "." in name else ""
    return MEDIA.get(suffix, "application/octet-stream")


# --- routes ------------------------------------------------------------------------------------------


@router.post("/studies/{study}/runs", status_code=202)
def post_run(study: str, request: Request, principal: CurrentPrincipal, body: RunIn | None = None) -> JSONResponse:
    """Queue a run of the study's current submissions."""
    require(principal, START_ROLES, "only the study's coordinator starts runs")
    run = start_run(request.app.state.sessions, principal, study, (body or RunIn()).settings)
    return JSONResponse(status_code=202, content={"id": run["id"], "state": run["state"]})


@router.get("/studies/{study}/runs")
def get_runs(study: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require(principal, READ_ROLES, "this role does not see runs")
    with request.app.state.sessions() as session:
        return {"runs": list_runs(session, principal, study)}


@router.get("/studies/{study}/runs/{run_id}")
def get_one_run(study: str, run_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require(principal, READ_ROLES, "this role does not see runs")
    with request.app.state.sessions() as session:
        return get_run(session, principal, study, run_id)


@router.get("/studies/{study}/runs/{run_id}/internal")
def get_internal(study: str, run_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The names of the run's internal files (aggregates and diagnostics)."""
    require(principal, INTERNAL_ROLES, "only the study's analyst sees internal results")
    with request.app.state.sessions() as session:
        data = internal_zip(session, request.app.state.storage, principal, study, run_id)
    return {"id": run_id, "files": jobs.zip_names(data)}


@router.get("/studies/{study}/runs/{run_id}/internal/{name}")
def get_internal_file(study: str, run_id: str, name: str, request: Request, principal: CurrentPrincipal) -> Response:
    require(principal, INTERNAL_ROLES, "only the study's analyst sees internal results")
    with request.app.state.sessions() as session:
        data = internal_zip(session, request.app.state.storage, principal, study, run_id)
    content = jobs.zip_member(data, name)
    if content is None:
        raise ApiError(404, "not_found", "no such file in this run's internal results; "
                       f"GET /api/v1/studies/{study}/runs/{run_id}/internal lists them")
    return Response(content=content, media_type=media_type(name))


# --- service functions (shared with the web pages) ----------------------------------------------------


def describe_run(run: Run) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return as_utc(value).isoformat() if value is not None else None

    return {
        "id": run.id, "state": run.state, "progress": float(run.progress or 0.0), "step": run.step or "",
        "message": run.message or "", "attempts": int(run.attempts or 0), "created_at": when(run.created_at),
        "started_at": when(run.started_at), "heartbeat_at": when(run.heartbeat_at),
        "finished_at": when(run.finished_at), "n_submissions": len(run.submission_ids or []),
        "settings": run.settings or {},
    }


def find_run(session: Session, principal: Principal, study_name: str, run_id: str) -> tuple[Study, Run]:
    """The study (404 unless the principal works on it) and its run ``run_id`` (404 otherwise)."""
    study = visible_study(session, principal, study_name)
    run = session.get(Run, run_id) if _RUN_ID.fullmatch(run_id) else None
    if run is None or run.study_id != study.id:
        raise ApiError(404, "not_found", "no such run in this study")
    return study, run


def start_run(factory: sessionmaker[Session], principal: Principal, study_name: str,
              settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue a run (the coordinator's); 409 with fewer than two agencies, 422 for bad settings."""
    require(principal, START_ROLES, "only the study's coordinator starts runs")
    # a lone surrogate escape or NaN in the settings was stored with the run and then made every listing
    # of the study's runs a 500 (docs/hub.md, section 9: errors are 4xx in one shape)
    check_plain_json(settings or {}, "settings")
    try:
        with transaction(factory) as session:
            study = visible_study(session, principal, study_name)
            run = jobs.enqueue(session, study, principal.user_id, settings or {})
            out = describe_run(run)
    except jobs.JobError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except InputError as exc:
        raise ApiError(422, "invalid_settings", str(exc)) from None
    return out


def list_runs(session: Session, principal: Principal, study_name: str) -> list[dict[str, Any]]:
    """The study's runs, newest first (empty for a role that does not see runs)."""
    if principal.role not in READ_ROLES:
        return []
    study = visible_study(session, principal, study_name)
    rows = session.scalars(select(Run).where(Run.study_id == study.id).order_by(Run.created_at.desc(), Run.id))
    return [describe_run(r) for r in rows]


def get_run(session: Session, principal: Principal, study_name: str, run_id: str) -> dict[str, Any]:
    require(principal, READ_ROLES, "this role does not see runs")
    return describe_run(find_run(session, principal, study_name, run_id)[1])


def internal_zip(session: Session, storage: Any, principal: Principal, study_name: str, run_id: str) -> bytes:
    """The run's internal aggregates (a zip); 409 until the run has succeeded."""
    require(principal, INTERNAL_ROLES, "only the study's analyst sees internal results")
    _study, run = find_run(session, principal, study_name, run_id)
    if run.state != "succeeded" or run.internal_blob_id is None:
        raise ApiError(409, "conflict", f"the run is {run.state}; its results exist once it has succeeded")
    return bytes(storage.get(session, run.internal_blob_id))
