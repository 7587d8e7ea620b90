"""Bad input to the submission routes: each case is a 4xx in the one error shape, quotes nothing it was
sent, stores nothing (rows, keys and files counted) and crashes nothing (the hub still works after)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from cifranegra.service.db import Token
from service.encoded_factory import OTHER_SECRET, encoded_bytes
from service.test_submissions import PARQUET, counts

SQL = "x' OR '1'='1'; DROP TABLE submissions; --"
SCRIPT = "<script>alert(1)</script>"
PATHS = ("../../etc/passwd", "..%2F..%2Fhub.db", "/etc/shadow", "C:\\Windows\\win.ini", "storage/../master.key")


@pytest.fixture
def hub(hub_home_factory: Callable[..., Any], make_user: Callable[..., Any],
        make_study: Callable[..., Any]) -> Iterator[tuple[TestClient, FastAPI, str, str]]:
    """(client, app, study, submitter token) on a hub accepting at most 20,000 bytes per upload."""
    from cifranegra.service.app import create_app
    from service.conftest import ADMIN_PASSWORD, ADMIN_USER

    app = create_app(hub_home_factory(max_upload_bytes=20_000))
    with TestClient(app) as client:
        admin = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        made = make_study(client, admin)
        _, token = make_user(client, admin, "agency_submitter", agency="fiscalia", study=made.name)
        yield client, app, made.name, token


def assert_error(response: Any, status: int | tuple[int, ...], *, sent: tuple[str, ...] = ()) -> dict[str, Any]:
    """A 4xx in the one shape, quoting none of ``sent``."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, response.text
    body = response.json()
    error = body["error"]
    assert set(body) == {"error"}
    assert set(error) - {"problems"} == {"status", "code", "message"}
    assert error["status"] == response.status_code
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    for text in sent:
        assert text not in response.text
    return dict(error)


def _post(client: TestClient, study: str, token: str, data: Any, **headers: str) -> Any:
    base = {"Authorization": f"Bearer {token}", "Content-Type": PARQUET, "Idempotency-Key": "k-1"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return client.post(f"/api/v1/studies/{study}/submissions", content=data, headers=base)


def test_files_that_are_not_this_studys_encoded_lists(hub: tuple[TestClient, FastAPI, str, str]) -> None:
    client, app, study, token = hub
    good = encoded_bytes(study, "fiscalia", 20)
    damaged = bytearray(good)
    damaged[-8:-4] = (len(good) * 3).to_bytes(4, "little")
    cases: dict[str, tuple[bytes, str]] = {
        "truncated": (good[: len(good) // 2], "truncated"),
        "corrupt": (bytes(damaged), "damaged"),
        "csv": (b"nombre,primer_apellido,curp\nMARIA,LOPEZ,LOPM800101MDFPRR09\n", "not_encoded"),
        "xlsx": (b"PK\x03\x04" + bytes(500), "not_encoded"),
        "empty": (b"", "empty_file"),
        "other study": (encoded_bytes("otro-estudio", "fiscalia", 20), "other_study"),
    }
    for i, (name, (data, code)) in enumerate(cases.items()):
        error = assert_error(_post(client, study, token, data, Idempotency_Key=f"k-{i}"), 422,
                             sent=("MARIA", "LOPM800101MDFPRR09", "otro-estudio"))
        assert [p["code"] for p in error["problems"]] == [code], name
    assert counts(app) == (0, 0, 0)
    # another key is refused once a first file pinned the study's key
    assert _post(client, study, token, good, Idempotency_Key="first").status_code == 201
    error = assert_error(_post(client, study, token, encoded_bytes(study, "fiscalia", 20, secret=OTHER_SECRET),
                               Idempotency_Key="second"), 422)
    assert [p["code"] for p in error["problems"]] == ["other_key"]
    assert counts(app) == (1, 1, 1)


def test_a_2_gb_body_is_refused_while_reading(hub: tuple[TestClient, FastAPI, str, str]) -> None:
    import asyncio

    from cifranegra.service.http_errors import ApiError
    from cifranegra.service.routers.submissions import read_upload

    client, app, study, token = hub
    read: list[int] = []

    class TwoGigabytes:  # a request whose body is 2 GB, counting what the hub reads of it
        headers: ClassVar[dict[str, str]] = {"content-type": PARQUET}

        async def stream(self) -> Any:
            chunk = b"\x00" * (1 << 20)
            for _ in range(2048):
                read.append(len(chunk))
                yield chunk

    with pytest.raises(ApiError) as refused:
        asyncio.run(read_upload(cast(Any, TwoGigabytes()), 20_000))
    assert refused.value.status == 413
    assert len(read) == 1  # the first megabyte was already over the limit: nothing more was read

    def streamed() -> Iterator[bytes]:  # through the app, without a Content-Length
        for _ in range(10):
            yield b"\x00" * 10_000

    assert_error(_post(client, study, token, streamed()), 413)
    declared = client.post(f"/api/v1/studies/{study}/submissions", content=b"x" * 100,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": PARQUET,
                                    "Idempotency-Key": "k-2", "Content-Length": str(2 * (1 << 30))})
    assert declared.status_code in (400, 413)
    assert counts(app) == (0, 0, 0)


def test_wrong_content_types(hub: tuple[TestClient, FastAPI, str, str]) -> None:
    client, app, study, token = hub
    good = encoded_bytes(study, "fiscalia", 20)
    for ctype in ("text/csv", "application/json", "text/html", "application/x-www-form-urlencoded", "",
                  "multipart/form-data"):
        status = 400 if ctype == "multipart/form-data" else 415  # a form without a boundary is malformed
        assert_error(_post(client, study, token, good, Content_Type=ctype), status)
    assert_error(_post(client, study, token, b"--x\r\nbroken", Content_Type="multipart/form-data; boundary=x"), 400)
    assert counts(app) == (0, 0, 0)


def test_path_like_script_like_and_sql_like_values(hub: tuple[TestClient, FastAPI, str, str]) -> None:
    client, app, study, token = hub
    good = encoded_bytes(study, "fiscalia", 20)
    headers = {"Authorization": f"Bearer {token}"}
    for bad in (*PATHS, SCRIPT, SQL, "%00", "a" * 5000):
        # as the study
        assert_error(client.post(f"/api/v1/studies/{bad}/submissions", content=good,
                                 headers={**headers, "Content-Type": PARQUET, "Idempotency-Key": "k"}),
                     (400, 404, 405, 422), sent=(bad,) if len(bad) > 3 else ())
        assert_error(client.get(f"/api/v1/studies/{bad}/submissions", headers=headers), (400, 404, 405, 422),
                     sent=(bad,) if len(bad) > 3 else ())
        # as the submission id
        for method in ("GET", "DELETE"):
            assert_error(client.request(method, f"/api/v1/studies/{study}/submissions/{bad}", headers=headers),
                         (400, 404, 405, 422), sent=(bad,) if len(bad) > 3 else ())
        # as the idempotency key and the dry-run flag
        if bad.isascii() and "\x00" not in bad:
            assert_error(_post(client, study, token, good, Idempotency_Key=bad), 400, sent=(bad,))
        response = client.post(f"/api/v1/studies/{study}/submissions", params={"dry_run": bad}, content=good,
                               headers={**headers, "Content-Type": PARQUET, "Idempotency-Key": "k"})
        assert_error(response, 422, sent=(bad,) if len(bad) > 3 else ())
    # a path-like or script-like file name in a form is ignored: the file is stored under a random blob id
    response = client.post(f"/api/v1/studies/{study}/submissions",
                           files={"file": (f"../../{SCRIPT}.parquet", good, PARQUET)},
                           headers={**headers, "Idempotency-Key": "named"})
    assert response.status_code == 201
    assert SCRIPT not in response.text
    (blob,) = app.state.storage.blob_ids_on_disk()
    assert app.state.storage.path(blob).parent == app.state.storage.root
    assert counts(app) == (1, 1, 1)


def test_expired_and_forged_tokens(hub: tuple[TestClient, FastAPI, str, str]) -> None:
    client, app, study, token = hub
    good = encoded_bytes(study, "fiscalia", 20)
    for forged in ("forged", token[:-1] + ("A" if token[-1] != "A" else "B"), SQL, SCRIPT, "x" * 3000):
        assert_error(_post(client, study, forged, good), 401, sent=(forged,) if len(forged) > 6 else ())
    assert_error(client.post(f"/api/v1/studies/{study}/submissions", content=good,
                             headers={"Content-Type": PARQUET, "Idempotency-Key": "k"}), 401)
    assert_error(client.post(f"/api/v1/studies/{study}/submissions", content=good,
                             headers={"Authorization": f"Basic {token}", "Content-Type": PARQUET,
                                      "Idempotency-Key": "k"}), 401)
    with app.state.sessions() as session:
        session.execute(update(Token).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
        session.commit()
    assert_error(_post(client, study, token, good), 401, sent=(token,))
    assert_error(client.get(f"/api/v1/studies/{study}/submissions", headers={"Authorization": f"Bearer {token}"}),
                 401)
    assert counts(app) == (0, 0, 0)
    assert client.get("/api/v1/healthz").status_code == 200  # nothing crashed
