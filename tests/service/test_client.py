"""The agency's client (cifranegra.service.client): retries never duplicate, errors are clear and never
carry the token. First against a scripted transport (exact requests and retries), then against a live
hub (uvicorn on a free port in a thread)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from cifranegra.errors import CifranegraError, InputError
from cifranegra.service import client
from service.encoded_factory import write_encoded_file

TOKEN = "tok-" + "x" * 40
STUDY = "trata-2023"


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    data = tmp_path / "fiscalia.parquet"
    write_encoded_file(data, STUDY, "fiscalia", 10)
    return data, token


class Script:
    """A transport answering from a list: an int is a status (with a JSON body), an exception is raised."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, json=body)


def _submit(path: Path, token: Path, script: Script, **kw: Any) -> dict[str, Any]:
    sleeps: list[float] = []
    out = client.submit(path, hub="http://127.0.0.1:9", study=STUDY, token_file=token,
                        transport=httpx.MockTransport(script), sleep=sleeps.append, **kw)
    out["_sleeps"] = sleeps
    return out


def test_one_request_with_the_content_derived_key(files: tuple[Path, Path]) -> None:
    path, token = files
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    script = Script([(201, {"id": "a" * 32, "sha256": sha, "n_records": 10, "problems": []})])
    out = _submit(path, token, script)
    assert out["id"] == "a" * 32 and out["_sleeps"] == []
    (req,) = script.requests
    assert req.method == "POST"
    assert req.url.path == f"/api/v1/studies/{STUDY}/submissions"
    assert req.url.params.get("dry_run") is None
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["Content-Type"] == "application/vnd.apache.parquet"
    assert req.headers["Idempotency-Key"] == hashlib.sha256(data + b"\x00" + STUDY.encode()).hexdigest()
    assert req.content == data


def test_retries_reuse_the_same_key_after_connection_errors_and_5xx(files: tuple[Path, Path]) -> None:
    path, token = files
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    script = Script([
        httpx.ConnectError("refused"),
        (503, {"error": {"status": 503, "code": "unavailable", "message": "busy"}}),
        httpx.ReadTimeout("slow"),
        (200, {"id": "b" * 32, "sha256": sha, "n_records": 10, "problems": []}),
    ])
    out = _submit(path, token, script)
    assert out["id"] == "b" * 32
    assert len(script.requests) == 4
    assert len({r.headers["Idempotency-Key"] for r in script.requests}) == 1
    assert len(out["_sleeps"]) == 3
    assert out["_sleeps"][0] <= out["_sleeps"][2] * 2  # backoff grows (with jitter in [0.5, 1])
    assert all(0 < s <= client.MAX_BACKOFF_S for s in out["_sleeps"])


def test_giving_up_says_so_and_never_shows_the_token(files: tuple[Path, Path]) -> None:
    path, token = files
    script = Script([httpx.ConnectError("refused")] * 3)
    with pytest.raises(CifranegraError, match=r"after 3 attempt\(s\).*ConnectError.*again is safe") as err:
        _submit(path, token, script, retries=2)
    assert TOKEN not in str(err.value)
    assert len(script.requests) == 3


@pytest.mark.parametrize(
    ("status", "pattern"),
    [
        (401, "did not accept the token"),
        (403, r"refused .*HTTP 403.*only agencies"),
        (404, "has no study 'trata-2023'"),
        (413, "larger than the hub accepts"),
        (422, r"refused .*HTTP 422.*not encoded\n  - first problem"),
    ],
)
def test_4xx_is_not_retried_and_gives_the_hubs_message(files: tuple[Path, Path], status: int, pattern: str) -> None:
    path, token = files
    body = {"error": {"status": status, "code": "x", "message": "only agencies" if status == 403 else "not encoded",
                      "problems": [{"severity": "error", "code": "c", "message": "first problem"}]}}
    script = Script([(status, body)])
    with pytest.raises(CifranegraError, match=pattern) as err:
        _submit(path, token, script)
    assert TOKEN not in str(err.value)
    assert len(script.requests) == 1


def test_dry_run_asks_for_validation_only(files: tuple[Path, Path]) -> None:
    path, token = files
    script = Script([(200, {"dry_run": True, "ok": True, "n_records": 10, "problems": []})])
    out = _submit(path, token, script, dry_run=True)
    assert out["dry_run"] is True
    assert script.requests[0].url.params["dry_run"] == "true"


def test_a_changed_checksum_is_an_error(files: tuple[Path, Path]) -> None:
    path, token = files
    script = Script([(201, {"id": "c" * 32, "sha256": "0" * 64, "n_records": 10, "problems": []})])
    with pytest.raises(CifranegraError, match="another checksum"):
        _submit(path, token, script)


def test_bad_arguments_are_clear(files: tuple[Path, Path], tmp_path: Path) -> None:
    path, token = files
    with pytest.raises(InputError, match="plain http to another machine"):
        client.submit(path, hub="http://hub.example.org", study=STUDY, token_file=token)
    with pytest.raises(InputError, match="not a web address"):
        client.submit(path, hub="hub.example.org", study=STUDY, token_file=token)
    with pytest.raises(InputError, match=r"token file .* not found"):
        client.submit(path, hub="https://hub.example.org", study=STUDY, token_file=tmp_path / "nope")
    with pytest.raises(InputError, match="looks like a token itself") as err:
        client.submit(path, hub="https://hub.example.org", study=STUDY, token_file="A" * 43)
    assert "A" * 43 not in str(err.value)
    empty = tmp_path / "empty-token"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no token"):
        client.submit(path, hub="https://hub.example.org", study=STUDY, token_file=empty)
    with pytest.raises(InputError, match="not found; give the encoded file"):
        client.submit(tmp_path / "missing.parquet", hub="https://hub.example.org", study=STUDY, token_file=token)
    assert client._check_hub_url("http://localhost:8765/") == "http://localhost:8765"
    assert client._check_hub_url("http://[::1]:8765") == "http://[::1]:8765"
