"""``GET /healthz``: the hub answers and its database responds (for monitoring and the reverse proxy).

Public, not audited (it reads no data). 200 ``{"status": "ok"}`` or 503 in the one error shape.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from cifranegra.service.http_errors import ApiError

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    """The hub is up and its database answers."""
    try:
        with request.app.state.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        raise ApiError(503, "unavailable", "the hub's database does not answer") from None
    return {"status": "ok"}
