"""Submissions through the API: accepted once per idempotency key (also when retries race), encrypted
at rest, checked against the study, visible to the submitting agency and the study's coordinator only,
withdrawn by crypto-shredding."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cifranegra.service import auth
from cifranegra.service.db import Run, StoredKey, Study, Submission
from cifranegra.service.routers import submissions as routes
from service.conftest import ADMIN_PASSWORD, ADMIN_USER
from service.encoded_factory import OTHER_SECRET, encoded_bytes, records

PARQUET = "application/vnd.apache.parquet"


@dataclass
class Setup:
    study: str
    coordinator: str  # token
    fiscalia: str  # token of fiscalia's submitter
    dif: str  # token of dif's submitter


@pytest.fixture
def setup(client: TestClient, admin_token: str, make_user: Callable[..., Any], make_study: Callable[..., Any]) -> Setup:
    made = make_study(client, admin_token)
    _, fiscalia = make_user(client, admin_token, "agency_submitter", agency="fiscalia", study=made.name)
    _, dif = make_user(client, admin_token, "agency_submitter", agency="dif", study=made.name)
    return Setup(made.name, made.coordinator_token, fiscalia, dif)


def _post(client: TestClient, study: str, token: str, data: bytes, key: str | None = "k-1",
          params: dict[str, str] | None = None, content_type: str = PARQUET) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/studies/{study}/submissions", content=data, headers=headers, params=params or {})


def counts(app: FastAPI) -> tuple[int, int, int]:
    """(submission rows, key rows, blob files on disk)."""
    with app.state.sessions() as session:
        subs = session.scalar(select(func.count()).select_from(Submission))
        keys = session.scalar(select(func.count()).select_from(StoredKey))
    return int(subs or 0), int(keys or 0), len(app.state.storage.blob_ids_on_disk())


def _pinned(app: FastAPI, study: str) -> tuple[str | None, str | None]:
    with app.state.sessions() as session:
        row = session.scalars(select(Study).where(Study.name == study)).one()
        return row.spec_fingerprint, row.key_check


def test_accepted_once_encrypted_and_pinning_the_study(client: TestClient, app: FastAPI, setup: Setup) -> None:
    import hashlib

    data = encoded_bytes(setup.study, "fiscalia", 20)
    response = _post(client, setup.study, setup.fiscalia, data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "sha256", "n_records", "problems"}
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["n_records"] == 20 and body["problems"] == []
    assert counts(app) == (1, 1, 1)
    # the file on disk is ciphertext: neither the Parquet magic nor any encoded value appears in it
    (blob_id,) = app.state.storage.blob_ids_on_disk()
    on_disk = app.state.storage.path(blob_id).read_bytes()
    assert b"PAR1" not in on_disk and b"fiscalia" not in on_disk and data[100:132] not in on_disk
    with app.state.sessions() as session:
        sub = session.get(Submission, body["id"])
        assert sub is not None
        assert (sub.state, sub.source, sub.size, sub.blob_id) == ("accepted", "fiscalia", len(data), blob_id)
        assert app.state.storage.get(session, blob_id) == data
    from service.encoded_factory import encoded_list

    enc = encoded_list(setup.study, "fiscalia", 20)
    assert _pinned(app, setup.study) == (enc.spec.fingerprint(), enc.key_check)

    again = _post(client, setup.study, setup.fiscalia, data)
    assert again.status_code == 200
    assert again.json() == body
    assert counts(app) == (1, 1, 1)


def test_the_same_key_for_another_file_is_a_conflict(client: TestClient, app: FastAPI, setup: Setup) -> None:
    assert _post(client, setup.study, setup.fiscalia, encoded_bytes(setup.study, "fiscalia", 20)).status_code == 201
    other = _post(client, setup.study, setup.fiscalia, encoded_bytes(setup.study, "fiscalia", 21))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert counts(app) == (1, 1, 1)
    # the key is per agency: another agency may use the same key value for its own file
    assert _post(client, setup.study, setup.dif, encoded_bytes(setup.study, "dif", 20)).status_code == 201
    assert counts(app) == (2, 2, 2)


def _principal(app: FastAPI, token: str) -> auth.Principal:
    with app.state.sessions() as session:
        principal = auth.principal_for_token(session, token)
    assert principal is not None
    return principal


def race(app: FastAPI, principal: auth.Principal, study: str, data: bytes, n: int) -> list[Any]:
    """``n`` threads submitting the same file with the same key at once (the service function itself)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = routes.submit(app.state.sessions, app.state.storage, principal, study, data,
                                       idempotency_key="same-key")
        except Exception as exc:  # collected and asserted below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_retries_store_one_submission(client: TestClient, app: FastAPI, setup: Setup) -> None:
    data = encoded_bytes(setup.study, "fiscalia", 20)
    results = race(app, _principal(app, setup.fiscalia), setup.study, data, 6)
    assert all(isinstance(r, routes.Submitted) for r in results), results
    assert sorted(r.status for r in results) == [200] * 5 + [201]
    assert len({r.body["id"] for r in results}) == 1
    assert counts(app) == (1, 1, 1)  # the losers' blob files are gone too


def test_two_first_files_with_different_keys_racing_pin_one_key(client: TestClient, app: FastAPI,
                                                                 setup: Setup) -> None:
    """Both are checked before anything is pinned; the conditional pin lets one in, the other is refused."""
    work = [(_principal(app, setup.fiscalia), encoded_bytes(setup.study, "fiscalia", 20)),
            (_principal(app, setup.dif), encoded_bytes(setup.study, "dif", 20, secret=OTHER_SECRET))]
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def one(i: int) -> None:
        principal, data = work[i]
        barrier.wait()
        try:
            results[i] = routes.submit(app.state.sessions, app.state.storage, principal, setup.study, data,
                                       idempotency_key=f"first-{i}")
        except Exception as exc:  # collected and asserted below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [r for r in results if isinstance(r, routes.Submitted)]
    refused = [r for r in results if isinstance(r, routes.Refused)]
    assert len(accepted) == 1 and len(refused) == 1, results
    assert accepted[0].status == 201
    assert [p["code"] for p in refused[0].report.problems] == ["other_key"]
    assert counts(app) == (1, 1, 1)


def test_dry_run_checks_and_keeps_nothing(client: TestClient, app: FastAPI, setup: Setup) -> None:
    data = encoded_bytes(setup.study, "fiscalia", 20)
    ok = _post(client, setup.study, setup.fiscalia, data, key=None, params={"dry_run": "true"})
    assert ok.status_code == 200
    assert ok.json() == {"dry_run": True, "ok": True, "sha256": ok.json()["sha256"], "n_records": 20,
                         "problems": []}
    bad = _post(client, setup.study, setup.fiscalia, b"nombre,curp\nANA,X\n", key=None, params={"dry_run": "true"})
    assert bad.status_code == 422
    assert [p["code"] for p in bad.json()["error"]["problems"]] == ["not_encoded"]
    assert counts(app) == (0, 0, 0)
    assert _pinned(app, setup.study) == (None, None)


def test_multipart_upload(client: TestClient, app: FastAPI, setup: Setup) -> None:
    data = encoded_bytes(setup.study, "fiscalia", 20)
    response = client.post(
        f"/api/v1/studies/{setup.study}/submissions",
        files={"note": ("n.txt", b"ignored", "text/plain"), "file": ("fiscalia.parquet", data, PARQUET)},
        headers={"Authorization": f"Bearer {setup.fiscalia}", "Idempotency-Key": "web-1"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["n_records"] == 20
    no_file = client.post(
        f"/api/v1/studies/{setup.study}/submissions", files={"other": ("x", data, PARQUET)},
        headers={"Authorization": f"Bearer {setup.fiscalia}", "Idempotency-Key": "web-2"},
    )
    assert no_file.status_code == 400
    assert no_file.json()["error"]["code"] == "bad_multipart"
    assert counts(app) == (1, 1, 1)


def test_what_the_checks_refuse_is_422_and_stores_nothing(client: TestClient, app: FastAPI, setup: Setup) -> None:
    first = _post(client, setup.study, setup.fiscalia, encoded_bytes(setup.study, "fiscalia", 20))
    assert first.status_code == 201
    cases = {
        "wrong_source": encoded_bytes(setup.study, "fiscalia", 20, seed=3),  # sent by dif below
        "other_key": encoded_bytes(setup.study, "dif", 20, secret=OTHER_SECRET),
        "other_study": encoded_bytes("otro-estudio", "dif", 20),
    }
    for i, (code, data) in enumerate(cases.items()):
        response = _post(client, setup.study, setup.dif, data, key=f"k-{i}")
        assert response.status_code == 422, code
        error = response.json()["error"]
        assert error["code"] == "submission_refused"
        assert code in [p["code"] for p in error["problems"]]
    assert counts(app) == (1, 1, 1)


def test_strata_listed_by_the_study_are_enforced(client: TestClient, app: FastAPI, admin_token: str,
                                                 make_user: Callable[..., Any],
                                                 make_study: Callable[..., Any]) -> None:
    made = make_study(client, admin_token, settings={"strata": {"sex": ["female"]}})
    _, token = make_user(client, admin_token, "agency_submitter", agency="refugio", study=made.name)
    n_male = int((records("refugio", 20)["sex"] == "male").sum())
    response = _post(client, made.name, token, encoded_bytes(made.name, "refugio", 20))
    assert response.status_code == 422
    (problem,) = response.json()["error"]["problems"]
    assert problem["code"] == "unknown_stratum_value"
    assert problem["message"].startswith(f"column 'sex': {n_male} record(s)")
    assert counts(app) == (0, 0, 0)


def test_missing_key_wrong_type_and_size_limit(client: TestClient, app: FastAPI, setup: Setup,
                                               hub_home_factory: Callable[..., Any],
                                               admin_token: str) -> None:
    data = encoded_bytes(setup.study, "fiscalia", 20)
    assert _post(client, setup.study, setup.fiscalia, data, key=None).status_code == 400
    assert _post(client, setup.study, setup.fiscalia, data, key="a b").json()["error"]["code"] == \
        "idempotency_key_invalid"
    wrong = _post(client, setup.study, setup.fiscalia, data, content_type="text/csv")
    assert wrong.status_code == 415
    assert counts(app) == (0, 0, 0)


def test_a_body_over_the_limit_is_413(hub_home_factory: Callable[..., Any], make_user: Callable[..., Any],
                                      make_study: Callable[..., Any]) -> None:
    from cifranegra.service.app import create_app

    home = hub_home_factory(max_upload_bytes=5000)
    app = create_app(home)
    with TestClient(app) as client:
        admin = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        made = make_study(client, admin)
        _, token = make_user(client, admin, "agency_submitter", agency="fiscalia", study=made.name)
        data = encoded_bytes(made.name, "fiscalia", 20)
        assert len(data) > 5000
        response = _post(client, made.name, token, data)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"

        def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
            yield data[:4000]
            yield data[4000:]

        streamed = client.post(f"/api/v1/studies/{made.name}/submissions", content=chunks(),
                               headers={"Authorization": f"Bearer {token}", "Content-Type": PARQUET,
                                        "Idempotency-Key": "k-2"})
        assert streamed.status_code == 413
        assert counts(app) == (0, 0, 0)


def test_who_sees_what(client: TestClient, app: FastAPI, setup: Setup, admin_token: str,
                       make_user: Callable[..., Any], make_study: Callable[..., Any]) -> None:
    f_id = _post(client, setup.study, setup.fiscalia, encoded_bytes(setup.study, "fiscalia", 20)).json()["id"]
    d_id = _post(client, setup.study, setup.dif, encoded_bytes(setup.study, "dif", 20)).json()["id"]
    base = f"/api/v1/studies/{setup.study}/submissions"

    def get(path: str, token: str) -> Any:
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    own = get(base, setup.fiscalia)
    assert own.status_code == 200
    assert [(s["id"], s["agency"]) for s in own.json()["submissions"]] == [(f_id, "fiscalia")]
    everything = get(base, setup.coordinator).json()["submissions"]
    assert sorted(s["id"] for s in everything) == sorted([f_id, d_id])
    assert set(everything[0]) == {"id", "agency", "source", "sha256", "size", "n_records", "problems", "state",
                                  "created_at", "withdrawn_at"}
    assert get(f"{base}/{f_id}", setup.fiscalia).json()["id"] == f_id
    assert get(f"{base}/{d_id}", setup.fiscalia).status_code == 404  # another agency's: not revealed
    assert get(f"{base}/{'0' * 32}", setup.fiscalia).status_code == 404
    assert get(f"{base}/{d_id}", setup.coordinator).status_code == 200

    other = make_study(client, admin_token)  # another coordinator, another study
    assert get(base, other.coordinator_token).status_code == 404
    _, stranger = make_user(client, admin_token, "agency_submitter", agency="ong", study=other.name)
    assert get(base, stranger).status_code == 404
    assert _post(client, setup.study, stranger, encoded_bytes(setup.study, "ong", 20)).status_code == 404
    assert get("/api/v1/studies/no-such-study/submissions", setup.fiscalia).status_code == 404
    for role in ("analyst", "approver"):
        _, token = make_user(client, admin_token, role, study=setup.study)
        assert get(base, token).status_code == 403
        assert _post(client, setup.study, token, b"x").status_code == 403
    for role in ("hub_admin", "auditor"):
        _, token = make_user(client, admin_token, role)
        assert get(base, token).status_code == 403
    assert _post(client, setup.study, setup.coordinator, b"x").status_code == 403
    assert get(base, "forged-token").status_code == 401
    assert client.get(base).status_code == 401


def test_withdraw_shreds_and_is_refused_twice_or_during_a_run(client: TestClient, app: FastAPI,
                                                               setup: Setup) -> None:
    base = f"/api/v1/studies/{setup.study}/submissions"
    headers = {"Authorization": f"Bearer {setup.fiscalia}"}
    f_id = _post(client, setup.study, setup.fiscalia, encoded_bytes(setup.study, "fiscalia", 20)).json()["id"]
    d_id = _post(client, setup.study, setup.dif, encoded_bytes(setup.study, "dif", 20)).json()["id"]
    assert client.delete(f"{base}/{d_id}", headers=headers).status_code == 404
    assert client.delete(f"{base}/{f_id}", headers={"Authorization": f"Bearer {setup.coordinator}"}).status_code \
        == 403
    with app.state.sessions() as session:  # a queued run includes f_id
        study = session.scalars(select(Study).where(Study.name == setup.study)).one()
        run = Run(study_id=study.id, created_by=study.created_by, submission_ids=[f_id, d_id])
        session.add(run)
        session.commit()
        run_id = run.id
        blob_id = session.get(Submission, f_id).blob_id
    busy = client.delete(f"{base}/{f_id}", headers=headers)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "in_use"
    assert counts(app) == (2, 2, 2)
    with app.state.sessions() as session:
        session.get(Run, run_id).state = "succeeded"
        session.commit()
    gone = client.delete(f"{base}/{f_id}", headers=headers)
    assert gone.status_code == 200
    assert gone.json()["state"] == "withdrawn" and gone.json()["withdrawn_at"] is not None
    assert counts(app) == (2, 1, 1)
    assert blob_id not in app.state.storage.blob_ids_on_disk()
    with app.state.sessions() as session:
        sub = session.get(Submission, f_id)
        assert sub is not None and (sub.state, sub.blob_id) == ("withdrawn", None)
        assert session.get(StoredKey, blob_id) is None
    twice = client.delete(f"{base}/{f_id}", headers=headers)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_withdrawn"
    listed = client.get(base, headers=headers).json()["submissions"]
    assert [(s["id"], s["state"]) for s in listed] == [(f_id, "withdrawn")]
    # withdrawal freed the key: the same file with the same key is a new submission
    again = _post(client, setup.study, setup.fiscalia, encoded_bytes(setup.study, "fiscalia", 20))
    assert again.status_code == 201 and again.json()["id"] != f_id
    assert counts(app) == (3, 2, 2)


def test_concurrent_retries_on_postgresql(hub_home_factory: Callable[..., Any], fresh_postgres_url: str,
                                          make_user: Callable[..., Any], make_study: Callable[..., Any]) -> None:
    """The unique-constraint race on a real PostgreSQL server."""
    from cifranegra.service.app import create_app

    app = create_app(hub_home_factory(db_url=fresh_postgres_url))
    with TestClient(app) as client:
        admin = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        made = make_study(client, admin)
        _, token = make_user(client, admin, "agency_submitter", agency="fiscalia", study=made.name)
        data = encoded_bytes(made.name, "fiscalia", 20)
        results = race(app, _principal(app, token), made.name, data, 6)
        assert all(isinstance(r, routes.Submitted) for r in results), results
        assert sorted(r.status for r in results) == [200] * 5 + [201]
        assert len({r.body["id"] for r in results}) == 1
        assert counts(app) == (1, 1, 1)


def test_the_upload_is_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    post = spec["paths"]["/api/v1/studies/{study}/submissions"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/vnd.apache.parquet", "application/octet-stream",
                                                   "multipart/form-data"}
    assert [p["name"] for p in post["parameters"]] == ["study", "dry_run", "Idempotency-Key"]
    assert set(post["responses"]) >= {"200", "201", "400", "409", "413", "415", "422"}
    paths = spec["paths"]
    assert set(paths["/api/v1/studies/{study}/submissions/{submission_id}"]) == {"get", "delete"}
