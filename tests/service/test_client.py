"""The agency's client (cifranegra.service.client): retries never duplicate, errors are clear and never
carry the token. First against a scripted transport (exact requests and retries), then against a live
hub (uvicorn on a free port in a thread)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


# --- against a live hub (uvicorn on a free port, in a thread) ------------------------------------------


class LiveServer:
    """``app`` served by uvicorn on a free loopback port in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))

    def __enter__(self) -> LiveServer:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class Live:
    url: str
    app: Any
    study: str
    token_file: Path
    file: Path


@pytest.fixture
def live(hub_home: Any, tmp_path: Path, make_user: Any, make_study: Any) -> Any:
    from cifranegra.service.app import create_app
    from service.conftest import ADMIN_PASSWORD, ADMIN_USER

    app = create_app(hub_home)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        admin = http.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        made = make_study(http, admin)
        _, token = make_user(http, admin, "agency_submitter", agency="fiscalia", study=made.name)
        token_file = tmp_path / "agency.token"
        token_file.write_text(token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        path = write_encoded_file(tmp_path / "fiscalia.parquet", made.name, "fiscalia", 20)
        yield Live(server.url, app, made.name, token_file, path)


def _stored(app: Any) -> tuple[int, int]:
    from service.test_submissions import counts

    subs, _keys, files = counts(app)
    return subs, files


def test_live_submit_twice_is_one_submission(live: Live) -> None:
    dry = client.submit(live.file, hub=live.url, study=live.study, token_file=live.token_file, dry_run=True)
    assert dry["dry_run"] is True and dry["n_records"] == 20
    assert _stored(live.app) == (0, 0)
    first = client.submit(live.file, hub=live.url, study=live.study, token_file=live.token_file)
    assert first["n_records"] == 20 and first["sha256"] == hashlib.sha256(live.file.read_bytes()).hexdigest()
    again = client.submit(live.file, hub=live.url, study=live.study, token_file=live.token_file)
    assert again["id"] == first["id"]
    assert _stored(live.app) == (1, 1)


def test_live_lost_answer_is_retried_without_a_duplicate(live: Live) -> None:
    """The hub stores the file but the answer is lost on the way back; the retry gets the same submission."""

    class LoseFirstAnswer(httpx.HTTPTransport):
        lost = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if self.lost == 0:
                self.lost += 1
                response.read()
                response.close()
                raise httpx.ReadError("connection reset by peer", request=request)
            return response

    transport = LoseFirstAnswer()
    out = client.submit(live.file, hub=live.url, study=live.study, token_file=live.token_file,
                        transport=transport, sleep=lambda _s: None)
    assert transport.lost == 1
    assert _stored(live.app) == (1, 1)
    with live.app.state.sessions() as session:
        from cifranegra.service.db import Submission

        assert session.get(Submission, out["id"]) is not None


def test_live_refusals_are_clear_errors(live: Live, tmp_path: Path) -> None:
    csv = tmp_path / "lista.csv"
    csv.write_text("nombre,curp\nMARIA,LOPM800101MDFPRR09\n", encoding="utf-8")
    with pytest.raises(CifranegraError, match=r"nothing was sent: .*is not a readable Parquet file") as err:
        client.submit(csv, hub=live.url, study=live.study, token_file=live.token_file)
    assert "MARIA" not in str(err.value) and "LOPM8" not in str(err.value)
    bad_token = tmp_path / "bad.token"
    bad_token.write_text("not-a-valid-token\n", encoding="utf-8")
    with pytest.raises(CifranegraError, match="did not accept the token") as err:
        client.submit(live.file, hub=live.url, study=live.study, token_file=bad_token)
    assert "not-a-valid-token" not in str(err.value)
    with pytest.raises(CifranegraError, match="has no study 'no-such-study'"):
        client.submit(live.file, hub=live.url, study="no-such-study", token_file=live.token_file)
    assert _stored(live.app) == (0, 0)


def test_an_unreachable_hub_is_retried_then_reported(files: tuple[Path, Path]) -> None:
    import socket

    path, token = files
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    slept: list[float] = []
    with pytest.raises(CifranegraError, match=r"after 3 attempt\(s\); last: ConnectError"):
        client.submit(path, hub=f"http://127.0.0.1:{port}", study=STUDY, token_file=token, retries=2,
                      sleep=slept.append)
    assert len(slept) == 2


def test_the_hub_submit_command(live: Live, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from cifranegra.cli import main

    args = ["hub", "submit", str(live.file), "--hub", live.url, "--study", live.study,
            "--token-file", str(live.token_file)]
    assert main([*args, "--dry-run"]) == 0
    assert "would be accepted (20 records); nothing was kept" in capsys.readouterr().out
    assert _stored(live.app) == (0, 0)
    assert main(args) == 0
    out = capsys.readouterr().out
    with live.app.state.sessions() as session:
        from sqlalchemy import select

        from cifranegra.service.db import Submission

        (sub_id,) = session.scalars(select(Submission.id)).all()
    assert out.strip() == f"submitted: {live.file} → submission {sub_id} (20 records)"
    assert main(args) == 0  # again: the same submission
    assert sub_id in capsys.readouterr().out
    assert _stored(live.app) == (1, 1)
    csv = tmp_path / "lista.csv"
    csv.write_text("nombre\nMARIA\n", encoding="utf-8")
    assert main(["hub", "submit", str(csv), "--hub", live.url, "--study", live.study,
                 "--token-file", str(live.token_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cifranegra: error: nothing was sent:") and "written by `cifranegra encode`" in err
    assert "MARIA" not in err and live.token_file.read_text().strip() not in err


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_plain_list_is_refused_before_any_byte_is_sent(files: tuple[Path, Path], tmp_path: Path,
                                                         dry_run: bool) -> None:
    """`hub submit` sent whatever file it was given, and the hub refused it only after receiving it
    (a dry run too): a plain list of names and CURPs left the agency. It is now read here first."""
    _, token = files
    script = Script([(201, {"id": "a" * 32})])
    for name, content in (("lista.csv", b"nombre,curp\nMARIA,LOPM800101MDFPRR09\n"),
                          ("lista.parquet", b"PAR1 not really"), ("vacio.parquet", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CifranegraError, match="nothing was sent"):
            _submit(path, token, script, dry_run=dry_run)
    assert script.requests == []
