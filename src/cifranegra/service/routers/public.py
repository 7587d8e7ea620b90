"""Public releases: what anyone may read, without an account.

- ``GET /public/releases`` — approved releases: id, title, study, approved_at, files.
- ``GET /public/releases/{id}`` — one approved release (404 for a draft or an unknown id: a draft's
  existence is not revealed).
- ``GET /public/releases/{id}/files/{name}`` — one file of its publish folder (CSV tables, HTML and PDF
  reports, metadata), by its exact name in the release (e.g. ``tables/estimates.csv``).

Only ``publish/`` of a run ever becomes a release's content, so nothing record-level and no
unsuppressed table can be served here. A token is not needed and not looked at.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
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
        release = approved_release(session, release_id)
        content = file_of(session, request.app.state.storage, release, name)
    return Response(content=content, media_type=media_type(name))


def approved_release(session: Session, release_id: str) -> Release:
    """The approved release ``release_id``; 404 otherwise (also for drafts)."""
    release = session.get(Release, release_id) if _RELEASE_ID.fullmatch(release_id) else None
    if release is None or release.state != "approved" or release.content_blob_id is None:
        raise ApiError(404, "not_found", "no such public release")
    return release


def public_releases(session: Session, storage: Any) -> list[dict[str, Any]]:
    """Every approved release, newest approval first (the public page's list)."""
    rows = session.scalars(select(Release).where(Release.state == "approved", Release.content_blob_id.is_not(None))
                           .order_by(Release.approved_at.desc(), Release.id))
    out = []
    for release in rows:
        item = describe_release(session, storage, release)
        item.pop("run_id", None)
        out.append(item)
    return out


def public_release(session: Session, storage: Any, release_id: str) -> dict[str, Any]:
    item = describe_release(session, storage, approved_release(session, release_id))
    item.pop("run_id", None)
    return item
