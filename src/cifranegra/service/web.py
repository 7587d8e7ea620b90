"""The hub's web pages: server-rendered HTML in Spanish and English, included by ``create_app`` at ``/``.

Pages (each calls the same service functions as the API routes, so the rules live in one place):

- ``/login`` (form), ``POST /logout``; ``/`` — the home of the account's role: hub administration
  (accounts, agencies, study names; ``POST /admin/agencies`` and ``POST /admin/users`` create them), an
  agency's submit form and own submissions, a coordinator's studies, an auditor's log; an analyst's and
  an approver's home is their study's page.
- agency: ``POST /submit`` (multipart form; the *Check* button runs the dry run and shows its report as a
  list of problems, *Submit* stores the file), ``POST /submissions/{id}/withdraw``.
- coordinator and analyst: ``/studies`` (list; a coordinator creates one), ``/studies/{study}``
  (participants, submissions' status, runs, releases; start a run, draft a release),
  ``/studies/{study}/runs/{id}`` (progress; the page refreshes itself while the run is active — no
  JavaScript needed; an analyst also sees the internal aggregates).
- approver: ``/studies/{study}/review`` (drafts with their tables; approve).
- auditor: ``/audit`` (chain verification and the latest entries), ``/audit/export.csv``.
- public: ``/releases``, ``/releases/{id}`` (the release's tables, links to its report with charts).

Sessions: the login page exchanges the password for the same opaque token the API issues and keeps it
in the ``hub_session`` cookie (HttpOnly, SameSite=Strict, Secure when served over HTTPS). CSRF: every
form carries a token — for a logged-in session HMAC-SHA256(session token, "csrf"), so it is bound to the
session and needs no server state; before login, the value of a random ``hub_csrf`` cookie (double
submit). A POST whose token is missing or wrong is refused with 403 and changes nothing.

Access: a page of a study the account does not work on is 404 (existence is not revealed), a page the
role may never use is 403, a page that needs an account redirects to ``/login`` when nobody is logged in.
Language: :func:`cifranegra.service.i18n.choose_lang`.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cifranegra.service import auth, i18n, jobs
from cifranegra.service.audit import note_target
from cifranegra.service.auth import Principal
from cifranegra.service.db import ROLES, Agency, transaction
from cifranegra.service.http_errors import ApiError
from cifranegra.service.routers import auth as auth_routes
from cifranegra.service.routers import public as public_routes
from cifranegra.service.routers import releases as release_routes
from cifranegra.service.routers import runs as run_routes
from cifranegra.service.routers import studies as study_routes
from cifranegra.service.routers import submissions as submission_routes
from cifranegra.service.routers import users as user_routes

router = APIRouter(include_in_schema=False)

SESSION_COOKIE = "hub_session"
CSRF_COOKIE = "hub_csrf"
STATIC_URL = "/static/hub"
STATIC_DIR = Path(__file__).parent / "static" / "hub"

router.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="hub-static")

_env = Environment(
    loader=PackageLoader("cifranegra.service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


# --- request context: language, principal, CSRF ------------------------------------------------------


def request_lang(request: Request) -> str:
    return i18n.choose_lang(request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE),
                            request.headers.get("accept-language"))


def current_principal(request: Request) -> Principal | None:
    """The logged-in account (session cookie), or ``None``; also names the actor of the audit entry."""
    return auth.resolve_principal(request)


def _csrf_for(request: Request) -> tuple[str, str | None]:
    """The CSRF token forms must carry, and a new ``hub_csrf`` cookie value to set (or ``None``)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return hmac.new(session_token.encode("utf-8"), b"csrf", hashlib.sha256).hexdigest(), None
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing, None
    fresh = secrets.token_urlsafe(32)
    return fresh, fresh


def csrf_ok(request: Request, sent: object) -> bool:
    """Whether the form's token is the one this browser's pages carry (constant-time comparison)."""
    expected, new_cookie = _csrf_for(request)
    if new_cookie is not None or not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), sent.encode("utf-8"))


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status: int = 200,
    notices: Sequence[tuple[str, str]] = (),
    **context: Any,
) -> HTMLResponse:
    """A page in the request's language, with the CSRF token for its forms."""
    lang = request_lang(request)
    csrf, new_cookie = _csrf_for(request)
    catalogue = i18n.translator(lang)

    def t(key: str, **values: object) -> str:
        message = catalogue[key]
        return message.format(**values) if values else message

    html = _env.get_template(template).render(
        lang=lang, t=t, when=lambda moment: i18n.format_when(moment, lang), principal=principal, csrf=csrf,
        notices=list(notices), static_url=STATIC_URL, refresh=context.pop("refresh", None),
        here=request.url.path if request.method == "GET" else "/", **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    if new_cookie is not None:
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="strict", secure=_secure(request))
    query_lang = request.query_params.get("lang")
    if query_lang in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, query_lang, max_age=365 * 24 * 3600, samesite="strict",
                            secure=_secure(request))
    return response


def error_page(request: Request, principal: Principal | None, status: int, detail: str = "",
               problems: Sequence[Mapping[str, str]] = (), message: str = "") -> HTMLResponse:
    """The error page: the status's sentence in the reader's language (or ``message``), then the
    service's own message (``detail``, in English: the API's words)."""
    lang = request_lang(request)
    key = f"error_{status}"
    if not message:
        message = i18n.text(lang, key) if key in i18n.translator(lang) else i18n.text(lang, "error_400")
    return render(request, "hub/error.html", principal, status=status, message=message, detail=detail,
                  problems=list(problems))


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _to_login() -> RedirectResponse:
    return _redirect("/login")


def _study_url(study: str) -> str:
    return "/studies/" + quote(study, safe="")


def _text(request: Request, key: str, **values: object) -> str:
    return i18n.text(request_lang(request), key, **values)


def _csrf_refused(request: Request, principal: Principal | None) -> HTMLResponse:
    return error_page(request, principal, 403, message=_text(request, "csrf_failed"))


async def _plain_form(request: Request) -> Mapping[str, Any]:
    """The fields of a plain form; empty for a malformed or file-carrying body (``max_files=0``: nothing
    is spooled to disk), which then fails the CSRF check."""
    try:
        return await request.form(max_files=0, max_fields=20)
    except Exception:  # whatever the form parser raises, the body is not one of our forms
        return {}


async def _posted(request: Request) -> tuple[Mapping[str, Any], Principal | None, Response | None]:
    """A logged-in form's fields and principal, or the refusal: 401 without a session, 403 without the
    CSRF token."""
    form = await _plain_form(request)
    principal = await run_in_threadpool(current_principal, request)
    if principal is None:
        return form, None, error_page(request, None, 401)
    if not csrf_ok(request, form.get("csrf")):
        return form, principal, _csrf_refused(request, principal)
    return form, principal, None


# --- log in, log out, home ----------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    notices = [("ok", _text(request, "logged_out"))] if request.query_params.get("bye") == "1" else []
    return render(request, "hub/login.html", current_principal(request), notices=notices, username="")


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await _plain_form(request)
    if not csrf_ok(request, form.get("csrf")):
        return _csrf_refused(request, None)
    username, password = form.get("username"), form.get("password")
    failed = [("error", _text(request, "login_failed"))]
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password \
            or len(username) > 200 or len(password) > auth.MAX_PASSWORD:
        return render(request, "hub/login.html", None, status=401, notices=failed, username="")
    try:
        token, _expires, _principal = await run_in_threadpool(auth_routes.log_in, request, username, password)
    except ApiError as exc:
        if exc.status == 429:
            return render(request, "hub/login.html", None, status=429,
                          notices=[("error", _text(request, "login_locked"))], username=username)
        return render(request, "hub/login.html", None, status=401, notices=failed, username=username)
    response = _redirect("/")
    ttl = int(request.app.state.home.token_ttl.total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    form = await _plain_form(request)
    principal = await run_in_threadpool(current_principal, request)
    if not csrf_ok(request, form.get("csrf")):
        return _csrf_refused(request, principal)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(auth_routes.log_out, request, token)
    response = _redirect("/login?bye=1")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request) -> Response:
    """The home of the account's role (see the module docstring); the login page for nobody."""
    principal = current_principal(request)
    if principal is None:
        return _to_login()
    if principal.role == "hub_admin":
        return _admin_page(request, principal)
    if principal.role == "coordinator":
        return _studies_page(request, principal)
    if principal.role == "agency_submitter":
        return _agency_page(request, principal)
    if principal.role == "auditor":
        return _redirect("/audit")
    if principal.study:
        suffix = "/review" if principal.role == "approver" else ""
        return _redirect(_study_url(principal.study) + suffix)
    return error_page(request, principal, 403)


def _admin_page(request: Request, principal: Principal, *, status: int = 200,
                notices: Sequence[tuple[str, str]] = ()) -> Response:
    with request.app.state.sessions() as session:
        users = user_routes.list_users(session)
        agencies = list(session.scalars(select(Agency.name).order_by(Agency.name)))
        studies = [s["name"] for s in study_routes.list_studies(session, principal)]
    return render(request, "hub/admin.html", principal, status=status, notices=notices, users=users,
                  agencies=agencies, studies=studies, roles=ROLES)


@router.post("/admin/agencies")
async def admin_create_agency(request: Request) -> Response:
    """The hub administrator registers an agency (the same rules as ``POST /api/v1/agencies``)."""
    form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)
    if principal.role != "hub_admin":
        return error_page(request, principal, 403)
    name = form.get("name")

    def work(name: str) -> Response:
        try:
            with transaction(request.app.state.sessions) as session:
                made = user_routes.create_agency(session, name).name
            note_target(request, agency=made)
        except ApiError as exc:
            return _admin_page(request, principal, status=exc.status, notices=[("error", exc.message)])
        except IntegrityError:
            return _admin_page(request, principal, status=409, notices=[("error", _text(request, "error_409"))])
        return _admin_page(request, principal, status=201, notices=[("ok", _text(request, "agency_created"))])

    return await run_in_threadpool(work, name if isinstance(name, str) else "")


@router.post("/admin/users")
async def admin_create_user(request: Request) -> Response:
    """The hub administrator creates an account (the same rules as ``POST /api/v1/users``)."""
    form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)
    if principal.role != "hub_admin":
        return error_page(request, principal, 403)
    fields = {k: form.get(k) for k in ("username", "password", "role", "agency", "study")}
    values = {k: v for k, v in fields.items() if isinstance(v, str) and v}

    def work() -> Response:
        try:
            body = user_routes.UserIn(**values)
        except ValidationError:
            return _admin_page(request, principal, status=422, notices=[("error", _text(request, "user_fields"))])
        try:
            with transaction(request.app.state.sessions) as session:
                made = user_routes.create_user(session, body)
            note_target(request, username=made["username"], role=made["role"], agency=made["agency"],
                        study=made["study"])
        except ApiError as exc:
            return _admin_page(request, principal, status=exc.status, notices=[("error", exc.message)])
        except IntegrityError:
            return _admin_page(request, principal, status=409, notices=[("error", _text(request, "error_409"))])
        return _admin_page(request, principal, status=201, notices=[("ok", _text(request, "user_created"))])

    return await run_in_threadpool(work)


# --- agency: submit, own submissions, withdraw ----------------------------------------------------------


def _agency_page(request: Request, principal: Principal, *, status: int = 200, report: Mapping[str, Any] | None = None,
                 notices: Sequence[tuple[str, str]] = ()) -> Response:
    if principal.role != "agency_submitter":
        return error_page(request, principal, 403)
    if not principal.study or principal.agency_id is None:
        return error_page(request, principal, 404)
    try:
        with request.app.state.sessions() as session:
            submissions = submission_routes.list_submissions(session, principal, principal.study)
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    return render(request, "hub/agency.html", principal, status=status, report=report, notices=notices,
                  submissions=submissions, idempotency_key="web-" + secrets.token_hex(16))


async def _read_form_body(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` past ``limit`` bytes (stops reading there)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _field(fields: Mapping[str, bytes], name: str) -> str:
    try:
        return fields.get(name, b"").decode("utf-8")
    except UnicodeDecodeError:
        return ""


@router.post("/submit")
async def submit_file(request: Request) -> Response:
    """The agency's form: *check* (dry run: every check, nothing kept) or *submit* (kept once per form)."""
    principal = await run_in_threadpool(current_principal, request)
    if principal is None:
        return error_page(request, None, 401)
    ctype = request.headers.get("content-type", "")
    limit = int(request.app.state.home.max_upload_bytes) + 64 * 1024  # the file plus the form's other fields
    body = await _read_form_body(request, limit)
    if body is None:
        return error_page(request, principal, 413)
    try:
        multipart = ctype.lower().startswith("multipart/form-data")
        fields = submission_routes.parse_multipart(body, ctype) if multipart else {}
    except ValueError:
        fields = {}
    if not csrf_ok(request, _field(fields, "csrf")):
        return _csrf_refused(request, principal)
    if principal.role != "agency_submitter":
        return error_page(request, principal, 403)
    data = fields.get("file", b"")
    if not data:
        return await run_in_threadpool(lambda: _agency_page(
            request, principal, status=400, notices=[("error", _text(request, "no_file"))]))
    dry_run = _field(fields, "action") == "check"
    return await run_in_threadpool(_submit, request, principal, data, _field(fields, "idempotency_key"), dry_run)


def _submit(request: Request, principal: Principal, data: bytes, key: str, dry_run: bool) -> Response:
    try:
        idempotency_key = None if dry_run else submission_routes.check_idempotency_key(key)
        result = submission_routes.submit(
            request.app.state.sessions, request.app.state.storage, principal, principal.study or "", data,
            idempotency_key=idempotency_key, dry_run=dry_run,
        )
    except submission_routes.Refused as refused:
        report = {"ok": False, "dry_run": dry_run, "n_records": refused.report.n_records,
                  "problems": refused.report.problems, "status": 422}
        return _agency_page(request, principal, status=422, report=report)
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    report = {"ok": True, "dry_run": dry_run, "n_records": result.body.get("n_records", 0),
              "problems": result.body.get("problems", []), "status": result.status}
    return _agency_page(request, principal, status=result.status, report=report)


@router.post("/submissions/{submission_id}/withdraw")
async def withdraw_submission(submission_id: str, request: Request) -> Response:
    _form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)

    def work() -> Response:
        try:
            submission_routes.withdraw(request.app.state.sessions, request.app.state.storage, principal,
                                       principal.study or "", submission_id)
        except ApiError as exc:
            return error_page(request, principal, exc.status, exc.message)
        return _agency_page(request, principal, notices=[("ok", _text(request, "withdrawn_done"))])

    return await run_in_threadpool(work)


# --- coordinator and analyst: studies -------------------------------------------------------------------


def _studies_page(request: Request, principal: Principal, *, status: int = 200,
                  notices: Sequence[tuple[str, str]] = ()) -> Response:
    try:
        with request.app.state.sessions() as session:
            studies = [s["name"] for s in study_routes.list_studies(session, principal)]
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    return render(request, "hub/studies.html", principal, status=status, notices=notices, studies=studies,
                  can_create=principal.role == "coordinator")


@router.get("/studies")
def studies_page(request: Request) -> Response:
    principal = current_principal(request)
    if principal is None:
        return _to_login()
    if principal.role not in ("coordinator", "analyst", "approver"):
        return error_page(request, principal, 403)
    return _studies_page(request, principal)


@router.post("/studies")
async def create_study(request: Request) -> Response:
    form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)
    if principal.role != "coordinator":
        return error_page(request, principal, 403)
    name = form.get("name")
    name = name.strip() if isinstance(name, str) else ""

    def work() -> Response:
        try:
            with transaction(request.app.state.sessions) as session:
                study_routes.create_study(session, principal, name, {})
        except ApiError as exc:
            return _studies_page(request, principal, status=exc.status, notices=[("error", exc.message)])
        except IntegrityError:  # created at the same moment by another request
            return _studies_page(request, principal, status=409, notices=[("error", _text(request, "error_409"))])
        return _redirect(_study_url(name))

    return await run_in_threadpool(work)


# --- auditor ---------------------------------------------------------------------------------------------

AUDIT_PAGE_ENTRIES = 200


def _auditor(request: Request) -> tuple[Principal | None, Response | None]:
    principal = current_principal(request)
    if principal is None:
        return None, _to_login()
    if principal.role != "auditor":
        return principal, error_page(request, principal, 403)
    return principal, None


@router.get("/audit")
def audit_page(request: Request) -> Response:
    """The chain's verification and the latest entries, newest first."""
    principal, refused = _auditor(request)
    if refused is not None:
        return refused
    from sqlalchemy import func

    from cifranegra.service.audit import verify
    from cifranegra.service.db import AuditEntry
    from cifranegra.service.routers import audit as audit_routes

    with request.app.state.sessions() as session:
        checked = verify(session)
        last = session.scalar(select(func.max(AuditEntry.id))) or 0
        entries = audit_routes.list_entries(session, max(0, last - AUDIT_PAGE_ENTRIES), AUDIT_PAGE_ENTRIES)
    return render(request, "hub/audit.html", principal, verify=checked, entries=list(reversed(entries)))


@router.get("/audit/export.csv")
def audit_export(request: Request) -> Response:
    principal, refused = _auditor(request)
    if refused is not None:
        return refused
    from cifranegra.service.routers import audit as audit_routes

    assert principal is not None
    return audit_routes.export_csv(request, principal)


# --- a study's page: participants, submissions, runs, releases --------------------------------------------

def _study_page(request: Request, principal: Principal, study: str, *, status: int = 200,
                notices: Sequence[tuple[str, str]] = ()) -> Response:
    if principal.role not in ("coordinator", "analyst", "approver"):
        return error_page(request, principal, 403)
    try:
        with request.app.state.sessions() as session:
            described = study_routes.get_study(session, principal, study)
            submissions = (submission_routes.list_submissions(session, principal, study)
                           if principal.role in submission_routes.READ_ROLES else None)
            runs = run_routes.list_runs(session, principal, study)
            releases = release_routes.list_releases(session, request.app.state.storage, principal, study)
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    finished = [r for r in runs if r.get("state") == "succeeded"]
    return render(
        request, "hub/study.html", principal, status=status, notices=notices, study=study,
        participants=described.get("participants"), submissions=submissions, runs=runs, releases=releases,
        finished_runs=finished, can_run=principal.role in run_routes.START_ROLES,
        can_draft=principal.role in release_routes.DRAFT_ROLES,
        can_withdraw=principal.role in release_routes.WITHDRAW_ROLES,
    )


def _study_form(request: Request, principal: Principal, study: str, action: Callable[[], Response]) -> Response:
    """Carry out a form of the study page: a refusal the person can act on (409: the state does not
    allow it now; 422: what was typed) is shown on the study page above the form; any other as an error
    page."""
    try:
        return action()
    except ApiError as exc:
        if exc.status in (409, 422):
            return _study_page(request, principal, study, status=exc.status, notices=[("error", exc.message)])
        return error_page(request, principal, exc.status, exc.message)


@router.get("/studies/{study}")
def study_page(study: str, request: Request) -> Response:
    principal = current_principal(request)
    if principal is None:
        return _to_login()
    return _study_page(request, principal, study)


@router.post("/studies/{study}/runs")
async def start_run(study: str, request: Request) -> Response:
    """Queue a run of the study's current submissions, then show its progress."""
    _form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)

    def work() -> Response:
        run = run_routes.start_run(request.app.state.sessions, principal, study)
        return _redirect(f"{_study_url(study)}/runs/{run['id']}")

    return await run_in_threadpool(_study_form, request, principal, study, work)


ACTIVE_RUN_STATES = ("queued", "running")
RUN_REFRESH_SECONDS = 3


@router.get("/studies/{study}/runs/{run_id}")
def run_page(study: str, run_id: str, request: Request) -> Response:
    """A run's state and progress (the page refreshes itself while the run is active); the analyst also
    sees the internal aggregates once it has succeeded."""
    principal = current_principal(request)
    if principal is None:
        return _to_login()
    internal: list[tuple[str, dict[str, Any]]] | None = None
    try:
        with request.app.state.sessions() as session:
            run = run_routes.get_run(session, principal, study, run_id)
            if principal.role in run_routes.INTERNAL_ROLES and run["state"] == "succeeded":
                data = run_routes.internal_zip(session, request.app.state.storage, principal, study, run_id)
                internal = zip_tables(data)
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    refresh = RUN_REFRESH_SECONDS if run["state"] in ACTIVE_RUN_STATES else None
    return render(request, "hub/run.html", principal, study=study, run=run, internal=internal, refresh=refresh)


@router.post("/studies/{study}/releases")
async def draft_release(study: str, request: Request) -> Response:
    form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)
    run_id, title = form.get("run_id"), form.get("title")
    run_id = run_id if isinstance(run_id, str) else ""
    title = title if isinstance(title, str) else ""

    def work() -> Response:
        release_routes.draft_release(request.app.state.sessions, request.app.state.storage, principal, study,
                                     run_id, title)
        return _study_page(request, principal, study, notices=[("ok", _text(request, "drafted"))])

    return await run_in_threadpool(_study_form, request, principal, study, work)


def _draft_tables(session: Any, request: Request, principal: Principal, study: str,
                  release_id: str) -> list[tuple[str, dict[str, Any]]]:
    release = release_routes.find_release(session, principal, study, release_id)
    return zip_tables(release_routes.content_of(session, request.app.state.storage, release))


# --- approver: review and approve ------------------------------------------------------------------------------


@router.get("/studies/{study}/review")
def review_page(study: str, request: Request) -> Response:
    principal = current_principal(request)
    if principal is None:
        return _to_login()
    return _review_page(request, principal, study)


def _review_page(request: Request, principal: Principal, study: str, *, status: int = 200,
                 notices: Sequence[tuple[str, str]] = ()) -> Response:
    if principal.role != "approver":
        return error_page(request, principal, 403)
    try:
        with request.app.state.sessions() as session:
            study_routes.get_study(session, principal, study)
            releases = [{**r, "tables": _draft_tables(session, request, principal, study, r["id"])}
                        for r in release_routes.list_drafts(session, request.app.state.storage, principal, study)]
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    lang = request_lang(request)
    for r in releases:
        base = f"/studies/{quote(study, safe='')}/releases/{r['id']}/files/"
        r["reports"] = [(name.rsplit(".", 1)[-1].upper(), base + quote(name)) for name in r.get("files", [])
                        if name in (f"report-{lang}.html", f"report-{lang}.pdf")]
    return render(request, "hub/review.html", principal, status=status, notices=notices, study=study,
                  releases=releases)


@router.get("/studies/{study}/releases/{release_id}/files/{name:path}")
def draft_file(study: str, release_id: str, name: str, request: Request) -> Response:
    """One file of a release of the principal's study (a draft's report, for the approver's review)."""
    principal = current_principal(request)
    if principal is None:
        return _to_login()
    if principal.role not in release_routes.READ_ROLES:
        return error_page(request, principal, 403)
    try:
        with request.app.state.sessions() as session:
            release = release_routes.find_release(session, principal, study, release_id)
            content = release_routes.file_of(session, request.app.state.storage, release, name)
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    # the report is our own self-contained HTML: no script, nothing fetched
    return Response(content=content, media_type=run_routes.media_type(name),
                    headers={"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                             "font-src data:"})


@router.post("/studies/{study}/releases/{release_id}/approve")
async def approve_release(study: str, release_id: str, request: Request) -> Response:
    _form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)

    def work() -> Response:
        try:
            release_routes.approve_release(request.app.state.sessions, request.app.state.storage, principal, study,
                                           release_id)
        except ApiError as exc:
            if exc.status in (403, 409) and principal.role == "approver" and exc.code != "forbidden":
                return _review_page(request, principal, study, status=exc.status, notices=[("error", exc.message)])
            return error_page(request, principal, exc.status, exc.message)
        return _review_page(request, principal, study, notices=[("ok", _text(request, "approved_done"))])

    return await run_in_threadpool(work)


@router.post("/studies/{study}/releases/{release_id}/withdraw")
async def withdraw_release(study: str, release_id: str, request: Request) -> Response:
    form, principal, refused = await _posted(request)
    if refused is not None or principal is None:
        return refused or error_page(request, None, 401)
    reason = form.get("reason")
    reason = reason if isinstance(reason, str) else ""

    def work() -> Response:
        release_routes.withdraw_release(request.app.state.sessions, request.app.state.storage, principal, study,
                                        release_id, reason)
        return _study_page(request, principal, study, notices=[("ok", _text(request, "withdrawn_release_done"))])

    return await run_in_threadpool(_study_form, request, principal, study, work)


# --- public: releases -------------------------------------------------------------------------------------------


@router.get("/releases")
def releases_page(request: Request) -> Response:
    principal = current_principal(request)
    with request.app.state.sessions() as session:
        releases = public_routes.public_releases(session, request.app.state.storage)
    return render(request, "hub/releases.html", principal, releases=releases)


# --- tables shown on pages ------------------------------------------------------------------------------------

MAX_TABLE_ROWS = 500


def csv_table(data: bytes, max_rows: int = MAX_TABLE_ROWS) -> dict[str, Any]:
    """A CSV file as ``{"columns", "rows"}`` for :file:`_table.html` (at most ``max_rows`` rows)."""
    import csv

    reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace")))
    header = next(reader, [])
    rows: list[list[str]] = []
    for row in reader:
        if len(rows) >= max_rows:
            break
        rows.append(row)
    return {"columns": header, "rows": rows}


@router.get("/releases/{release_id}")
def release_page(release_id: str, request: Request) -> Response:
    """One approved release: its tables, the report's charts, links to every file."""
    principal = current_principal(request)
    lang = request_lang(request)
    try:
        with request.app.state.sessions() as session:
            release = public_routes.public_release(session, request.app.state.storage, release_id)
            if release["state"] == "withdrawn":  # the retraction notice stays; the content is gone
                return render(request, "hub/release.html", principal, status=410, release=release, tables=[],
                              figures=[], reports=[], files=[])
            content = release_routes.content_of(session, request.app.state.storage,
                                                public_routes.approved_release(session, release_id))
    except ApiError as exc:
        return error_page(request, principal, exc.status, exc.message)
    base = f"/api/v1/public/releases/{release_id}/files/"
    names = list(release.get("files", []))
    reports = [(name.rsplit(".", 1)[-1].upper(), base + quote(name)) for name in names
               if name in (f"report-{lang}.html", f"report-{lang}.pdf")]
    report_html = jobs.zip_member(content, f"report-{lang}.html")
    figures = report_figures(report_html.decode("utf-8", errors="replace")) if report_html else []
    return render(request, "hub/release.html", principal, release=release, tables=zip_tables(content),
                  figures=figures, reports=reports, files=[(name, base + quote(name)) for name in names])


def zip_tables(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The CSV files of a results zip as tables (``tables/`` first), by name."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted((n for n in zf.namelist() if n.lower().endswith(".csv")),
                       key=lambda n: (not n.startswith("tables/"), n))
        return [(n, csv_table(zf.read(n))) for n in names]


_DATA_SVG = re.compile(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+")


class _FigureParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str]] = []
        self._in_figure = False
        self._current: dict[str, str] | None = None  # the figure being read, if its image was taken
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "figure":
            self._in_figure, self._current = True, None
        elif tag == "img" and self._in_figure and self._current is None and _DATA_SVG.fullmatch(a.get("src", "")):
            self._current = {"src": a["src"], "alt": a.get("alt", ""), "caption": ""}
            self.figures.append(self._current)
        elif tag == "figcaption" and self._current is not None:
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._in_figure, self._current = False, None
        elif tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption and self._current is not None:
            self._current["caption"] += data


def report_figures(html: str) -> list[dict[str, str]]:
    """The charts of a release's report (``<figure><img src="data:image/svg+xml;base64,…">``): their image
    (only base64 SVG data is taken, shown as an image, so no script can run), alt text and caption."""
    parser = _FigureParser()
    parser.feed(html)
    return [{**f, "caption": " ".join(f["caption"].split())} for f in parser.figures]
