"""One JSON shape for every HTTP error of the hub, translated in one place.

``{"error": {"status": int, "code": str, "message": str}}`` — for :class:`ApiError` (raised by the
routes), Starlette/FastAPI ``HTTPException`` (404 of an unknown path, 405...), request validation
errors (422: the message names the field and what it should be, never the value received, which may
be anything a caller typed), :class:`~cifranegra.errors.CifranegraError` (400: cifranegra's messages
never quote data) and anything else (500 ``"internal error"``: the exception's text may quote data, so
only its type is logged). Outside ``/api/`` an unknown page, a wrong method or a 500 is the web module's
HTML error page instead (``app.state.html_error(request, status)``, set by the app factory), in the
reader's language.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cifranegra.errors import CifranegraError

log = logging.getLogger("cifranegra.service")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error a route answers with: HTTP ``status``, a stable machine ``code`` and a human ``message``
    (naming the field and the fix; never a value from the data)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(status, code, message), headers=headers)


def code_for(status: int) -> str:
    return _CODES.get(status, "error" if status >= 500 else "client_error")


def _field(loc: Any) -> str:
    parts = [str(p) for p in (loc or ())]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        return f"{where} field {'.'.join(rest)!r}" if rest else f"the request {where}"
    return f"field {'.'.join(parts)!r}"


def validation_message(errors: list[Any]) -> str:
    """'body field 'username': Field required; ...' — field and expectation, never the input."""
    lines = []
    for err in errors[:10]:
        msg = str(err.get("msg", "invalid")) if isinstance(err, dict) else "invalid"
        lines.append(f"{_field(err.get('loc') if isinstance(err, dict) else None)}: {msg}")
    if len(errors) > 10:
        lines.append(f"and {len(errors) - 10} more")
    return "; ".join(lines) or "the request is not valid"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def _web_page(request: Request, status: int) -> Response | None:
    """For a web page (outside ``/api/``), the web module's HTML error page when it offers one."""
    page = getattr(request.app.state, "html_error", None)
    if page is None or request.url.path.startswith("/api/"):
        return None
    response = page(request, status)
    return response if isinstance(response, Response) else None


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    page = _web_page(request, exc.status_code)
    if page is not None:
        return page
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail in (None, "Not Found"):
        detail = "no such resource (check the path: the API lives under /api/v1)"
    elif exc.status_code == 405 and detail in (None, "Method Not Allowed"):
        detail = "this method is not allowed on this path"
    headers = getattr(exc, "headers", None)
    return error_response(exc.status_code, code_for(exc.status_code), detail or "request refused", headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", validation_message(list(exc.errors())))


async def _cifranegra_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, "bad_request", str(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("internal error: %s", type(exc).__name__)
    try:
        page = _web_page(request, 500)
    except Exception:  # the error page itself failed: the plain answer
        page = None
    return page if page is not None else internal_error_response()


def internal_error_response() -> JSONResponse:
    return error_response(500, "internal_error", "internal error; the hub's operators can find it in the audit log")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(CifranegraError, _cifranegra_error)
    app.add_exception_handler(Exception, _unexpected)


# --- the size of bodies other than uploads ------------------------------------------------------------

SMALL_BODY_BYTES = 1 << 20
"""The largest body of a request that is not an upload (JSON of the API, the web pages' forms). The two
upload routes (``POST /api/v1/studies/{study}/submissions`` and the web form ``POST /submit``) enforce
``max_upload_bytes`` themselves."""
_UPLOAD_PATH = re.compile(r"/api/v1/studies/[^/]+/submissions/?|/submit/?")


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a body over :data:`SMALL_BODY_BYTES` on any route but an upload, before
    the route reads it (by its ``Content-Length``; a body without one is read up to the limit first).

    docs/hub.md, section 9: "413: the body is over the limit". Before, a JSON or form body of any size
    (hundreds of MB, from anyone: ``POST /api/v1/login`` needs no account) was read whole into memory and
    parsed before its fields were checked. Installed inside the audit middleware, so the 413 is audited."""

    def __init__(self, app: Any, limit: int = SMALL_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope.get("method") == "POST" and _UPLOAD_PATH.fullmatch(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit():
            # the server holds the body to its Content-Length, so a declared size within the limit is enough
            if int(declared) > self.limit:
                await self._refuse(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []
        size = 0
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Any:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = (f"the request body is larger than this hub accepts outside an upload ({self.limit:,} bytes); "
                   "JSON requests and forms are small")
        response: Response | None = None
        if not str(scope.get("path", "")).startswith("/api/") and "app" in scope:
            response = _web_page(Request(scope), 413)
        await (response or error_response(413, "too_large", message))(scope, receive, send)
