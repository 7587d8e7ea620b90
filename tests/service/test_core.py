"""The hub's core: home and CLI (init, serve), migrations on SQLite and on a real PostgreSQL, tokens,
the one error shape, the audit chain and its middleware, the app factory's router loading."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, inspect, select, update

from cifranegra.cli import main as cli_main
from cifranegra.errors import InputError
from cifranegra.service import audit, migrate
from cifranegra.service.app import create_app, optional_module
from cifranegra.service.config import KEY_FILE_ENV, HubHome, init_home, load_home
from cifranegra.service.db import AuditEntry, Base, Token, User, make_engine, session_factory, transaction
from service.conftest import ADMIN_PASSWORD, ADMIN_USER, bearer

# --- the home and `hub init` -----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_hub_init_makes_a_private_home_and_an_admin_who_can_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    password_file = tmp_path / "pw"
    password_file.write_text("a-long-admin-password\n")
    code = cli_main(["hub", "init", str(tmp_path / "hub"), "--admin-user", "root-admin",
                     "--admin-password-file", str(password_file)])
    assert code == 0
    assert "a-long-admin-password" not in capsys.readouterr().out
    home = load_home(tmp_path / "hub")
    assert home.db_url == f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    assert (_mode(home.path), _mode(home.storage_dir), _mode(home.master_key_path)) == (0o700, 0o700, 0o600)
    assert _mode(home.path / "hub.toml") == 0o600 and _mode(home.path / "hub.db") == 0o600
    assert len(bytes.fromhex(home.master_key_path.read_text().strip())) == 32
    assert home.max_upload_bytes == 256 * 1024 * 1024 and home.token_ttl == dt.timedelta(hours=12)
    with TestClient(create_app(home)) as client:
        response = client.post("/api/v1/login", json={"username": "root-admin", "password": "a-long-admin-password"})
        assert response.status_code == 200
        assert response.json()["role"] == "hub_admin"


def test_hub_init_refuses_an_existing_home_and_bad_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    good, empty, short = tmp_path / "good", tmp_path / "empty", tmp_path / "short"
    good.write_text("a-long-admin-password\n")
    empty.write_text("\n")
    short.write_text("short\n")
    args = ["hub", "init", str(tmp_path / "hub"), "--admin-user", "admin", "--admin-password-file"]
    assert cli_main([*args, str(empty)]) == 2
    assert "the password file's first line is empty" in capsys.readouterr().err
    assert cli_main([*args, str(short)]) == 2
    assert "a password has 10 to 1024 characters" in capsys.readouterr().err
    assert cli_main([*args, str(good)]) == 0
    capsys.readouterr()
    assert cli_main([*args, str(good)]) == 2
    assert "is a hub home already" in capsys.readouterr().err
    assert cli_main(["hub", "init", str(tmp_path / "h2"), "--admin-user", "bad name!", "--admin-password-file",
                     str(good)]) == 2
    assert "a username has 1 to 100 characters" in capsys.readouterr().err


def test_hub_init_takes_the_first_line_and_a_folder_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub init --help`: the password is the file's first line, and DIR is empty or new. The whole
    file was taken (a second line locked the administrator out), and a folder holding other files
    was made private (0700) and filled beside them."""
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    two = tmp_path / "pw"
    two.write_text("a-long-admin-password\nnotes about it\n")
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    (crowded / "informe.docx").write_text("x")
    assert cli_main(["hub", "init", str(crowded), "--admin-user", "admin", "--admin-password-file", str(two)]) == 2
    assert "holds 1 other file(s) or folder(s)" in capsys.readouterr().err
    assert sorted(p.name for p in crowded.iterdir()) == ["informe.docx"]
    assert cli_main(["hub", "init", str(tmp_path / "hub"), "--admin-user", "admin", "--admin-password-file",
                     str(two)]) == 0
    with TestClient(create_app(load_home(tmp_path / "hub"))) as client:
        assert client.post("/api/v1/login", json={"username": "admin",
                                                  "password": "a-long-admin-password"}).status_code == 200


def test_hub_init_refuses_unusable_databases_and_key_files_without_echoing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    good = tmp_path / "pw"
    good.write_text("a-long-admin-password\n")
    args = ["hub", "init", "--admin-user", "admin", "--admin-password-file", str(good)]
    assert cli_main([*args[:2], str(tmp_path / "h1"), *args[2:], "--db", "mysql://root@db/hub"]) == 2
    err = capsys.readouterr().err
    assert "must start with sqlite:/// (a file) or postgresql://" in err
    # a password on the command line is refused before anything is made, and not echoed
    for url in ("mysql://root:s3cret@db/hub", f"postgresql://hub:s3cret@/nodb?host={tmp_path}"):
        assert cli_main([*args[:2], str(tmp_path / "h0"), *args[2:], "--db", url]) == 2
        err = capsys.readouterr().err
        assert "--db holds a password; never put one on the command line" in err and "s3cret" not in err
        assert not (tmp_path / "h0").exists()
        assert cli_main(["hub", "serve", str(tmp_path / "h0"), "--db", url]) == 2
        assert "--db holds a password" in capsys.readouterr().err
    url = f"postgresql://hub@/nodb?host={tmp_path / 'no-socket-here'}"
    assert cli_main([*args[:2], str(tmp_path / "h2"), *args[2:], "--db", url]) == 2
    err = capsys.readouterr().err
    assert "could not open or migrate the hub's database (OperationalError)" in err
    loose = tmp_path / "loose.key"
    loose.write_text("ab" * 32 + "\n")
    loose.chmod(0o644)
    monkeypatch.setenv(KEY_FILE_ENV, str(loose))
    assert cli_main([*args[:2], str(tmp_path / "h3"), *args[2:]]) == 2
    assert str(loose) in capsys.readouterr().err
    assert not (tmp_path / "h3" / "hub.toml").exists()


def test_the_key_file_from_the_environment_is_used_and_kept_out_of_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "keys" / "hub.key"
    monkeypatch.setenv(KEY_FILE_ENV, str(key))
    home = init_home(tmp_path / "hub", admin_user="admin", admin_password=ADMIN_PASSWORD)
    assert home.master_key_path == key and _mode(key) == 0o600
    assert not (home.path / "master.key").exists()
    monkeypatch.delenv(KEY_FILE_ENV)
    assert load_home(home.path).master_key_path == key  # remembered in hub.toml


def test_load_home_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is not a hub home .*cifranegra hub init"):
        load_home(tmp_path)
    (tmp_path / "hub.toml").write_text("max_upload_bytes = [\n")
    with pytest.raises(InputError, match="is not valid TOML"):
        load_home(tmp_path)
    (tmp_path / "hub.toml").write_text("max_upload_bytes = -3\n")
    with pytest.raises(InputError, match="max_upload_bytes must be a positive whole number"):
        load_home(tmp_path)


# --- `hub serve` ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def _gone(pid: int, tries: int = 200) -> bool:
    for _ in range(tries):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def _start_serving(home: HubHome, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cifranegra", "hub", "serve", str(home.path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    status, body = 0, {}
    for _ in range(600):
        if proc.poll() is not None:
            break
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=2)
            status, body = response.status_code, response.json()
            break
        except httpx.TransportError:
            time.sleep(0.1)
    if (status, body) != (200, {"status": "ok"}):
        proc.kill()
        output = proc.stdout.read() if proc.stdout is not None else b""
        pytest.fail(f"hub serve did not answer: {output[-2000:]!r}")
    return proc


def test_hub_serve_migrates_answers_and_stops_with_its_job_runner(hub_home: HubHome) -> None:
    port = _free_port()
    proc = _start_serving(hub_home, port)
    try:
        login = httpx.post(f"http://127.0.0.1:{port}/api/v1/login",
                           json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}, timeout=30)
        assert login.status_code == 200
        runners = _children(proc.pid)
        assert len(runners) >= 1  # the job runner (plus, on some Pythons, multiprocessing's tracker)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert [_cmdline(pid) for pid in runners if not _gone(pid)] == []


@pytest.mark.slow
def test_a_killed_server_takes_its_job_runner_with_it(hub_home: HubHome) -> None:
    proc = _start_serving(hub_home, _free_port())
    runners = _children(proc.pid)
    proc.kill()  # kill -9: no clean-up code runs in the server
    proc.wait()
    assert runners
    assert [_cmdline(pid) for pid in runners if not _gone(pid)] == []


def test_serve_migrates_before_any_worker_starts(hub_home: HubHome, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from cifranegra.service import app as app_module

    (hub_home.path / "hub.db").unlink()  # a database that was never migrated
    seen: dict[str, Any] = {}

    def fake_run(target: str, **kwargs: Any) -> None:
        seen.update(kwargs, target=target, revision=migrate.current_revision(hub_home.db_url),
                    home=os.environ[app_module.HOME_ENV])

    real = app_module.optional_module
    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(app_module, "optional_module",
                        lambda name: None if name == "cifranegra.service.jobs" else real(name))
    monkeypatch.delenv(app_module.HOME_ENV, raising=False)
    monkeypatch.delenv(app_module.DB_ENV, raising=False)
    app_module.serve(hub_home, host="127.0.0.1", port=8799, workers=2)
    assert seen == {"target": "cifranegra.service.app:app_from_environment", "factory": True, "host": "127.0.0.1",
                    "port": 8799, "workers": 2, "log_level": "info", "proxy_headers": True, "server_header": False,
                    "revision": "0002", "home": str(hub_home.path)}


def test_hub_serve_refuses_bad_options(hub_home: HubHome, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["hub", "serve", str(hub_home.path), "--port", "0"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err
    assert cli_main(["hub", "serve", str(hub_home.path), "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err
    assert cli_main(["hub", "serve", str(tmp_path / "nothing")]) == 2
    assert "is not a hub home" in capsys.readouterr().err


# --- migrations -------------------------------------------------------------------------------------------


def _assert_schema_matches_models(db_url: str) -> None:
    """The migrated schema is exactly db.py's (Alembic's comparison finds nothing to change)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diffs == []
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def _migrate_twice_and_check(db_url: str) -> None:
    assert migrate.current_revision(db_url) is None
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)  # a second run changes nothing
    assert migrate.current_revision(db_url) == migrate.head_revision() == "0002"
    _assert_schema_matches_models(db_url)
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            assert audit.verify(session) == {"ok": True, "entries": 0, "first_bad_id": None}
    finally:
        engine.dispose()


def test_migrations_on_sqlite_build_every_table_of_the_models(tmp_path: Path) -> None:
    _migrate_twice_and_check(f"sqlite:///{tmp_path / 'm.db'}")


def _upgrade_keeps_a_release(db_url: str) -> None:
    """A hub at revision 0001 with an approved release upgrades to 0002 (release withdrawal) keeping the
    release as it was, its withdrawal columns empty; the schema is then the models'."""
    from sqlalchemy import text

    migrate.upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO agencies (id, name, created_at) VALUES (1, 'a', CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO users (id, username, password_hash, role, active, created_at) "
                              "VALUES (1, 'u', 'x', 'coordinator', true, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO studies (id, name, created_by, created_at, settings) "
                              "VALUES (1, 's', 1, CURRENT_TIMESTAMP, '{}')"))
            conn.execute(text("INSERT INTO runs (id, study_id, created_by, created_at, state, progress, step, message, "
                              "submission_ids, settings, attempts) VALUES ('r1', 1, 1, CURRENT_TIMESTAMP, "
                              "'succeeded', 1.0, '', '', '[]', '{}', 1)"))
            conn.execute(text("INSERT INTO releases (id, study_id, run_id, title, drafted_by, created_at, state, "
                              "approved_by, approved_at, content_blob_id) VALUES ('rel1', 1, 'r1', 'T', 1, "
                              "CURRENT_TIMESTAMP, 'approved', 1, CURRENT_TIMESTAMP, 'blob1')"))
        migrate.upgrade(db_url)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT state, title, content_blob_id, withdrawn_by, withdrawn_at, "
                                    "withdrawal_reason FROM releases")).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("approved", "T", "blob1", None, None, None)
    assert migrate.current_revision(db_url) == "0002"
    _assert_schema_matches_models(db_url)


def test_a_hub_at_the_first_revision_upgrades_keeping_its_releases(tmp_path: Path) -> None:
    _upgrade_keeps_a_release(f"sqlite:///{tmp_path / 'm.db'}")


def test_nothing_is_migrated_at_import(tmp_path: Path) -> None:
    script = ("import cifranegra.service.app, cifranegra.service.migrate, cifranegra.service.routers.users\n"
              "import sys; print(sorted(m for m in sys.modules if m.startswith('alembic.command')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1000:]
    assert list(tmp_path.iterdir()) == []


def test_importing_the_service_package_stays_light() -> None:
    script = ("import sys, cifranegra.service\n"
              "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'starlette', 'alembic') if m in sys.modules))\n"
              "from cifranegra.service import create_app\nprint(create_app.__module__)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.split() == ["[]", "cifranegra.service.app"]


def test_migrations_on_postgresql(fresh_postgres_url: str) -> None:
    _migrate_twice_and_check(fresh_postgres_url)


def test_a_hub_at_the_first_revision_upgrades_keeping_its_releases_on_postgresql(fresh_postgres_url: str) -> None:
    _upgrade_keeps_a_release(fresh_postgres_url)


def test_the_hub_runs_on_postgresql(
    fresh_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    password_file = tmp_path / "pw"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    assert cli_main(["hub", "init", str(tmp_path / "hub"), "--admin-user", ADMIN_USER, "--admin-password-file",
                     str(password_file), "--db", fresh_postgres_url]) == 0
    home = load_home(tmp_path / "hub")
    assert home.db_url == fresh_postgres_url and not (home.path / "hub.db").exists()
    with TestClient(create_app(home)) as client:
        token = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        assert client.post("/api/v1/agencies", json={"name": "DIF"}, headers=bearer(token)).status_code == 201
        assert client.post("/api/v1/agencies", json={"name": "DIF"}, headers=bearer(token)).status_code == 409
        assert client.get("/api/v1/users", headers=bearer(token)).json()["users"][0]["username"] == ADMIN_USER
    _concurrent_appends_keep_one_chain(home.db_url)


# --- tokens -----------------------------------------------------------------------------------------------


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The one error shape, with ``status``; returns the inner object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) >= {"status", "code", "message"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    return dict(body["error"])


def test_missing_forged_expired_revoked_and_deactivated_tokens_get_401(
    client: TestClient, app: FastAPI, admin_token: str, make_user: Callable[..., tuple[str, str]]
) -> None:
    users = "/api/v1/users"
    assert client.get(users, headers=bearer(admin_token)).status_code == 200
    err = _error(client.get(users), 401)
    assert "Authorization: Bearer" in err["message"]
    assert client.get(users).headers["www-authenticate"] == "Bearer"
    _error(client.get(users, headers=bearer("forged-" + "x" * 40)), 401)
    _error(client.get(users, headers={"Authorization": "Basic YWRtaW46eA=="}), 401)
    _error(client.get(users, headers={"Authorization": "Bearer " + "y" * 5000}), 401)
    # the web session cookie is not accepted by the API
    client.cookies.set("hub_session", admin_token)
    _error(client.get(users), 401)
    client.cookies.clear()

    name, token = make_user(client, admin_token, "auditor")
    assert client.get("/api/v1/audit", headers=bearer(token)).status_code == 200
    with transaction(app.state.sessions) as session:
        session.execute(update(Token).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
                        .where(Token.user_id == select(User.id).where(User.username == name).scalar_subquery()))
    assert "expired" in _error(client.get("/api/v1/audit", headers=bearer(token)), 401)["message"]

    _, token2 = make_user(client, admin_token, "auditor")
    assert client.post("/api/v1/logout", headers=bearer(token2)).json() == {"revoked": True}
    _error(client.get("/api/v1/audit", headers=bearer(token2)), 401)

    with app.state.sessions() as session:  # logging in again drops the account's long-expired tokens
        assert session.scalar(select(func.count()).select_from(Token).where(
            Token.user_id == select(User.id).where(User.username == name).scalar_subquery())) == 1
    with transaction(app.state.sessions) as session:
        session.execute(update(Token).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2))
                        .where(Token.user_id == select(User.id).where(User.username == name).scalar_subquery()))
    client.post("/api/v1/login", json={"username": name, "password": f"pw-{name}-0001"})
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Token).where(
            Token.user_id == select(User.id).where(User.username == name).scalar_subquery())) == 1

    name3, token3 = make_user(client, admin_token, "auditor")
    assert client.post(f"/api/v1/users/{name3}/deactivate", headers=bearer(admin_token)).status_code == 200
    _error(client.get("/api/v1/audit", headers=bearer(token3)), 401)
    _error(client.post("/api/v1/login", json={"username": name3, "password": f"pw-{name3}-0001"}), 401)


def test_too_many_failed_logins_lock_the_account_for_a_while(
    client: TestClient, app: FastAPI, admin_token: str, make_user: Callable[..., tuple[str, str]]
) -> None:
    from cifranegra.service.routers.auth import MAX_FAILED_LOGINS

    name, _ = make_user(client, admin_token, "auditor")
    other, _ = make_user(client, admin_token, "auditor")
    for _ in range(MAX_FAILED_LOGINS):
        _error(client.post("/api/v1/login", json={"username": name, "password": "wrong-password-1"}), 401)
    err = _error(client.post("/api/v1/login", json={"username": name, "password": f"pw-{name}-0001"}), 429)
    assert err["code"] == "too_many_attempts" and "wait 15 minutes" in err["message"]
    assert client.post("/api/v1/login", json={"username": other, "password": f"pw-{other}-0001"}).status_code == 200
    for _ in range(MAX_FAILED_LOGINS + 2):  # unknown accounts are not counted (nor named in the log)
        _error(client.post("/api/v1/login", json={"username": "ghost-account", "password": "wrong-password-1"}), 401)
    with transaction(app.state.sessions) as session:  # the failures age out of the window
        session.execute(update(AuditEntry).where(AuditEntry.actor == name).values(
            at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=16)))
    assert client.post("/api/v1/login", json={"username": name, "password": f"pw-{name}-0001"}).status_code == 200


def test_tokens_are_stored_only_as_hashes(client: TestClient, app: FastAPI, admin_token: str) -> None:
    with app.state.sessions() as session:
        stored = list(session.scalars(select(Token.token_hash)))
        passwords = list(session.scalars(select(User.password_hash)))
    assert len(stored) == 1 and stored[0] != admin_token and len(stored[0]) == 64
    assert passwords[0].startswith("$argon2id$") and ADMIN_PASSWORD not in passwords[0]


def test_password_hashes_use_argon2id_with_its_default_costs() -> None:
    """What the hub uses outside the tests (conftest makes the hashes cheap in this process)."""
    script = ("from cifranegra.service import auth\nh = auth.hash_password('a-long-password')\n"
              "print(h.rsplit('$', 2)[0], auth.verify_password(h, 'a-long-password'), "
              "auth.verify_password(h, 'a-long-passworD'))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.split() == ["$argon2id$v=19$m=65536,t=3,p=4", "True", "False"]


def test_a_wrong_role_gets_403_and_admin_rules_are_checked(
    client: TestClient, admin_token: str, make_user: Callable[..., tuple[str, str]], make_study: Callable[..., Any]
) -> None:
    _, auditor = make_user(client, admin_token, "auditor")
    assert _error(client.get("/api/v1/users", headers=bearer(auditor)), 403)["code"] == "forbidden"
    assert _error(client.post("/api/v1/studies", json={"name": "s"}, headers=bearer(admin_token)), 403)
    study = make_study(client, admin_token, name="trata-2026")
    post = lambda body: client.post("/api/v1/users", json=body, headers=bearer(admin_token))  # noqa: E731
    base = {"username": "u1", "password": "long-enough-pw"}
    assert "needs its agency" in _error(post({**base, "role": "agency_submitter", "study": study.name}), 422)["message"]
    assert "create it first" in _error(post({**base, "role": "agency_submitter", "agency": "Nope",
                                              "study": study.name}), 422)["message"]
    assert "works on one study" in _error(post({**base, "role": "analyst"}), 422)["message"]
    assert "works on no single study" in _error(post({**base, "role": "auditor", "study": study.name}), 422)["message"]
    assert "role must be one of" in _error(post({**base, "role": "root"}), 422)["message"]
    assert "no study with this name" in _error(post({**base, "role": "approver", "study": "other"}), 422)["message"]
    assert post({**base, "role": "approver", "study": study.name}).status_code == 201
    assert _error(post({**base, "role": "auditor"}), 409)["code"] == "exists"
    names = [s["name"] for s in client.get("/api/v1/studies", headers=bearer(admin_token)).json()["studies"]]
    assert names == ["trata-2026"]
    assert client.get("/api/v1/studies", headers=bearer(admin_token)).json()["studies"] == [{"name": "trata-2026"}]
    _error(client.get("/api/v1/studies/trata-2026", headers=bearer(admin_token)), 403)
    other = make_study(client, admin_token)
    _error(client.get("/api/v1/studies/trata-2026", headers=bearer(other.coordinator_token)), 404)
    _error(client.get("/api/v1/studies/no-such", headers=bearer(other.coordinator_token)), 404)
    _error(client.post("/api/v1/studies", json={"name": "trata-2026"}, headers=bearer(other.coordinator_token)), 409)
    _error(client.post("/api/v1/studies", json={"name": "../etc"}, headers=bearer(other.coordinator_token)), 422)


# --- one error shape --------------------------------------------------------------------------------------


def test_every_error_has_one_shape_and_quotes_no_value(client: TestClient, app: FastAPI, admin_token: str) -> None:
    def cifranegra_error() -> None:
        raise InputError("column 'sexo' row 3: unknown code; use F or M")

    def unexpected() -> None:
        raise RuntimeError("CURP GOMA800101MDFRRR09 leaked into an exception")

    app.add_api_route("/api/v1/test-input-error", cifranegra_error, methods=["GET"])
    app.add_api_route("/api/v1/test-unexpected", unexpected, methods=["GET"])

    assert _error(client.get("/api/v1/no/such/thing"), 404)["code"] == "not_found"
    assert _error(client.delete("/api/v1/login"), 405)["code"] == "method_not_allowed"
    err = _error(client.post("/api/v1/login", json={"username": ["GOMA800101MDFRRR09"]}), 422)
    assert "username" in err["message"] and "password" in err["message"]
    assert "GOMA800101MDFRRR09" not in json.dumps(err)
    err = _error(client.post("/api/v1/login", content=b"{not json GOMA800101", headers={
        "content-type": "application/json"}), 422)
    assert "GOMA800101" not in json.dumps(err)
    message = _error(client.get("/api/v1/test-input-error"), 400)["message"]
    assert message == "column 'sexo' row 3: unknown code; use F or M"
    err = _error(client.get("/api/v1/test-unexpected"), 500)
    assert err == {"status": 500, "code": "internal_error", "message": "internal error"}
    with app.state.sessions() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last is not None
    assert (last.action, last.outcome, last.status) == ("GET /api/v1/test-unexpected", "error", 500)


def test_web_pages_get_html_errors_and_the_api_json(client: TestClient, app: FastAPI) -> None:
    if getattr(app.state, "html_error", None) is None:
        pytest.skip("the web pages are not in this build")
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no such resource" not in page.text
    assert _error(client.get("/api/v1/no/such/page"), 404)["code"] == "not_found"


# --- the audit chain --------------------------------------------------------------------------------------


def _fields(i: int) -> dict[str, Any]:
    return {"actor": f"user{i}", "role": "coordinator", "action": "GET /api/v1/studies/{study}",
            "target": f"study=s{i}", "client": "127.0.0.1", "outcome": "ok", "status": 200}


def test_audit_chain_detects_an_altered_a_removed_and_a_rehashed_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate.upgrade(url)
    factory = session_factory(make_engine(url))
    for i in range(1, 7):
        audit.append(factory, **_fields(i))
    with factory() as session:
        assert audit.verify(session) == {"ok": True, "entries": 6, "first_bad_id": None}
        ids = list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    assert ids == [1, 2, 3, 4, 5, 6]

    def verify_after(change: Any) -> dict[str, Any]:
        with transaction(factory) as session:
            session.execute(change)
        with factory() as session:
            return audit.verify(session)

    assert verify_after(update(AuditEntry).where(AuditEntry.id == 3).values(actor="mallory")) == {
        "ok": False, "entries": 3, "first_bad_id": 3}
    assert verify_after(update(AuditEntry).where(AuditEntry.id == 3).values(actor="user3"))["ok"] is True

    with factory() as session:  # rewrite row 4 with a correct hash of its own: row 5 no longer follows it
        row = session.get(AuditEntry, 4)
        assert row is not None
        fields = {**audit.entry_fields(row), "outcome": "denied"}
        forged = audit.chain_hash(row.prev_hash, 4, row.at, fields)
    assert verify_after(update(AuditEntry).where(AuditEntry.id == 4).values(outcome="denied", hash=forged))[
        "first_bad_id"] == 5

    url2 = f"sqlite:///{tmp_path / 'b.db'}"
    migrate.upgrade(url2)
    factory2 = session_factory(make_engine(url2))
    for i in range(1, 7):
        audit.append(factory2, **_fields(i))
    with transaction(factory2) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id == 2))
    with factory2() as session:
        assert audit.verify(session) == {"ok": False, "entries": 2, "first_bad_id": 2}
    with transaction(factory2) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id >= 3))
    with factory2() as session:  # only the tail removed: the head remembers how far the chain went
        assert audit.verify(session) == {"ok": False, "entries": 1, "first_bad_id": 2}


def _concurrent_appends_keep_one_chain(db_url: str, threads: int = 8, each: int = 15) -> None:
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with factory() as session:
        before = audit.verify(session)["entries"]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                audit.append(factory, **_fields(n * 1000 + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    with factory() as session:
        assert audit.verify(session) == {"ok": True, "entries": before + threads * each, "first_bad_id": None}
        actors = set(session.scalars(select(AuditEntry.actor)))
    assert {f"user{n * 1000 + i}" for n in range(threads) for i in range(each)} <= actors
    engine.dispose()


def test_concurrent_appends_from_threads_keep_one_chain_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrate.upgrade(url)
    _concurrent_appends_keep_one_chain(url)


# --- the audit middleware ---------------------------------------------------------------------------------


def _entries(app: FastAPI) -> list[AuditEntry]:
    with app.state.sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_every_api_request_is_audited_with_who_what_where_and_outcome(
    client: TestClient, app: FastAPI, admin_token: str, make_user: Callable[..., tuple[str, str]],
    make_study: Callable[..., Any],
) -> None:
    study = make_study(client, admin_token, name="s-audit")
    before = len(_entries(app))
    client.get("/api/v1/healthz")  # reads no data: not audited
    assert len(_entries(app)) == before
    client.get("/api/v1/studies/s-audit", headers=bearer(study.coordinator_token))
    client.get("/api/v1/studies/other", headers=bearer(study.coordinator_token))
    client.post("/api/v1/login", json={"username": ADMIN_USER, "password": "wrong-password-zz1"})
    client.post("/api/v1/login", json={"username": "no-such-account-Pa55word", "password": "wrong-password-zz2"})
    client.get("/api/v1/users")
    new = [(e.actor, e.role, e.action, e.target, e.client, e.outcome, e.status) for e in _entries(app)[before:]]
    assert new == [
        (study.coordinator, "coordinator", "GET /api/v1/studies/{study}", "study=s-audit", "testclient", "ok", 200),
        (study.coordinator, "coordinator", "GET /api/v1/studies/{study}", "study=other", "testclient", "denied", 404),
        (ADMIN_USER, "-", "POST /api/v1/login", "", "testclient", "denied", 401),
        ("-", "-", "POST /api/v1/login", "", "testclient", "denied", 401),
        ("-", "-", "GET /api/v1/users", "", "testclient", "denied", 401),
    ]
    client.post("/api/v1/agencies", json={"name": "DIF"}, headers=bearer(admin_token))
    client.post("/api/v1/users", json={"username": "ana-1", "password": "a-long-password", "role": "analyst",
                                       "study": "s-audit"}, headers=bearer(admin_token))
    client.post("/api/v1/studies", json={"name": "s-new"}, headers=bearer(study.coordinator_token))
    assert [e.target for e in _entries(app)[-3:]] == [
        "agency=DIF", "username=ana-1 role=analyst study=s-audit", "study=s-new"]
    everything = json.dumps([[str(getattr(e, c.key)) for c in inspect(AuditEntry).mapper.column_attrs]
                             for e in _entries(app)])
    for secret in ("wrong-password-zz", "no-such-account", ADMIN_PASSWORD, admin_token):
        assert secret not in everything


def test_the_auditor_reads_verifies_and_exports_the_log(
    client: TestClient, app: FastAPI, admin_token: str, make_user: Callable[..., tuple[str, str]]
) -> None:
    _, auditor = make_user(client, admin_token, "auditor")
    client.post("/api/v1/agencies", json={"name": "=HYPERLINK(1)"}, headers=bearer(admin_token))
    client.get("/api/v1/studies/=cmd", headers=bearer(auditor))
    page = client.get("/api/v1/audit", params={"limit": 2}, headers=bearer(auditor)).json()
    assert [e["id"] for e in page["entries"]] == [1, 2] and page["next_after_id"] == 2
    rest = client.get("/api/v1/audit", params={"after_id": 2, "limit": 1000}, headers=bearer(auditor)).json()
    n = 2 + len(rest["entries"])
    verified = client.get("/api/v1/audit/verify", headers=bearer(auditor)).json()
    assert verified == {"ok": True, "entries": n + 1, "first_bad_id": None}  # + the `GET /audit` just before
    export = client.get("/api/v1/audit/export.csv", headers=bearer(auditor))
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.text.splitlines()
    assert lines[0] == "id,at,actor,role,action,target,client,outcome,status,prev_hash,hash"
    assert len(lines) == 1 + n + 3  # + the last `GET /audit`, the verify and the export itself
    assert ",study==cmd," in export.text
    from cifranegra.service.routers.audit import _safe_cell

    assert [_safe_cell(v) for v in ("=1+1", "+1", "-1", "@x", "ok", 200)] == ["'=1+1", "'+1", "'-1", "'@x", "ok", 200]
    with transaction(app.state.sessions) as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(status=200))
    tampered = client.get("/api/v1/audit/verify", headers=bearer(auditor)).json()
    assert tampered["ok"] is False and tampered["first_bad_id"] == 2
    _error(client.get("/api/v1/audit", headers=bearer(admin_token)), 403)


def test_a_request_whose_audit_entry_cannot_be_written_gets_a_500(
    client: TestClient, app: FastAPI, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(audit, "append", broken)
    response = client.get("/api/v1/users", headers=bearer(admin_token))
    assert _error(response, 500) == {"status": 500, "code": "internal_error", "message": "internal error"}
    assert client.get("/api/v1/healthz").status_code == 200  # not audited: unaffected


# --- loading the routers ----------------------------------------------------------------------------------


def test_a_missing_router_is_skipped_and_a_broken_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert optional_module("cifranegra.service.routers.no_such_router") is None
    package = tmp_path / "hub_broken_router_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("import hub_module_that_does_not_exist_zz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="hub_module_that_does_not_exist_zz"):
        optional_module("hub_broken_router_pkg")


def test_the_core_routes_are_under_api_v1(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path, methods in {
        "/api/v1/login": {"post"}, "/api/v1/logout": {"post"}, "/api/v1/users": {"get", "post"},
        "/api/v1/agencies": {"get", "post"}, "/api/v1/studies": {"get", "post"}, "/api/v1/studies/{study}": {"get"},
        "/api/v1/audit": {"get"}, "/api/v1/audit/verify": {"get"}, "/api/v1/audit/export.csv": {"get"},
        "/api/v1/healthz": {"get"},
    }.items():
        assert set(paths[path]) == methods, path



def test_web_posts_and_logged_in_pages_are_audited_anonymous_pages_are_not(
    client: TestClient, app: FastAPI, admin_token: str
) -> None:
    from cifranegra.service.auth import resolve_principal

    def page(request: Request) -> dict[str, str]:
        principal = resolve_principal(request)
        return {"who": principal.username if principal else "-"}

    app.add_api_route("/test-page/{name}", page, methods=["GET", "POST"])
    before = len(_entries(app))
    assert client.get("/test-page/a").json() == {"who": "-"}
    assert client.get("/static/hub/none.css").status_code == 404
    assert len(_entries(app)) == before
    client.cookies.set("hub_session", admin_token)
    assert client.get("/test-page/b").json() == {"who": ADMIN_USER}
    client.cookies.clear()
    assert client.post("/test-page/c").json() == {"who": "-"}
    new = [(e.actor, e.action, e.target, e.outcome) for e in _entries(app)[before:]]
    assert new == [(ADMIN_USER, "GET /test-page/{name}", "name=b", "ok"),
                   ("-", "POST /test-page/{name}", "name=c", "ok")]
