"""Releases of a study: drafted from a succeeded run, approved by a second person, then public.

Routes (under ``/api/v1``):

- ``POST /studies/{study}/releases {"run_id", "title"}`` — the study's coordinator or analyst → 201. The
  content is a copy of the run's ``publish/`` folder (tables and reports already disclosure-controlled
  by :func:`cifranegra.report.publish`: counts below the threshold withheld with secondary
  suppression, estimates rounded), stored as its own encrypted blob. 409 unless the run has succeeded.
- ``GET /studies/{study}/releases`` and ``GET …/releases/{id}`` — coordinator, analyst, approver of the
  study: drafts and approved releases with their file names; ``GET …/releases/{id}/files/{name}`` — one
  file of a draft, for the approver's review.
- ``POST /studies/{study}/releases/{id}/approve`` — the study's approver → the release is public. The
  two-person rule: refused (403, saying why) when the approver drafted the release or started its run.
  409 when it is not a draft.
- ``POST /studies/{study}/releases/{id}/withdraw {"reason"}`` — the study's coordinator or approver →
  the release is withdrawn: its content (the copy of ``publish/``) is destroyed, and an approved one
  stays listed publicly as withdrawn, with the date and the reason, its files answering 410. One person
  suffices: taking figures down must not wait for a second one (the two-person rule guards publishing).
  409 when it is already withdrawn.

Other roles 403; a study the principal does not work on, or a release of another study, 404.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.service import jobs
from cifranegra.service.auth import CurrentPrincipal, Principal, as_utc
from cifranegra.service.db import Release, Run, Study, new_id, utcnow
from cifranegra.service.http_errors import ApiError
from cifranegra.service.routers.runs import find_run, media_type, require
from cifranegra.service.routers.studies import visible_study

router = APIRouter()

DRAFT_ROLES = ("coordinator", "analyst")
READ_ROLES = ("coordinator", "analyst", "approver")
APPROVE_ROLES = ("approver",)
WITHDRAW_ROLES = ("coordinator", "approver")
_RELEASE_ID = re.compile(r"[0-9a-f]{32}")


class ReleaseIn(BaseModel):
    run_id: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=300)


class WithdrawIn(BaseModel):
    reason: str = Field(max_length=500)


# --- routes ------------------------------------------------------------------------------------------


@router.post("/studies/{study}/releases", status_code=201)
def post_release(study: str, body: ReleaseIn, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    """Draft a release from a succeeded run."""
    require(principal, DRAFT_ROLES, "only the study's coordinator or analyst drafts releases")
    out = draft_release(request.app.state.sessions, request.app.state.storage, principal, study, body.run_id,
                        body.title)
    return JSONResponse(status_code=201, content=out)


@router.get("/studies/{study}/releases")
def get_releases(study: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require(principal, READ_ROLES, "this role does not see a study's releases (approved ones are public)")
    with request.app.state.sessions() as session:
        return {"releases": list_releases(session, request.app.state.storage, principal, study)}


@router.get("/studies/{study}/releases/{release_id}")
def get_one_release(study: str, release_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    require(principal, READ_ROLES, "this role does not see a study's releases (approved ones are public)")
    with request.app.state.sessions() as session:
        release = find_release(session, principal, study, release_id)
        return describe_release(session, request.app.state.storage, release)


@router.get("/studies/{study}/releases/{release_id}/files/{name:path}")
def get_release_file(study: str, release_id: str, name: str, request: Request,
                     principal: CurrentPrincipal) -> Response:
    """One file of a release (draft or approved), for review."""
    require(principal, READ_ROLES, "this role does not see a study's releases (approved ones are public)")
    with request.app.state.sessions() as session:
        release = find_release(session, principal, study, release_id)
        content = file_of(session, request.app.state.storage, release, name)
    return Response(content=content, media_type=media_type(name))


@router.post("/studies/{study}/releases/{release_id}/approve")
def post_approve(study: str, release_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Approve a draft: it becomes public (a second person: not who drafted it or started its run)."""
    require(principal, APPROVE_ROLES, "only the study's approver approves releases")
    return approve_release(request.app.state.sessions, request.app.state.storage, principal, study, release_id)


@router.post("/studies/{study}/releases/{release_id}/withdraw")
def post_withdraw(study: str, release_id: str, body: WithdrawIn, request: Request,
                  principal: CurrentPrincipal) -> dict[str, Any]:
    """Withdraw a release (a retraction): its content is destroyed; an approved one stays listed publicly
    as withdrawn, with the reason."""
    require(principal, WITHDRAW_ROLES, "only the study's coordinator or approver withdraws releases")
    return withdraw_release(request.app.state.sessions, request.app.state.storage, principal, study, release_id,
                            body.reason)


# --- service functions (shared with the web pages and the public routes) ------------------------------


def plain_text(value: str, limit: int) -> str:
    """One line of printable text: control characters become spaces (a NUL byte was a 500 on PostgreSQL,
    which refuses it in text), runs of spaces one, at most ``limit`` characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())[:limit]


def content_of(session: Session, storage: Any, release: Release) -> bytes:
    if release.content_blob_id is None:
        raise ApiError(410, "gone", "this release's content was withdrawn")
    return bytes(storage.get(session, release.content_blob_id))


def file_of(session: Session, storage: Any, release: Release, name: str) -> bytes:
    """One file of the release by its exact name in the publish folder (never a path joined on disk)."""
    content = jobs.zip_member(content_of(session, storage, release), name)
    if content is None:
        raise ApiError(404, "not_found", "no such file in this release; its description lists the files")
    return content


def describe_release(session: Session, storage: Any, release: Release, *, with_files: bool = True) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return as_utc(value).isoformat() if value is not None else None

    study = session.get(Study, release.study_id)
    out: dict[str, Any] = {
        "id": release.id, "study": study.name if study else None, "run_id": release.run_id,
        "title": release.title, "state": release.state, "created_at": when(release.created_at),
        "approved_at": when(release.approved_at),
    }
    if release.state == "withdrawn":
        out.update(withdrawn_at=when(release.withdrawn_at), withdrawal_reason=release.withdrawal_reason or "")
    if with_files:
        out["files"] = jobs.zip_names(content_of(session, storage, release)) if release.content_blob_id else []
    return out


def find_release(session: Session, principal: Principal, study_name: str, release_id: str) -> Release:
    study = visible_study(session, principal, study_name)
    release = session.get(Release, release_id) if _RELEASE_ID.fullmatch(release_id) else None
    if release is None or release.study_id != study.id:
        raise ApiError(404, "not_found", "no such release in this study")
    return release


def draft_release(factory: sessionmaker[Session], storage: Any, principal: Principal, study_name: str,
                  run_id: str, title: str = "") -> dict[str, Any]:
    """A draft from the run's publish/ folder (copied into a blob of its own); 409 unless it succeeded."""
    require(principal, DRAFT_ROLES, "only the study's coordinator or analyst drafts releases")
    title = plain_text(title, 300)
    with factory() as session:
        written: list[str] = []
        try:
            with session.begin():
                _study, run = find_run(session, principal, study_name, run_id)
                if run.state != "succeeded" or run.publish_blob_id is None:
                    raise ApiError(409, "conflict", f"the run is {run.state}; a release is drafted from a run that "
                                   "has succeeded")
                data = storage.get(session, run.publish_blob_id)
                written.append(storage.put(session, data))
                release = Release(id=new_id(), study_id=run.study_id, run_id=run.id, title=title,
                                  drafted_by=principal.user_id, state="draft", content_blob_id=written[0])
                session.add(release)
                session.flush()
                out = describe_release(session, storage, release, with_files=False)
                out["files"] = jobs.zip_names(data)
        except BaseException:
            jobs.discard_blobs(storage, written)
            raise
    return out


def list_releases(session: Session, storage: Any, principal: Principal, study_name: str) -> list[dict[str, Any]]:
    """The study's releases, newest first (empty for a role that does not see them)."""
    if principal.role not in READ_ROLES:
        return []
    study = visible_study(session, principal, study_name)
    rows = session.scalars(select(Release).where(Release.study_id == study.id)
                           .order_by(Release.created_at.desc(), Release.id))
    return [describe_release(session, storage, r) for r in rows]


def list_drafts(session: Session, storage: Any, principal: Principal, study_name: str) -> list[dict[str, Any]]:
    """The study's drafts (the approver's review list)."""
    return [r for r in list_releases(session, storage, principal, study_name) if r["state"] == "draft"]


def approve_release(factory: sessionmaker[Session], storage: Any, principal: Principal, study_name: str,
                    release_id: str) -> dict[str, Any]:
    require(principal, APPROVE_ROLES, "only the study's approver approves releases")
    with factory() as session, session.begin():
        release = find_release(session, principal, study_name, release_id)
        run = session.get(Run, release.run_id)
        if release.drafted_by == principal.user_id:
            raise ApiError(403, "two_person_rule", "you drafted this release; another person approves it "
                           "(two people for every release)")
        if run is not None and run.created_by == principal.user_id:
            raise ApiError(403, "two_person_rule", "you started the run this release comes from; another person "
                           "approves it (two people for every release)")
        if release.state != "draft":
            raise ApiError(409, "conflict", f"the release is {release.state}; only a draft is approved")
        now = utcnow()
        done = session.execute(
            update(Release).where(Release.id == release.id, Release.state == "draft")
            .values(state="approved", approved_by=principal.user_id, approved_at=now)
            .execution_options(synchronize_session=False))
        if getattr(done, "rowcount", 0) != 1:  # approved by someone else meanwhile
            raise ApiError(409, "conflict", "the release was approved meanwhile")
        session.refresh(release)
        return describe_release(session, storage, release)


def withdraw_release(factory: sessionmaker[Session], storage: Any, principal: Principal, study_name: str,
                     release_id: str, reason: str) -> dict[str, Any]:
    """Withdraw a draft or an approved release: destroy its content blob (crypto-shredding, as a
    withdrawn submission's), record who, when and why. The reason is public for an approved release, so
    it is required (at least 10 characters of printable text) and should say what was wrong, not who."""
    require(principal, WITHDRAW_ROLES, "only the study's coordinator or approver withdraws releases")
    reason = plain_text(reason, 500)
    if len(reason) < 10:
        raise ApiError(422, "invalid", "give the reason for the withdrawal (at least 10 characters); for an "
                       "approved release it is shown on the public page, so say what was wrong with the figures, "
                       "never anything about a person")
    with factory() as session, session.begin():
        release = find_release(session, principal, study_name, release_id)
        if release.state == "withdrawn":
            raise ApiError(409, "already_withdrawn", "this release was already withdrawn; its content no longer exists")
        blob = release.content_blob_id
        done = session.execute(
            update(Release).where(Release.id == release.id, Release.state == release.state)
            .values(state="withdrawn", withdrawn_by=principal.user_id, withdrawn_at=utcnow(),
                    withdrawal_reason=reason, content_blob_id=None)
            .execution_options(synchronize_session=False))
        if getattr(done, "rowcount", 0) != 1:  # approved or withdrawn by someone else meanwhile
            raise ApiError(409, "conflict", "the release changed meanwhile; look at it again")
        if blob is not None:
            storage.shred(session, blob)
        session.refresh(release)
        return describe_release(session, storage, release)
