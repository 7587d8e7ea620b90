"""Fixtures for the hub's tests.

- ``hub_home``: a fresh hub home in a temporary folder (SQLite, master key in the home), initialised
  with the admin ``admin`` / :data:`ADMIN_PASSWORD`; ``hub_home_factory(**init_home_kwargs)`` makes more
  (e.g. ``max_upload_bytes=1000``).
- ``app`` (``create_app(hub_home)``) and ``client`` (a FastAPI ``TestClient`` with the lifespan run).
- ``login(username, password) -> token``; ``admin_token``; ``bearer(token) -> headers``.
- ``make_user(client, admin_token, role, agency=None, study=None) -> (username, token)``: a new account
  (its agency is created when missing), logged in. Its password is :func:`password_of(username)`.
- ``make_study(client, admin_token, name=None, settings=None, coordinator_token=None) -> MadeStudy``:
  a study created by a new coordinator (or by the one whose token is given); ``MadeStudy(name,
  coordinator, coordinator_token)``.
- password hashes are cheap in the tests (argon2 with tiny costs; session-wide, automatic).
- ``postgres_server`` (session): a real PostgreSQL server started in a temporary folder (initdb +
  pg_ctl on a free port, unix socket in the folder; as the ``postgres`` or ``nobody`` user when the tests
  run as root); skipped with the reason when the server's programs are missing.
  ``fresh_postgres_url``: a new, empty database on it for one test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the hub's extra is not installed: pip install 'cifranegra[hub]'")

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cifranegra.service.app import create_app
from cifranegra.service.config import KEY_FILE_ENV, HubHome, init_home

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-0001"
_counter = itertools.count(1)


def password_of(username: str) -> str:
    """The password :func:`make_user` gives an account."""
    return f"pw-{username}-0001"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class MadeStudy:
    name: str
    coordinator: str
    coordinator_token: str


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Argon2 with tiny costs in the tests (accounts are made by the dozen; the real costs are
    argon2-cffi's defaults, checked in test_core). Subprocesses (``hub serve``) keep the real ones."""
    from argon2 import PasswordHasher

    from cifranegra.service import auth

    saved = auth._hasher, auth._DUMMY_HASH
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    auth._DUMMY_HASH = auth._hasher.hash("not a password of any account")
    try:
        yield
    finally:
        auth._hasher, auth._DUMMY_HASH = saved


@pytest.fixture
def hub_home_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., HubHome]:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    made = itertools.count(1)

    def factory(**kwargs: Any) -> HubHome:
        kwargs.setdefault("admin_user", ADMIN_USER)
        kwargs.setdefault("admin_password", ADMIN_PASSWORD)
        return init_home(tmp_path / f"hub{next(made)}", **kwargs)

    return factory


@pytest.fixture
def hub_home(hub_home_factory: Callable[..., HubHome]) -> HubHome:
    return hub_home_factory()


@pytest.fixture
def app(hub_home: HubHome) -> FastAPI:
    return create_app(hub_home)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(name="bearer")
def bearer_fixture() -> Callable[[str], dict[str, str]]:
    return bearer


@pytest.fixture
def login(client: TestClient) -> Callable[[str, str], str]:
    def do_login(username: str, password: str) -> str:
        response = client.post("/api/v1/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    return do_login


@pytest.fixture
def admin_token(login: Callable[[str, str], str]) -> str:
    return login(ADMIN_USER, ADMIN_PASSWORD)


def _make_user(
    client: TestClient, admin_token: str, role: str, agency: str | None = None, study: str | None = None,
    username: str | None = None,
) -> tuple[str, str]:
    username = username or f"{role.replace('_', '-')}-{next(_counter)}"
    if agency is not None:
        made = client.post("/api/v1/agencies", json={"name": agency}, headers=bearer(admin_token))
        assert made.status_code in (201, 409), made.text
    body: dict[str, Any] = {"username": username, "password": password_of(username), "role": role}
    if agency is not None:
        body["agency"] = agency
    if study is not None:
        body["study"] = study
    response = client.post("/api/v1/users", json=body, headers=bearer(admin_token))
    assert response.status_code == 201, response.text
    logged = client.post("/api/v1/login", json={"username": username, "password": password_of(username)})
    assert logged.status_code == 200, logged.text
    return username, str(logged.json()["token"])


@pytest.fixture
def make_user() -> Callable[..., tuple[str, str]]:
    return _make_user


def _make_study(
    client: TestClient,
    admin_token: str,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    coordinator_token: str | None = None,
) -> MadeStudy:
    coordinator = ""
    if coordinator_token is None:
        coordinator, coordinator_token = _make_user(client, admin_token, "coordinator")
    name = name or f"study-{next(_counter)}"
    body: dict[str, Any] = {"name": name}
    if settings is not None:
        body["settings"] = settings
    response = client.post("/api/v1/studies", json=body, headers=bearer(coordinator_token))
    assert response.status_code == 201, response.text
    return MadeStudy(name, coordinator, coordinator_token)


@pytest.fixture
def make_study() -> Callable[..., MadeStudy]:
    return _make_study


# --- a real PostgreSQL server ---------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    """The newest of Debian's /usr/lib/postgresql/VERSION/bin, else initdb and pg_ctl on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                      if p.parent.name.isdigit() else 0, reverse=True)
    for folder in versions:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user_prefix() -> tuple[list[str], str | None]:
    """The command prefix to run the server as a non-root user (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return [], None
    import pwd

    runuser = shutil.which("runuser")
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if runuser:
            return [runuser, "-u", name, "--"], name
    pytest.skip("the tests run as root and neither a 'postgres' nor a 'nobody' user (with runuser) is available "
                "to run PostgreSQL, which refuses to run as root")


@dataclass
class PostgresServer:
    host: str  # the unix-socket folder
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.host}&port={self.port}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed; on Debian: "
                    "apt-get install postgresql")
    prefix, as_user = _as_user_prefix()
    root = Path(tempfile.mkdtemp(prefix="cifranegra-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_user is not None:
        import pwd

        entry = pwd.getpwnam(as_user)
        os.chmod(root, 0o755)
        for path in (root, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    run = dict(capture_output=True, text=True, env=env, timeout=120, cwd=root)
    done = subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "hub", "-A", "trust",
                           "-E", "UTF8", "--no-sync"], **run)  # type: ignore[call-overload]
    if done.returncode != 0:
        pytest.skip(f"initdb failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    options = f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c max_connections=60"
    done = subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                           str(root / "server.log"), "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
    if done.returncode != 0:
        log = (root / "server.log").read_text(errors="replace")[-500:] if (root / "server.log").exists() else ""
        pytest.fail(f"pg_ctl start failed (exit {done.returncode}): {done.stderr.strip()[-300:]} {log}")
    try:
        yield PostgresServer(host=str(sock), port=port, user="hub")
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       **run)  # type: ignore[call-overload]
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    """A new empty database on the test server (its URL)."""
    import psycopg

    name = f"hub_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(host=postgres_server.host, port=postgres_server.port, user=postgres_server.user,
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.url(name)
