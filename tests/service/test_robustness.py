"""Adversarial requests that were answered with a 500 (or accepted against a documented rule), each with
the rule of docs/hub.md it enforces; and requests in the wrong order, which must stay clean refusals.

Every error is a 4xx in the one shape (docs/hub.md, section 9: ``{"error": {"status", "code",
"message"}}``); a value that was refused is never stored, so no later answer that lists it breaks.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cifranegra.service.db import Run, Study, User
from service.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer
from service.encoded_factory import encoded_bytes

PARQUET = "application/vnd.apache.parquet"
JSON = {"Content-Type": "application/json"}


def raw_json(client: TestClient, method: str, path: str, text: str, token: str | None = None) -> Any:
    """Send ``text`` as the JSON body unchanged: Python's JSON reader takes ``NaN``, ``Infinity`` and lone
    surrogate escapes (``"\\ud800"``), which a client library would never write."""
    headers = {**JSON, **(bearer(token) if token else {})}
    return client.request(method, path, content=text.encode("utf-8"), headers=headers)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    return dict(error)


def _study_count(client: TestClient) -> int:
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        return len(session.query(Study).all())


def _two_agencies(client: TestClient, admin_token: str, make_user: Callable[..., Any],
                  make_study: Callable[..., Any]) -> tuple[str, str, dict[str, str], dict[str, str]]:
    """A study with accepted submissions of two agencies: (study, coordinator token, tokens, submission ids)."""
    made = make_study(client, admin_token)
    tokens, ids = {}, {}
    for agency in ("fgr", "dif"):
        _, tokens[agency] = make_user(client, admin_token, "agency_submitter", agency=agency, study=made.name)
        sent = client.post(f"/api/v1/studies/{made.name}/submissions", content=encoded_bytes(made.name, agency, 20),
                           headers={**bearer(tokens[agency]), "Content-Type": PARQUET, "Idempotency-Key": "k1"})
        assert sent.status_code == 201, sent.text
        ids[agency] = sent.json()["id"]
    return made.name, made.coordinator_token, tokens, ids


def test_settings_that_are_not_plain_json_are_refused_and_never_stored(
        client: TestClient, admin_token: str, make_user: Callable[..., Any], make_study: Callable[..., Any]) -> None:
    # docs/hub.md, section 9: errors are 4xx in one shape. A lone surrogate escape in a study's or a run's
    # settings was stored (201/202) and the answer, and then every listing of the coordinator's studies or
    # of the study's runs, was a 500; NaN was stored too (and refused by PostgreSQL: a 500 there).
    study, coordinator, _tokens, _ids = _two_agencies(client, admin_token, make_user, make_study)
    before = _study_count(client)
    for i, settings in enumerate(('{"x": "\\ud800"}', '{"\\ud800": 1}', '{"strata": {"sex": ["\\ud800"]}}',
                                  '{"seed": NaN}', '{"estimation": {"level": Infinity}}')):
        assert_error(raw_json(client, "POST", "/api/v1/studies", f'{{"name": "bad-{i}", "settings": {settings}}}',
                              coordinator), 422)
    assert _study_count(client) == before
    assert client.get("/api/v1/studies", headers=bearer(coordinator)).status_code == 200
    for settings in ('{"publication": {"title": "\\ud800"}}', '{"publication": {"title": "t", "x\\udfff": 1}}',
                     '{"seed": NaN}'):
        assert_error(raw_json(client, "POST", f"/api/v1/studies/{study}/runs", f'{{"settings": {settings}}}',
                              coordinator), 422)
    runs = client.get(f"/api/v1/studies/{study}/runs", headers=bearer(coordinator))
    assert runs.status_code == 200 and runs.json()["runs"] == []
    assert client.get(f"/studies/{study}", headers=bearer(coordinator)).status_code == 200


def test_a_studys_run_settings_are_checked_when_it_is_created(
        client: TestClient, admin_token: str, make_user: Callable[..., Any]) -> None:
    # docs/hub.md, section 6: "The settings are checked for the number of agencies the run will have (a
    # study's own settings when it is created: for three lists or, failing that, two)"; section 5: a study's
    # settings are `strata` and the run settings. Before, any key and any value were kept, and every run
    # of the study was then refused with 422.
    _, coordinator = make_user(client, admin_token, "coordinator")
    for i, settings in enumerate(({"estimation": {"methods": ["bogus"]}}, {"seed": -1}, {"estimaton": {}},
                                  {"publication": {"formats": ["docx"]}})):
        error = assert_error(client.post("/api/v1/studies", json={"name": f"refused-{i}", "settings": settings},
                                         headers=bearer(coordinator)), 422)
        assert error["code"] == "invalid_settings"
    for i, settings in enumerate(({}, {"strata": {"sex": ["F", "M"]}}, {"estimation": {"methods": ["chapman"]}},
                                  {"seed": 7, "publication": {"languages": ["en"]}})):
        made = client.post("/api/v1/studies", json={"name": f"kept-{i}", "settings": settings},
                           headers=bearer(coordinator))
        assert made.status_code == 201, made.text
        assert made.json()["settings"] == settings


def test_an_audit_cursor_beyond_any_entry_is_422(client: TestClient, admin_token: str,
                                                 make_user: Callable[..., Any]) -> None:
    # docs/hub.md, section 9: errors are 4xx in one shape. `after_id` past SQLite's integers was a 500
    # (OverflowError), past PostgreSQL's integer (2**31 - 1) a 500 there.
    _, auditor = make_user(client, admin_token, "auditor")
    for after in (2**31, 2**63, 10**40):
        assert_error(client.get(f"/api/v1/audit?after_id={after}", headers=bearer(auditor)), 422)
    fine = client.get(f"/api/v1/audit?after_id={2**31 - 1}", headers=bearer(auditor))
    assert fine.status_code == 200 and fine.json()["entries"] == []


def test_names_with_a_nul_byte_on_postgresql(hub_home_factory: Callable[..., Any], fresh_postgres_url: str,
                                             make_user: Callable[..., Any], make_study: Callable[..., Any]) -> None:
    # docs/hub.md, section 9: errors are 4xx in one shape (404: "nothing you may see there"). PostgreSQL
    # refuses a NUL byte in a query's text, so a login, a study in a path, an account to deactivate, an
    # account's agency or study, or a release's title holding one was a 500 there.
    from cifranegra.service.app import create_app

    app = create_app(hub_home_factory(db_url=fresh_postgres_url))
    with TestClient(app) as client:
        admin = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        made = make_study(client, admin)
        coordinator = made.coordinator_token
        assert_error(client.post("/api/v1/login", json={"username": "ad\x00min", "password": "x" * 12}), 401)
        for path in ("/studies/a%00b", "/studies/a%00b/submissions", "/studies/a%00b/runs",
                     "/studies/a%00b/releases"):
            assert_error(client.get(f"/api/v1{path}", headers=bearer(coordinator)), 404)
        assert client.get("/studies/a%00b", headers=bearer(coordinator)).status_code == 404  # the web page
        assert_error(client.post("/api/v1/users/a%00b/deactivate", headers=bearer(admin)), 404)
        for extra in ({"role": "agency_submitter", "agency": "a\x00", "study": made.name},
                      {"role": "analyst", "study": "a\x00b"}):
            assert_error(client.post("/api/v1/users", json={"username": "nul-user", "password": "p" * 12, **extra},
                                     headers=bearer(admin)), 422)
        # a release of a (pretended) succeeded run, titled with control characters: they become spaces
        _, analyst = make_user(client, admin, "analyst", study=made.name)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("tables/estimates.csv", "a,b\n1,2\n")
        with app.state.sessions() as session, session.begin():
            study = session.query(Study).filter_by(name=made.name).one()
            user = session.query(User).filter_by(username=made.coordinator).one()
            run = Run(study_id=study.id, created_by=user.id, state="succeeded", submission_ids=[], settings={},
                      publish_blob_id=app.state.storage.put(session, buf.getvalue()))
            session.add(run)
            session.flush()
            run_id = run.id
        drafted = client.post(f"/api/v1/studies/{made.name}/releases", json={"run_id": run_id, "title": "a\x00b\x07c"},
                              headers=bearer(analyst))
        assert drafted.status_code == 201, drafted.text
        assert drafted.json()["title"] == "a b c"


def test_bodies_over_the_small_limit_are_413_before_they_are_read(
        client: TestClient, admin_token: str, make_user: Callable[..., Any], make_study: Callable[..., Any]) -> None:
    # docs/hub.md, sections 2 and 9: "413: the body is over the limit" — outside the two upload routes the
    # limit is 1 MiB. Before, a JSON or form body of any size was read whole and parsed, from anyone
    # (POST /api/v1/login needs no account): a 30 MB login was answered 422 after being parsed.
    from cifranegra.service.http_errors import SMALL_BODY_BYTES

    big = b'{"username": "admin", "password": "' + b"x" * (SMALL_BODY_BYTES + 1) + b'"}'
    assert_error(client.post("/api/v1/login", content=big, headers=JSON), 413)

    def chunks() -> Any:  # no Content-Length: the limit is counted while reading
        yield b'{"username": "admin", "password": "'
        for _ in range(3):
            yield b"x" * (SMALL_BODY_BYTES // 2)
        yield b'"}'

    assert_error(client.post("/api/v1/login", content=chunks(), headers=JSON), 413)
    page = client.post("/login", content=b"username=admin&password=" + b"x" * (SMALL_BODY_BYTES + 1),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    _, auditor = make_user(client, admin_token, "auditor")
    entries = client.get("/api/v1/audit?limit=1000", headers=bearer(auditor)).json()["entries"]
    assert [e["status"] for e in entries if e["action"].endswith(" /api/v1/login")].count(413) == 2  # audited
    # small bodies and chunked small bodies are unchanged; uploads keep max_upload_bytes (256 MiB here)
    assert client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).status_code == 200
    assert client.post("/api/v1/login", headers=JSON, content=iter([b'{"username": "admin", ',
                                                                    b'"password": "admin-password-0001"}'])
                       ).status_code == 200
    made = make_study(client, admin_token)
    _, submitter = make_user(client, admin_token, "agency_submitter", agency="fgr", study=made.name)
    upload = client.post(f"/api/v1/studies/{made.name}/submissions", content=b"x" * (2 * SMALL_BODY_BYTES),
                         headers={**bearer(submitter), "Content-Type": PARQUET, "Idempotency-Key": "big"})
    assert upload.status_code == 422 and upload.json()["error"]["code"] == "submission_refused"


def test_operations_in_the_wrong_order_are_clean_refusals(
        client: TestClient, admin_token: str, make_user: Callable[..., Any], make_study: Callable[..., Any]) -> None:
    # docs/hub.md, sections 6 and 8 (these answered correctly already; kept so that they stay so)
    study, coordinator, tokens, ids = _two_agencies(client, admin_token, make_user, make_study)
    lonely = make_study(client, admin_token, coordinator_token=coordinator)
    assert_error(client.post(f"/api/v1/studies/{lonely.name}/runs", headers=bearer(coordinator)), 409)  # no lists
    started = client.post(f"/api/v1/studies/{study}/runs", headers=bearer(coordinator))
    assert started.status_code == 202
    run_id = started.json()["id"]
    _, analyst = make_user(client, admin_token, "analyst", study=study)
    _, approver = make_user(client, admin_token, "approver", study=study)
    assert_error(client.post(f"/api/v1/studies/{study}/releases", json={"run_id": run_id},
                             headers=bearer(analyst)), 409)  # a release before the run succeeded
    assert_error(client.get(f"/api/v1/studies/{study}/runs/{run_id}/internal", headers=bearer(analyst)), 409)
    assert_error(client.delete(f"/api/v1/studies/{study}/submissions/{ids['fgr']}",
                               headers=bearer(tokens["fgr"])), 409)  # used by the queued run
    assert_error(client.delete(f"/api/v1/studies/{study}/submissions/{ids['fgr']}",
                               headers=bearer(tokens["dif"])), 404)  # another agency's
    assert_error(client.post(f"/api/v1/studies/{study}/releases/{'a' * 32}/approve", headers=bearer(approver)), 404)
    for who in (analyst, approver, tokens["fgr"]):  # only the coordinator starts runs
        assert_error(client.post(f"/api/v1/studies/{study}/runs", headers=bearer(who)), 403)
    with client.app.state.sessions() as session, session.begin():  # type: ignore[attr-defined]
        run = session.get(Run, run_id)
        assert run is not None
        run.state = "failed"
    assert client.delete(f"/api/v1/studies/{study}/submissions/{ids['fgr']}",
                         headers=bearer(tokens["fgr"])).status_code == 200
    assert_error(client.delete(f"/api/v1/studies/{study}/submissions/{ids['fgr']}",
                               headers=bearer(tokens["fgr"])), 409)  # withdrawn twice
    assert client.post("/api/v1/logout", headers=bearer(approver)).status_code == 200
    assert_error(client.post("/api/v1/logout", headers=bearer(approver)), 401)  # revoked twice


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"null", b'{"settings": []}', b'{"settings": "x"}'])
def test_malformed_run_bodies(body: bytes, client: TestClient, admin_token: str,
                              make_study: Callable[..., Any]) -> None:
    made = make_study(client, admin_token)
    answer = client.post(f"/api/v1/studies/{made.name}/runs", content=body,
                         headers={**JSON, **bearer(made.coordinator_token)})
    assert answer.status_code in (400, 409, 422), answer.text  # 409: the study has no lists yet
