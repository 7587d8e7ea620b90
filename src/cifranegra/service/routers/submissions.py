"""Submissions: an agency sends its encoded list; the hub checks it, encrypts it and keeps it once.

Routes (under ``/api/v1``):

- ``POST /studies/{study}/submissions`` — the encoded Parquet as the body
  (``application/vnd.apache.parquet`` or ``application/octet-stream``) or as the ``file`` field of a
  ``multipart/form-data`` body; header ``Idempotency-Key`` (required unless ``?dry_run=true``).
  201 ``{"id", "sha256", "n_records", "problems"}`` (problems: warnings only); the same key again
  for the same study and agency: 200 with the same submission, never a second row (also when two
  retries race: the unique constraint decides and the loser returns the winner's row); the same key
  with another file: 409. A refused file: 422 in the one error shape, with the list of problems
  under ``error.problems``. ``?dry_run=true`` runs every check, stores nothing: 200 or 422.
- ``GET /studies/{study}/submissions`` — metadata only; an agency sees its own agency's rows.
- ``GET /studies/{study}/submissions/{id}``.
- ``DELETE /studies/{study}/submissions/{id}`` — withdraw: the encrypted file and its key are
  destroyed (crypto-shredding), the row stays as ``withdrawn`` (for the audit trail) and no later run
  uses it. Refused with 409 when already withdrawn, or while a queued or running run of the study
  includes it (so that a run never reads half a study); withdraw after the run ends. Withdrawal frees
  the idempotency key: the same file sent again later is a new submission.

Access: only ``agency_submitter`` submits and withdraws (its own agency's files, in its one study);
``coordinator`` lists and reads the metadata of the studies it created; every other role gets 403.
A study the principal does not belong to, or another agency's submission, is 404 (existence is not
revealed). The body is read in chunks and refused with 413 past ``home.max_upload_bytes``; it is
never written in clear to disk (multipart is parsed in memory too).

The functions below the routes (:func:`submit`, :func:`list_submissions`, :func:`get_submission`,
:func:`withdraw`) are what the web pages call, so the rules live in one place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.service.auth import CurrentPrincipal, Principal, as_utc
from cifranegra.service.checks import CheckReport, check_submission
from cifranegra.service.db import Agency, Run, Study, Submission, utcnow
from cifranegra.service.http_errors import ApiError
from cifranegra.service.routers.studies import STUDY_NAME

router = APIRouter()

BODY_TYPES = ("application/vnd.apache.parquet", "application/octet-stream")
MULTIPART = "multipart/form-data"
SUBMIT_ROLES = ("agency_submitter",)
READ_ROLES = ("agency_submitter", "coordinator")
_KEY = re.compile(r"[A-Za-z0-9._:\-]{1,200}")
_SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
NOT_FOUND = "no such study, or not one your account works on"


class SubmissionRefusedError(Exception):
    """The checks refused the file (422): ``report.problems`` says why, one problem per line."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        super().__init__("the file was refused: " + "; ".join(p["message"] for p in report.errors))

    def response(self) -> JSONResponse:
        """The one error shape, with the problems listed (``error.problems``) for the agency to fix."""
        return JSONResponse(
            status_code=422,
            content={"error": {"status": 422, "code": "submission_refused", "message": str(self),
                               "problems": self.report.problems}},
        )


Refused = SubmissionRefusedError
"""The short name the web pages use."""


@dataclass(frozen=True)
class Submitted:
    status: int  # 201 new, 200 the same submission again or a dry run
    body: dict[str, Any]


# --- routes ------------------------------------------------------------------------------------------


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the encoded list written by `cifranegra encode`",
        "content": {
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    },
    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "required unless dry_run: one value per file, reused on every retry "
                                   "(1-200 of A-Z a-z 0-9 . _ : -)"}],
}
_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the same submission again (same Idempotency-Key), or a dry run's report"},
    400: {"description": "Idempotency-Key missing or invalid, or a malformed multipart body"},
    409: {"description": "this Idempotency-Key was used for another file"},
    413: {"description": "larger than the hub's max_upload_bytes"},
    415: {"description": "not an accepted Content-Type"},
    422: {"description": "the file was refused; error.problems lists why"},
}


@router.post("/studies/{study}/submissions", status_code=201, openapi_extra=_UPLOAD_DOC,
             responses=_UPLOAD_RESPONSES)
async def post_submission(
    study: str,
    request: Request,
    principal: CurrentPrincipal,
    dry_run: bool = False,
) -> JSONResponse:
    """Submit an encoded list (see the module docstring)."""
    _require(principal, SUBMIT_ROLES, "only an agency's submitter account submits files")
    key = request.headers.get("idempotency-key")
    if not dry_run:
        key = check_idempotency_key(key)
    limit = int(request.app.state.home.max_upload_bytes)
    data = await read_upload(request, limit)
    try:
        result = await run_in_threadpool(
            submit, request.app.state.sessions, request.app.state.storage, principal, study, data,
            idempotency_key=key, dry_run=dry_run,
        )
    except Refused as refused:
        return refused.response()
    return JSONResponse(status_code=result.status, content=result.body)


@router.get("/studies/{study}/submissions")
def get_submissions(study: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The study's submissions (metadata only); an agency sees its own agency's."""
    _require(principal, READ_ROLES, "this role does not see submissions")
    with request.app.state.sessions() as session:
        return {"submissions": list_submissions(session, principal, study)}


@router.get("/studies/{study}/submissions/{submission_id}")
def get_one_submission(
    study: str, submission_id: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    _require(principal, READ_ROLES, "this role does not see submissions")
    with request.app.state.sessions() as session:
        return get_submission(session, principal, study, submission_id)


@router.delete("/studies/{study}/submissions/{submission_id}")
def delete_submission(
    study: str, submission_id: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Withdraw a submission: its file and key are destroyed."""
    _require(principal, SUBMIT_ROLES, "only the submitting agency withdraws its files")
    return withdraw(request.app.state.sessions, request.app.state.storage, principal, study, submission_id)


# --- reading the upload ------------------------------------------------------------------------------


def check_idempotency_key(key: str | None) -> str:
    """The ``Idempotency-Key`` header, required and restricted to a safe alphabet (it is stored)."""
    if key is None or not key.strip():
        raise ApiError(400, "idempotency_key_required",
                       "the Idempotency-Key header is required: one value per file, reused on every retry "
                       "(`cifranegra hub submit` sends the SHA-256 of the file and the study)")
    if not _KEY.fullmatch(key):
        raise ApiError(400, "idempotency_key_invalid",
                       "the Idempotency-Key header must be 1 to 200 letters, digits, '.', '_', ':' or '-'")
    return key


async def read_upload(request: Request, limit: int) -> bytes:
    """The file from the body: raw Parquet or the ``file`` field of a multipart form; 413 past ``limit``."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in BODY_TYPES and ctype != MULTIPART:
        raise ApiError(415, "unsupported_media_type",
                       "send the encoded file as the request body with Content-Type application/vnd.apache.parquet "
                       "(or application/octet-stream), or as the 'file' field of a multipart/form-data form")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = await _read_bounded(request.stream(), limit)
    if ctype == MULTIPART:
        return parse_multipart_file(body, request.headers.get("content-type", ""))
    return body


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large",
                    f"the upload is larger than this hub accepts ({limit:,} bytes); split the list by period or "
                    "ask the hub's administrator to raise max_upload_bytes")


async def _read_bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def parse_multipart_file(body: bytes, content_type: str) -> bytes:
    """The content of the form field ``file`` (in memory; nothing spooled to disk)."""
    bad = ApiError(400, "bad_multipart", "the multipart/form-data body is malformed or has no 'file' field; send "
                   "the encoded file as the form field 'file'")
    try:
        fields = parse_multipart(body, content_type)
    except ValueError:
        raise bad from None
    if "file" not in fields:
        raise bad
    return fields["file"]


def parse_multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    """Every field of a ``multipart/form-data`` body, in memory (an upload is never spooled to disk);
    the first value of a repeated field wins. Raises ``ValueError`` for a malformed body. Used by the
    API's upload and by the web forms."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ValueError("no multipart boundary")
    fields: dict[str, bytes] = {}
    state: dict[str, Any] = {"field": b"", "value": b"", "headers": {}, "data": []}

    def on_part_begin() -> None:
        state["headers"], state["data"] = {}, []

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"].append(data[start:end])

    def on_part_end() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name")
        if name is not None:
            fields.setdefault(name.decode("utf-8", "replace"), b"".join(state["data"]))
        state["data"] = []

    callbacks: Any = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # whatever the parser raises, the form is malformed
        raise ValueError("malformed multipart body") from exc
    return fields


# --- the service functions (shared with the web pages) ------------------------------------------------


def _require(principal: Principal, roles: tuple[str, ...], why: str) -> None:
    if principal.role not in roles:
        raise ApiError(403, "forbidden", f"{why} (your role: {principal.role})")


def find_study(session: Session, principal: Principal, name: str) -> Study:
    """The study ``name`` if the principal works on it; 404 otherwise (also when it does not exist)."""
    if not STUDY_NAME.fullmatch(name):  # a name no study can have (a NUL byte: PostgreSQL refuses it)
        raise ApiError(404, "not_found", NOT_FOUND)
    study = session.scalars(select(Study).where(Study.name == name)).one_or_none()
    if study is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    if principal.role == "coordinator" and study.created_by == principal.user_id:
        return study
    if principal.role == "agency_submitter" and principal.study_id == study.id and principal.agency_id is not None:
        return study
    raise ApiError(404, "not_found", NOT_FOUND)


def _find_submission(session: Session, principal: Principal, study: Study, submission_id: str) -> Submission:
    missing = ApiError(404, "not_found", "no such submission in this study, or not one your account may see")
    if not _SUBMISSION_ID.fullmatch(submission_id):
        raise missing
    sub = session.get(Submission, submission_id)
    if sub is None or sub.study_id != study.id:
        raise missing
    if principal.role == "agency_submitter" and sub.agency_id != principal.agency_id:
        raise missing
    return sub


def describe(sub: Submission, agency: str | None = None) -> dict[str, Any]:
    """A submission's metadata as JSON (no content: there is none in the database)."""
    return {
        "id": sub.id,
        "agency": agency,
        "source": sub.source,
        "sha256": sub.sha256,
        "size": sub.size,
        "n_records": sub.n_records,
        "problems": list(sub.problems or []),
        "state": sub.state,
        "created_at": as_utc(sub.created_at).isoformat() if sub.created_at else None,
        "withdrawn_at": as_utc(sub.withdrawn_at).isoformat() if sub.withdrawn_at else None,
    }


def list_submissions(session: Session, principal: Principal, study_name: str) -> list[dict[str, Any]]:
    """The study's submissions, newest first; an agency's account sees its own agency's only."""
    study = find_study(session, principal, study_name)
    query = select(Submission, Agency.name).join(Agency, Agency.id == Submission.agency_id).where(
        Submission.study_id == study.id)
    if principal.role == "agency_submitter":
        query = query.where(Submission.agency_id == principal.agency_id)
    rows = session.execute(query.order_by(Submission.created_at.desc(), Submission.id)).all()
    return [describe(sub, agency) for sub, agency in rows]


def get_submission(session: Session, principal: Principal, study_name: str, submission_id: str) -> dict[str, Any]:
    study = find_study(session, principal, study_name)
    sub = _find_submission(session, principal, study, submission_id)
    agency = session.get(Agency, sub.agency_id)
    return describe(sub, agency.name if agency else None)


def _receipt(sub: Submission) -> dict[str, Any]:
    return {"id": sub.id, "sha256": sub.sha256, "n_records": sub.n_records, "problems": list(sub.problems or [])}


def _existing(session: Session, study_id: int, agency_id: int, key: str) -> Submission | None:
    return session.scalars(select(Submission).where(
        Submission.study_id == study_id, Submission.agency_id == agency_id, Submission.idempotency_key == key,
    )).one_or_none()


def _same_again(sub: Submission, report_sha: str) -> Submitted:
    if sub.sha256 != report_sha:
        raise ApiError(409, "idempotency_key_reused",
                       "this Idempotency-Key was already used by your agency for another file in this study; "
                       "use a new key for a new file (`cifranegra hub submit` derives it from the file)")
    return Submitted(200, _receipt(sub))


def submit(
    sessions: sessionmaker[Session],
    storage: Any,
    principal: Principal,
    study_name: str,
    data: bytes,
    *,
    idempotency_key: str | None,
    dry_run: bool = False,
) -> Submitted:
    """Check ``data`` and, unless ``dry_run``, keep it encrypted once per idempotency key.

    Raises :class:`Refused` (422) with the problems, or :class:`ApiError` (403/404/409).
    """
    import hashlib

    if principal.role not in SUBMIT_ROLES or principal.agency_id is None:
        raise ApiError(403, "forbidden", "only an agency's submitter account submits files")
    agency_id = principal.agency_id
    sha = hashlib.sha256(data).hexdigest()
    with sessions() as session:  # short: no connection is held while the file is checked
        study = find_study(session, principal, study_name)
        if not dry_run:
            assert idempotency_key is not None
            earlier = _existing(session, study.id, agency_id, idempotency_key)
            if earlier is not None:
                return _same_again(earlier, sha)
    report = _check(study, principal, data)
    if dry_run:
        return Submitted(200, {"dry_run": True, "ok": True, "sha256": report.sha256,
                               "n_records": report.n_records, "problems": report.problems})
    assert idempotency_key is not None
    with sessions() as session:
        study = session.get(Study, study.id) or study
        _pin(session, study, report)
        blob_id = storage.put(session, data)
        sub = Submission(
            study_id=study.id, agency_id=agency_id, submitted_by=principal.user_id,
            idempotency_key=idempotency_key, source=report.source or "", sha256=report.sha256,
            size=len(data), n_records=report.n_records, problems=report.warnings, state="accepted",
            blob_id=blob_id,
        )
        session.add(sub)
        try:
            session.commit()
        except IntegrityError:
            # a concurrent retry with the same key won the race: answer with its row; the blob written
            # here lost its key row with the rollback, so its file goes too (else the orphan sweep would)
            session.rollback()
            storage.path(blob_id).unlink(missing_ok=True)
            winner = _existing(session, study.id, agency_id, idempotency_key)
            if winner is None:
                raise
            return _same_again(winner, sha)
        return Submitted(201, _receipt(sub))


def _check(study: Study, principal: Principal, data: bytes) -> CheckReport:
    settings = study.settings or {}
    strata = settings.get("strata") if isinstance(settings, dict) else None
    report = check_submission(
        data, study=study.name, agency=principal.agency or "", pinned_fingerprint=study.spec_fingerprint,
        pinned_key_check=study.key_check, allowed_strata=strata if isinstance(strata, dict) else None,
    )
    if not report.ok:
        raise Refused(report)
    return report


def _pin(session: Session, study: Study, report: CheckReport) -> None:
    """Pin the study's spec and key on its first accepted file, or refuse the file when they differ from
    the pinned ones. Two first files racing: the conditional UPDATE lets one pin; the other is compared
    with what was pinned."""
    if study.spec_fingerprint is None:
        result: Any = session.execute(
            update(Study)
            .where(Study.id == study.id, Study.spec_fingerprint.is_(None))
            .values(spec_fingerprint=report.spec_fingerprint, key_check=report.key_check)
        )
        if result.rowcount == 1:
            study.spec_fingerprint, study.key_check = report.spec_fingerprint, report.key_check
            return
        session.refresh(study)
    # pinned before this file was checked, or meanwhile by another: compare with what is pinned now
    if (study.spec_fingerprint, study.key_check) != (report.spec_fingerprint, report.key_check):
        problems = []
        if study.spec_fingerprint != report.spec_fingerprint:
            problems.append({"severity": "error", "code": "other_spec",
                             "message": "the file uses another encoding spec than this study's first accepted file; "
                                        "encode with the same spec as the other agencies"})
        if study.key_check != report.key_check:
            problems.append({"severity": "error", "code": "other_key",
                             "message": "the file was encoded with a different secret than this study's accepted "
                                        "files; get the study's secret from the coordinator and encode again"})
        session.rollback()
        raise Refused(CheckReport(ok=False, problems=problems, n_records=report.n_records, source=report.source,
                                  spec_fingerprint=report.spec_fingerprint, key_check=report.key_check,
                                  sha256=report.sha256))


def withdraw(
    sessions: sessionmaker[Session], storage: Any, principal: Principal, study_name: str, submission_id: str
) -> dict[str, Any]:
    """Withdraw a submission of the principal's agency: destroy its file and key; 409 when already
    withdrawn or while a queued or running run includes it."""
    if principal.role not in SUBMIT_ROLES:
        raise ApiError(403, "forbidden", "only the submitting agency withdraws its files")
    with sessions() as session:
        study = find_study(session, principal, study_name)
        sub = _find_submission(session, principal, study, submission_id)
        if sub.state == "withdrawn":
            raise ApiError(409, "already_withdrawn", "this submission was already withdrawn; its file no longer exists")
        active = session.scalars(select(Run).where(Run.study_id == study.id, Run.state.in_(("queued", "running"))))
        if any(sub.id in (run.submission_ids or []) for run in active):
            raise ApiError(409, "in_use", "a run of this study that includes this submission is queued or running; "
                           "withdraw it when the run has finished (later runs will not use it)")
        if sub.blob_id is not None:
            storage.shred(session, sub.blob_id)
        sub.state = "withdrawn"
        sub.blob_id = None
        # free the key (a value no client can send: '~' is outside the keys' alphabet), so that the
        # agency can submit the same file again later and get a new submission, not the withdrawn one
        sub.idempotency_key = f"~withdrawn~{sub.id}"
        sub.withdrawn_at = utcnow()
        session.commit()
        agency = session.get(Agency, sub.agency_id)
        return describe(sub, agency.name if agency else None)
