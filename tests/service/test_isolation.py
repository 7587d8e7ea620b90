"""The isolation matrix: every role × every ``/api/v1`` endpoint × own/other study and agency.

The routes are enumerated from the app itself (its OpenAPI document); a route without an entry in
:data:`MATRIX` fails the test, so a new endpoint cannot ship without its access rule. An entry gives the
expected status for each principal below (``default`` for the rest) against study ``A``'s resources
(the target submission belongs to agency ``fiscalia`` in study ``A``):

| principal | who |
| --- | --- |
| public | no token |
| hub_admin, auditor | the hub's administrator; an auditor |
| coordinator / coordinator_other | created study A / created study B only |
| analyst, approver / …_other | of study A / of study B |
| submitter | agency fiscalia, study A (owns the target submission) |
| submitter_other_agency | agency dif, study A |
| submitter_other_study | agency fiscalia, study B |

Conventions (docs/hub.md, "Roles"): 401 without a valid token; 403 for a role that may never use the
endpoint; 404 for a study (or another agency's submission) the principal does not belong to.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cifranegra.service.app import create_app
from cifranegra.service.config import KEY_FILE_ENV, init_home
from service.conftest import ADMIN_PASSWORD, ADMIN_USER, _make_study, _make_user, bearer, password_of
from service.encoded_factory import cached_encoded_bytes

PRINCIPALS = (
    "public", "hub_admin", "auditor", "coordinator", "coordinator_other", "analyst", "analyst_other", "approver",
    "approver_other", "submitter", "submitter_other_agency", "submitter_other_study",
)
PARQUET = "application/vnd.apache.parquet"
_unique = itertools.count(1)


@dataclass
class World:
    client: TestClient
    app: FastAPI
    tokens: dict[str, str | None]
    usernames: dict[str, str]
    agencies: dict[str, str]
    submission_id: str  # fiscalia's submission in study A
    run_id: str = ""  # a succeeded run of study A, started by its coordinator
    release_id: str = ""  # a draft release of study A, drafted by its coordinator
    public_id: str = ""  # an approved release of study A
    study: str = "study-a"
    other_study: str = "study-b"

    def submit(self, principal: str, study: str | None = None) -> Any:
        """POST a fresh encoded file as ``principal`` (its own agency's), with a fresh key."""
        agency = self.agencies.get(principal, "fiscalia")
        token = self.tokens[principal]
        headers = {"Content-Type": PARQUET, "Idempotency-Key": f"iso-{next(_unique)}"}
        if token:
            headers.update(bearer(token))
        return self.client.post(f"/api/v1/studies/{study or self.study}/submissions", headers=headers,
                                content=cached_encoded_bytes(study or self.study, agency, 12, seed=next(_unique) % 3))

    def draft(self, principal: str) -> str:
        """A new draft release of study A from the succeeded run, drafted by ``principal``."""
        made = self.client.post(f"/api/v1/studies/{self.study}/releases", json={"run_id": self.run_id, "title": "t"},
                                headers=bearer(self.tokens[principal] or ""))
        assert made.status_code == 201, made.text
        return str(made.json()["id"])


@dataclass
class Case:
    """Expected statuses; ``call`` makes the request (default: method and path, params filled from ``params``)."""

    expect: dict[str, int]
    default: int = 403
    params: Callable[[World, str], dict[str, str]] | None = None
    body: Callable[[World, str], Any] | None = None
    fresh_token: bool = False  # log the principal in again first (the call spends its token)
    call: Callable[[World, str], Any] | None = None
    check: Callable[[World, str, Any], None] | None = field(default=None)

    def status_for(self, principal: str) -> int:
        return self.expect.get(principal, 401 if principal == "public" else self.default)


def _study_a(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study}


def _target_submission(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study, "submission_id": world.submission_id}


def _fresh_submission(world: World, _principal: str) -> dict[str, str]:
    made = world.submit("submitter")
    assert made.status_code == 201, made.text
    return {"study": world.study, "submission_id": made.json()["id"]}


def _run(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study, "run_id": world.run_id}


def _internal_file(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study, "run_id": world.run_id, "name": "results.json"}


def _release(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study, "release_id": world.release_id}


def _release_file(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study, "release_id": world.release_id, "name": "estimates.csv"}


def _public(world: World, _principal: str) -> dict[str, str]:
    return {"release_id": world.public_id}


def _public_file(world: World, _principal: str) -> dict[str, str]:
    return {"release_id": world.public_id, "name": "estimates.csv"}


def _fresh_draft(world: World, _principal: str) -> dict[str, str]:
    return {"study": world.study, "release_id": world.draft("coordinator")}


def _draft_body(world: World, _principal: str) -> dict[str, str]:
    return {"run_id": world.run_id, "title": "Estimación 2026"}


def _withdraw_body(world: World, _principal: str) -> dict[str, str]:
    return {"reason": "the linkage settings were wrong"}


def _throwaway_user(world: World, _principal: str) -> dict[str, str]:
    name = f"throwaway-{next(_unique)}"
    made = world.client.post("/api/v1/users", json={"username": name, "password": "a-long-password", "role": "auditor"},
                             headers=bearer(world.tokens["hub_admin"] or ""))
    assert made.status_code == 201, made.text
    return {"username": name}


def _login_body(world: World, principal: str) -> dict[str, str]:
    if principal == "public":
        return {"username": "nobody-at-all", "password": "not-a-password"}
    name = world.usernames[principal]
    return {"username": name, "password": ADMIN_PASSWORD if name == ADMIN_USER else password_of(name)}


def _no_fiscalia_rows(world: World, principal: str, response: Any) -> None:
    """An agency's list holds its own agency's submissions only."""
    if principal == "submitter_other_agency":
        assert world.submission_id not in response.text


STUDY_READERS = {"coordinator": 200, "analyst": 200, "approver": 200, "submitter": 200, "submitter_other_agency": 200,
                 "coordinator_other": 404, "analyst_other": 404, "approver_other": 404, "submitter_other_study": 404}
SUBMISSION_READERS = {"coordinator": 200, "submitter": 200, "submitter_other_agency": 404, "coordinator_other": 404,
                      "submitter_other_study": 404}

RUN_READERS = {"coordinator": 200, "analyst": 200, "approver": 200, "coordinator_other": 404, "analyst_other": 404,
               "approver_other": 404}

MATRIX: dict[tuple[str, str], Case] = {
    ("POST", "/api/v1/login"): Case({"public": 401}, default=200, body=_login_body),
    ("POST", "/api/v1/logout"): Case({}, default=200, fresh_token=True),
    ("GET", "/api/v1/healthz"): Case({"public": 200}, default=200),
    # accounts and agencies: the administrator only
    ("POST", "/api/v1/users"): Case({"hub_admin": 201}, body=lambda w, p: {
        "username": f"new-{next(_unique)}", "password": "a-long-password", "role": "auditor"}),
    ("GET", "/api/v1/users"): Case({"hub_admin": 200}),
    ("POST", "/api/v1/users/{username}/deactivate"): Case({"hub_admin": 200}, params=_throwaway_user),
    ("POST", "/api/v1/agencies"): Case({"hub_admin": 201}, body=lambda w, p: {"name": f"agency-{next(_unique)}"}),
    ("GET", "/api/v1/agencies"): Case({"hub_admin": 200}),
    # studies
    ("POST", "/api/v1/studies"): Case({"coordinator": 201, "coordinator_other": 201},
                                      body=lambda w, p: {"name": f"new-study-{next(_unique)}"}),
    ("GET", "/api/v1/studies"): Case({"auditor": 403}, default=200),
    ("GET", "/api/v1/studies/{study}"): Case(STUDY_READERS, params=_study_a),
    # submissions: agencies submit and withdraw their own; the study's coordinator reads metadata
    ("POST", "/api/v1/studies/{study}/submissions"): Case(
        {"submitter": 201, "submitter_other_agency": 201, "submitter_other_study": 404},
        call=lambda w, p: w.submit(p)),
    ("GET", "/api/v1/studies/{study}/submissions"): Case(
        {"coordinator": 200, "submitter": 200, "submitter_other_agency": 200, "coordinator_other": 404,
         "submitter_other_study": 404}, params=_study_a, check=_no_fiscalia_rows),
    ("GET", "/api/v1/studies/{study}/submissions/{submission_id}"): Case(SUBMISSION_READERS,
                                                                           params=_target_submission),
    ("DELETE", "/api/v1/studies/{study}/submissions/{submission_id}"): Case(
        {"submitter": 200, "submitter_other_agency": 404, "submitter_other_study": 404}, params=_fresh_submission),
    # runs: the coordinator starts them; coordinator, analyst and approver follow them; internal
    # aggregates for the analyst only
    ("POST", "/api/v1/studies/{study}/runs"): Case({"coordinator": 202, "coordinator_other": 404}, params=_study_a),
    ("GET", "/api/v1/studies/{study}/runs"): Case(RUN_READERS, params=_study_a),
    ("GET", "/api/v1/studies/{study}/runs/{run_id}"): Case(RUN_READERS, params=_run),
    ("GET", "/api/v1/studies/{study}/runs/{run_id}/internal"): Case({"analyst": 200, "analyst_other": 404},
                                                                     params=_run),
    ("GET", "/api/v1/studies/{study}/runs/{run_id}/internal/{name}"): Case(
        {"analyst": 200, "analyst_other": 404}, params=_internal_file),
    # releases: drafted by the coordinator or analyst, approved by the approver (not the drafter)
    ("POST", "/api/v1/studies/{study}/releases"): Case(
        {"coordinator": 201, "analyst": 201, "coordinator_other": 404, "analyst_other": 404}, params=_study_a,
        body=_draft_body),
    ("GET", "/api/v1/studies/{study}/releases"): Case(RUN_READERS, params=_study_a),
    ("GET", "/api/v1/studies/{study}/releases/{release_id}"): Case(RUN_READERS, params=_release),
    ("GET", "/api/v1/studies/{study}/releases/{release_id}/files/{name}"): Case(RUN_READERS, params=_release_file),
    ("POST", "/api/v1/studies/{study}/releases/{release_id}/approve"): Case(
        {"approver": 200, "approver_other": 404}, params=_fresh_draft),
    # withdrawn by one person: the coordinator or the approver (taking figures down does not wait)
    ("POST", "/api/v1/studies/{study}/releases/{release_id}/withdraw"): Case(
        {"coordinator": 200, "approver": 200, "coordinator_other": 404, "approver_other": 404}, params=_fresh_draft,
        body=_withdraw_body),
    # what is public: approved releases, for anyone (a token is not looked at)
    ("GET", "/api/v1/public/releases"): Case({"public": 200}, default=200),
    ("GET", "/api/v1/public/releases/{release_id}"): Case({"public": 200}, default=200, params=_public),
    ("GET", "/api/v1/public/releases/{release_id}/files/{name}"): Case({"public": 200}, default=200,
                                                                        params=_public_file),
    # the audit log: the auditor only
    ("GET", "/api/v1/audit"): Case({"auditor": 200}),
    ("GET", "/api/v1/audit/verify"): Case({"auditor": 200}),
    ("GET", "/api/v1/audit/export.csv"): Case({"auditor": 200}),
}


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() if path.startswith("/api/v1")
            for method in ops if method in ("get", "post", "put", "patch", "delete")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One hub for the whole module (accounts cost an argon2 hash each); the tests only add to it."""
    saved = os.environ.pop(KEY_FILE_ENV, None)
    try:
        home = init_home(tmp_path_factory.mktemp("iso") / "hub", admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    finally:
        if saved is not None:
            os.environ[KEY_FILE_ENV] = saved
    app = create_app(home)
    with TestClient(app) as client:
        token = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        yield _build_world(client, app, token)


def _build_world(client: TestClient, app: FastAPI, admin_token: str) -> World:
    make_user, make_study = _make_user, _make_study
    tokens: dict[str, str | None] = {"public": None, "hub_admin": admin_token}
    usernames = {"hub_admin": ADMIN_USER}
    study_a = make_study(client, admin_token, name="study-a")
    study_b = make_study(client, admin_token, name="study-b")
    for principal, study in (("coordinator", study_a), ("coordinator_other", study_b)):
        tokens[principal], usernames[principal] = study.coordinator_token, study.coordinator
    agencies = {"submitter": "fiscalia", "submitter_other_agency": "dif", "submitter_other_study": "fiscalia"}
    for principal, role, study_name, agency in (
        ("auditor", "auditor", None, None),
        ("analyst", "analyst", "study-a", None), ("analyst_other", "analyst", "study-b", None),
        ("approver", "approver", "study-a", None), ("approver_other", "approver", "study-b", None),
        ("submitter", "agency_submitter", "study-a", "fiscalia"),
        ("submitter_other_agency", "agency_submitter", "study-a", "dif"),
        ("submitter_other_study", "agency_submitter", "study-b", "fiscalia"),
    ):
        usernames[principal], tokens[principal] = make_user(client, admin_token, role, agency=agency, study=study_name)
    world = World(client, app, tokens, usernames, agencies, submission_id="")
    made = world.submit("submitter")
    assert made.status_code == 201, made.text
    world.submission_id = made.json()["id"]
    assert world.submit("submitter_other_agency").status_code == 201
    if "/api/v1/studies/{study}/runs" in app.openapi()["paths"]:
        world.run_id = _succeeded_run(app, study_a.name, study_a.coordinator)
    if "/api/v1/studies/{study}/releases" in app.openapi()["paths"]:
        world.release_id = world.draft("coordinator")
        world.public_id = world.draft("analyst")
        approved = client.post(f"/api/v1/studies/{world.study}/releases/{world.public_id}/approve",
                               headers=bearer(world.tokens["approver"] or ""))
        assert approved.status_code == 200, approved.text
    return world


def _succeeded_run(app: FastAPI, study_name: str, coordinator: str) -> str:
    """A run of the study that has succeeded, with internal and publish results (made directly: access
    is what is tested here; tests/service/test_runs_releases.py runs real ones)."""
    import io
    import zipfile

    from sqlalchemy import select

    from cifranegra.service.db import Run, Study, User, new_id, transaction, utcnow

    def zipped(files: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        return buf.getvalue()

    with transaction(app.state.sessions) as session:
        study = session.scalars(select(Study).where(Study.name == study_name)).one()
        user = session.scalars(select(User).where(User.username == coordinator)).one()
        internal = app.state.storage.put(session, zipped({"results.json": b'{"estimate": 1234}'}))
        publish = app.state.storage.put(session, zipped({"estimates.csv": b"estimate\n1200\n"}))
        run = Run(id=new_id(), study_id=study.id, created_by=user.id, state="succeeded", progress=1.0,
                  finished_at=utcnow(), internal_blob_id=internal, publish_blob_id=publish)
        session.add(run)
        return run.id


def _request(world: World, case: Case, method: str, path: str, principal: str) -> Any:
    if case.call is not None:
        return case.call(world, principal)
    url = path.format(**case.params(world, principal)) if case.params else path
    token = world.tokens[principal]
    if case.fresh_token and principal != "public":
        name = world.usernames[principal]
        password = ADMIN_PASSWORD if name == ADMIN_USER else password_of(name)
        logged = world.client.post("/api/v1/login", json={"username": name, "password": password})
        token = logged.json()["token"]
    headers = bearer(token) if token else {}
    body = case.body(world, principal) if case.body else None
    return world.client.request(method, url, headers=headers, json=body)


def test_every_api_route_has_an_access_rule(world: World) -> None:
    routes = api_routes(world.app)
    missing = sorted(routes - set(MATRIX))
    assert missing == [], f"routes without an entry in the isolation MATRIX: {missing}"
    stale = sorted(set(MATRIX) - routes)
    assert stale == [], f"MATRIX entries for routes that do not exist: {stale}"


def test_the_isolation_matrix(world: World) -> None:
    """Each principal gets exactly the expected status on each route; a refusal is in the one error shape."""
    wrong = []
    for (method, path), case in sorted(MATRIX.items()):
        if (method, path) not in api_routes(world.app):
            continue
        for principal in PRINCIPALS:
            response = _request(world, case, method, path, principal)
            expected = case.status_for(principal)
            if response.status_code != expected:
                wrong.append(f"{method} {path} as {principal}: {response.status_code}, expected {expected}")
                continue
            if expected >= 400:
                assert response.json()["error"]["status"] == expected
            elif case.check is not None:
                case.check(world, principal, response)
    assert wrong == []


def test_a_refused_study_looks_like_a_missing_one(world: World) -> None:
    """404 for another's study and for no study at all, with the same message (existence not revealed)."""
    token = world.tokens["coordinator_other"] or ""
    other = world.client.get(f"/api/v1/studies/{world.study}", headers=bearer(token)).json()
    missing = world.client.get("/api/v1/studies/no-such-study", headers=bearer(token)).json()
    assert other == missing
    sub_other = world.client.get(f"/api/v1/studies/{world.study}/submissions/{world.submission_id}",
                                 headers=bearer(world.tokens["submitter_other_agency"] or "")).json()
    sub_missing = world.client.get(f"/api/v1/studies/{world.study}/submissions/{'0' * 32}",
                                   headers=bearer(world.tokens["submitter_other_agency"] or "")).json()
    assert sub_other == sub_missing


def test_a_draft_is_not_public(world: World) -> None:
    if not world.public_id:
        pytest.skip("the releases routes are not in this build")
    listed = [r["id"] for r in world.client.get("/api/v1/public/releases").json()["releases"]]
    assert world.public_id in listed and world.release_id not in listed
    draft = world.client.get(f"/api/v1/public/releases/{world.release_id}")
    missing = world.client.get(f"/api/v1/public/releases/{'0' * 32}")
    assert draft.status_code == missing.status_code == 404 and draft.json() == missing.json()
    assert world.client.get(f"/api/v1/public/releases/{world.release_id}/files/estimates.csv").status_code == 404


SHORT = {"public": "pub", "hub_admin": "adm", "auditor": "aud", "coordinator": "coo", "coordinator_other": "coo′",
         "analyst": "ana", "analyst_other": "ana′", "approver": "apr", "approver_other": "apr′", "submitter": "sub",
         "submitter_other_agency": "sub/ag′", "submitter_other_study": "sub/st′"}


def matrix_markdown() -> str:
    """The matrix as a Markdown table (′ = of another study or agency), for docs and notes:
    ``python -c "import sys; sys.path[:0] = ['tests']; from service.test_isolation import matrix_markdown;
    print(matrix_markdown())"``."""
    lines = ["| endpoint | " + " | ".join(SHORT[p] for p in PRINCIPALS) + " |",
             "| --- |" + " --- |" * len(PRINCIPALS)]
    for (method, path), case in sorted(MATRIX.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| `{method} {path.removeprefix('/api/v1')}` | "
                     + " | ".join(str(case.status_for(p)) for p in PRINCIPALS) + " |")
    return "\n".join(lines)


def test_the_matrix_renders_one_row_per_route() -> None:
    table = matrix_markdown().splitlines()
    assert len(table) == 2 + len(MATRIX)
    assert table[2 + sorted(MATRIX, key=lambda k: (k[1], k[0])).index(("GET", "/api/v1/audit"))] == (
        "| `GET /audit` | 401 | 403 | 200 | 403 | 403 | 403 | 403 | 403 | 403 | 403 | 403 | 403 |")
