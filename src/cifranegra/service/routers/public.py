"""Public releases: what anyone may read, without an account.

- ``GET /public/releases`` — approved releases: id, title, study, approved_at, files; and those
  withdrawn after approval, with ``state`` ``withdrawn``, ``withdrawn_at``, ``withdrawal_reason`` and
  no files (a retraction stays visible, so that a figure quoted elsewhere can be checked).
- ``GET /public/releases/{id}`` — one of those (404 for a draft, a draft withdrawn before approval or
  an unknown id: a draft's existence is not revealed).
- ``GET /public/releases/{id}/files/{name}`` — one file of its publish folder (CSV tables, HTML and PDF
  reports, metadata), by its exact name in the release (e.g. ``tables/estimates.csv``); 410 once the
  release is withdrawn.

Only ``publish/`` of a run ever becomes a release's content, so nothing record-level and no
unsuppressed table can be served here. A token is not needed and not looked at.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cifranegra.service.db import Release
from cifranegra.service.http_errors import ApiError
from cifranegra.service.routers.releases import describe_release, file_of
from cifranegra.service.routers.runs import media_type

router = APIRouter()

_RELEASE_ID = re.compile(r"[0-9a-f]{32}")


@router.get("/public/releases")
def get_public_releases(request: Request) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return {"releases": public_releases(session, request.app.state.storage)}


@router.get("/public/releases/{release_id}")
def get_public_release(release_id: str, request: Request) -> dict[str, Any]:
    with request.app.state.sessions() as session:
        return public_release(session, request.app.state.storage, release_id)


@router.get("/public/releases/{release_id}/files/{name:path}")
def get_public_file(release_id: str, name: str, request: Request) -> Response:
    with request.app.state.sessions() as session:
        release = published_release(session, release_id)
        content = file_of(session, request.app.state.storage, release, name)
    return Response(content=content, media_type=media_type(name))


def _published(release: Release | None) -> bool:
    """Approved (with its content), or withdrawn after it had been approved."""
    if release is None or release.approved_at is None:
        return False
    return (release.state == "approved" and release.content_blob_id is not None) or release.state == "withdrawn"


def published_release(session: Session, release_id: str) -> Release:
    """The release ``release_id`` if it is or was public; 404 otherwise (also for drafts)."""
    release = session.get(Release, release_id) if _RELEASE_ID.fullmatch(release_id) else None
    if release is None or not _published(release):
        raise ApiError(404, "not_found", "no such public release")
    return release


def approved_release(session: Session, release_id: str) -> Release:
    """The approved release ``release_id`` (its content readable); 410 once withdrawn, 404 otherwise."""
    release = published_release(session, release_id)
    if release.state != "approved":
        raise ApiError(410, "gone", "this release was withdrawn; its page says when and why")
    return release


def public_releases(session: Session, storage: Any) -> list[dict[str, Any]]:
    """Every approved release and every withdrawn one that had been approved, newest approval first (the
    public page's list)."""
    rows = session.scalars(select(Release).where(
        Release.approved_at.is_not(None),
        or_(Release.state == "withdrawn", (Release.state == "approved") & Release.content_blob_id.is_not(None)))
        .order_by(Release.approved_at.desc(), Release.id))
    out = []
    for release in rows:
        item = describe_release(session, storage, release)
        item.pop("run_id", None)
        out.append(item)
    return out


def public_release(session: Session, storage: Any, release_id: str) -> dict[str, Any]:
    item = describe_release(session, storage, published_release(session, release_id))
    item.pop("run_id", None)
    return item
