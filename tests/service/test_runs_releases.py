"""Runs and releases through the API, with one real run of the pipeline on encoded lists.

One hub for the module (the run links three agencies' encoded lists of 150 records, estimates and
publishes: about ten seconds); the job is done in-process by ``claim_next`` + ``run_job``, as the job
runner of ``hub serve`` does. Record ids in the submitted files are distinctive (``RID-…``) so that a
test can grep every stored result for them.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the hub's extra is not installed: pip install 'cifranegra[hub]'")

from fastapi.testclient import TestClient
from sqlalchemy import select

from cifranegra.ingest.encoded import write_encoded
from cifranegra.linkage.private import encode_records
from cifranegra.service import jobs
from cifranegra.service.app import create_app
from cifranegra.service.config import KEY_FILE_ENV, init_home
from cifranegra.service.db import Release, Run, User
from service.conftest import ADMIN_PASSWORD, ADMIN_USER, _make_user, bearer
from service.encoded_factory import SECRET, records

AGENCIES = ("FGR", "DIF", "REFUGIO")
STUDY = "estudio-rr"
OTHER = "estudio-otro"
RUN_SETTINGS = {"publication": {"formats": ["html"], "languages": ["en"], "title": "Trata 2023"}}
PARQUET = "application/vnd.apache.parquet"
_keys = itertools.count(1)


def encoded_with_ids(study: str, source: str, n: int) -> bytes:
    """An encoded list whose record ids are ``RID-SOURCE-00001`` …, recognisable wherever they leak."""
    frame = records(source, n, population=400)
    frame["record_id"] = [f"RID-{source}-{i:05d}" for i in range(1, n + 1)]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.parquet"
        write_encoded(encode_records(frame, SECRET, study), path)
        return path.read_bytes()


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    users: dict[str, str]
    run_id: str

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who]) if who != "public" else {}

    def api(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.h(who), **kwargs)

    def user_id(self, who: str) -> int:
        with self.client.app.state.sessions() as session:  # type: ignore[attr-defined]
            return int(session.scalars(select(User.id).where(User.username == self.users[who])).one())

    def do_jobs(self) -> list[str]:
        app = self.client.app
        done = []
        while (run := jobs.claim_next(app.state.sessions, "test-worker")) is not None:  # type: ignore[attr-defined]
            done.append(jobs.run_job(app.state.sessions, app.state.storage, run,  # type: ignore[attr-defined]
                                     workdir_root=jobs.work_root(app.state.home.path)))  # type: ignore[attr-defined]
        return done


def _user(client: TestClient, admin: str, role: str, name: str, agency: str | None = None,
          study: str | None = None) -> str:
    return _make_user(client, admin, role, agency=agency, study=study, username=name)[1]


def submit(client: TestClient, token: str, study: str, source: str, n: int = 150) -> None:
    response = client.post(f"/api/v1/studies/{study}/submissions", content=encoded_with_ids(study, source, n),
                           headers={**bearer(token), "Content-Type": PARQUET, "Idempotency-Key": f"k{next(_keys)}"})
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mp = pytest.MonkeyPatch()
    mp.delenv(KEY_FILE_ENV, raising=False)
    home = init_home(tmp_path_factory.mktemp("hub") / "home", admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    with TestClient(create_app(home)) as client:
        admin = client.post("/api/v1/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).json()["token"]
        tokens: dict[str, str] = {"admin": admin}
        users = {"admin": ADMIN_USER}
        for who in ("coordinator", "coordinator_other"):
            users[who] = who.replace("_", "-")
            tokens[who] = _user(client, admin, "coordinator", users[who])
        for study, coordinator in ((STUDY, "coordinator"), (OTHER, "coordinator_other")):
            made = client.post("/api/v1/studies", json={"name": study}, headers=bearer(tokens[coordinator]))
            assert made.status_code == 201, made.text
        for role in ("analyst", "approver"):
            for who, study in ((role, STUDY), (f"{role}_other", OTHER)):
                users[who] = who.replace("_", "-")
                tokens[who] = _user(client, admin, role, users[who], study=study)
        for agency in AGENCIES:
            who = f"submitter_{agency}"
            users[who] = who.replace("_", "-").lower()
            tokens[who] = _user(client, admin, "agency_submitter", users[who], agency=agency, study=STUDY)
            submit(client, tokens[who], STUDY, agency)
        users["submitter_other"] = "submitter-other"
        tokens["submitter_other"] = _user(client, admin, "agency_submitter", "submitter-other", agency="FGR",
                                          study=OTHER)
        submit(client, tokens["submitter_other"], OTHER, "FGR", 30)
        users["auditor"] = "auditor-1"
        tokens["auditor"] = _user(client, admin, "auditor", "auditor-1")
        started = client.post(f"/api/v1/studies/{STUDY}/runs", json={"settings": RUN_SETTINGS},
                              headers=bearer(tokens["coordinator"]))
        assert started.status_code == 202, started.text
        w = World(client, tokens, users, started.json()["id"])
        assert started.json() == {"id": w.run_id, "state": "queued"}
        assert w.do_jobs() == ["succeeded"]
        yield w
    mp.undo()


# --- runs ----------------------------------------------------------------------------------------------


def test_the_run_succeeded_and_is_followed_by_the_study_roles(world: World) -> None:
    for who in ("coordinator", "analyst", "approver"):
        got = world.api("GET", f"/studies/{STUDY}/runs/{world.run_id}", who)
        assert got.status_code == 200, got.text
        body = got.json()
        assert (body["state"], body["progress"], body["step"], body["message"]) == ("succeeded", 1.0, "done", "")
        assert body["n_submissions"] == 3
        assert body["heartbeat_at"] is not None
        listed = world.api("GET", f"/studies/{STUDY}/runs", who).json()["runs"]
        assert [r["id"] for r in listed] == [world.run_id]


def test_who_may_start_and_see_runs(world: World) -> None:
    run = f"/studies/{STUDY}/runs/{world.run_id}"
    assert world.api("GET", run, "public").status_code == 401
    for who in ("admin", "auditor", "submitter_FGR"):
        assert world.api("GET", run, who).status_code == 403, who
        assert world.api("GET", f"/studies/{STUDY}/runs", who).status_code == 403, who
    for who in ("coordinator_other", "analyst_other", "approver_other"):
        assert world.api("GET", run, who).status_code == 404, who
        assert world.api("GET", f"/studies/{STUDY}/runs", who).status_code == 404, who
    assert world.api("GET", f"/studies/{OTHER}/runs/{world.run_id}", "coordinator_other").status_code == 404
    assert world.api("GET", f"/studies/{STUDY}/runs/{'0' * 32}", "coordinator").status_code == 404
    assert world.api("GET", f"/studies/{STUDY}/runs/..%2Fx", "coordinator").status_code == 404
    for who in ("analyst", "approver", "submitter_FGR", "admin"):
        assert world.api("POST", f"/studies/{STUDY}/runs", who, json={}).status_code == 403, who
    assert world.api("POST", f"/studies/{STUDY}/runs", "coordinator_other", json={}).status_code == 404
    assert world.api("POST", f"/studies/{STUDY}/runs", "public", json={}).status_code == 401


def test_a_run_needs_two_agencies_and_valid_settings(world: World) -> None:
    one = world.api("POST", f"/studies/{OTHER}/runs", "coordinator_other", json={})
    assert one.status_code == 409
    assert one.json()["error"]["message"] == ("a run needs accepted submissions from at least two agencies; this "
                                              "study has 1")
    bad = world.api("POST", f"/studies/{STUDY}/runs", "coordinator", json={"settings": {"lists": ["x"]}})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_settings"
    assert "unknown run setting" in bad.json()["error"]["message"]
    with world.client.app.state.sessions() as session:  # type: ignore[attr-defined]
        assert len(session.scalars(select(Run)).all()) == 1


def test_internal_results_are_the_analysts_and_never_record_level(world: World) -> None:
    path = f"/studies/{STUDY}/runs/{world.run_id}/internal"
    got = world.api("GET", path, "analyst")
    assert got.status_code == 200, got.text
    files = got.json()["files"]
    assert "estimates.csv" in files and "results.json" in files and "capture_histories.csv" in files
    assert "entities.csv" not in files
    for name in files:
        content = world.api("GET", f"{path}/{name}", "analyst")
        assert content.status_code == 200
        assert b"RID-" not in content.content, name
    histories = world.api("GET", f"{path}/capture_histories.csv", "analyst")
    assert histories.headers["content-type"].startswith("text/csv")
    assert histories.text.splitlines()[0].split(",") == [*sorted(AGENCIES), "count"]  # lists by source
    assert world.api("GET", f"{path}/entities.csv", "analyst").status_code == 404
    assert world.api("GET", f"{path}/..%2Fentities.csv", "analyst").status_code == 404
    for who in ("coordinator", "approver", "submitter_FGR", "admin", "auditor"):
        assert world.api("GET", path, who).status_code == 403, who
    assert world.api("GET", path, "analyst_other").status_code == 404
    assert world.api("GET", path, "public").status_code == 401


# --- releases ------------------------------------------------------------------------------------------


def _draft(world: World, who: str = "coordinator", title: str = "Trata 2023") -> dict[str, Any]:
    made = world.api("POST", f"/studies/{STUDY}/releases", who, json={"run_id": world.run_id, "title": title})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_release_needs_a_second_person_and_only_then_is_public(world: World) -> None:
    draft = _draft(world, "analyst", "Víctimas de trata 2023")
    assert draft["state"] == "draft"
    assert draft["approved_at"] is None
    rid = draft["id"]
    public_ids = [r["id"] for r in world.api("GET", "/public/releases", "public").json()["releases"]]
    assert rid not in public_ids
    assert world.api("GET", f"/public/releases/{rid}", "public").status_code == 404
    assert world.api("GET", f"/public/releases/{rid}/files/tables/estimates.csv", "public").status_code == 404
    # the approver reviews the draft's files
    reviewed = world.api("GET", f"/studies/{STUDY}/releases/{rid}/files/tables/estimates.csv", "approver")
    assert reviewed.status_code == 200
    # approval by a role that may not, or by another study's approver
    for who in ("coordinator", "analyst", "submitter_FGR", "admin", "auditor"):
        assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", who).status_code == 403, who
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver_other").status_code == 404
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "public").status_code == 401
    approved = world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["approved_at"] is not None
    again = world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver")
    assert again.status_code == 409
    listed = world.api("GET", "/public/releases", "public").json()["releases"]
    mine = [r for r in listed if r["id"] == rid]
    assert len(mine) == 1
    assert (mine[0]["title"], mine[0]["study"], mine[0]["state"]) == ("Víctimas de trata 2023", STUDY, "approved")
    assert "run_id" not in mine[0]
    one = world.api("GET", f"/public/releases/{rid}", "public")
    assert one.status_code == 200
    assert one.json()["files"] == mine[0]["files"]
    table = world.api("GET", f"/public/releases/{rid}/files/tables/estimates.csv", "public")
    assert table.status_code == 200
    assert table.headers["content-type"].startswith("text/csv")
    report = world.api("GET", f"/public/releases/{rid}/files/report-en.html", "public")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    for name in ("entities.csv", "../internal/entities.csv", "results.json", "tables/nope.csv"):
        assert world.api("GET", f"/public/releases/{rid}/files/{name}", "public").status_code == 404, name


def test_release_files_are_the_publish_folder_only_without_record_ids(world: World) -> None:
    rid = _draft(world)["id"]
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver").status_code == 200
    files = world.api("GET", f"/public/releases/{rid}", "public").json()["files"]
    assert "metadata.json" in files
    assert "tables/estimates.csv" in files
    assert all(not f.startswith("internal") for f in files)
    assert not {"entities.csv", "results.json", "capture_histories.csv", "linkage_model.json",
                "estimates.csv"} & set(files)  # internal/'s names: none (the published estimates are tables/)
    with world.client.app.state.sessions() as session:  # type: ignore[attr-defined]
        release = session.get(Release, rid)
        run = session.get(Run, world.run_id)
        assert release is not None and run is not None
        storage = world.client.app.state.storage  # type: ignore[attr-defined]
        content = storage.get(session, release.content_blob_id)
        assert content == storage.get(session, run.publish_blob_id)  # a copy of publish/, nothing added
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        assert sorted(zf.namelist()) == sorted(files)
        for name in zf.namelist():
            assert b"RID-" not in zf.read(name), name
    for name in files:
        got = world.api("GET", f"/public/releases/{rid}/files/{name}", "public")
        assert got.status_code == 200, name
        assert b"RID-" not in got.content, name
    assert b"RID-" in encoded_with_ids(STUDY, "FGR", 3)  # the ids were there to leak


def test_the_two_person_rule(world: World) -> None:
    approver = world.user_id("approver")
    rid = _draft(world)["id"]
    with world.client.app.state.sessions() as session, session.begin():  # type: ignore[attr-defined]
        release = session.get(Release, rid)
        assert release is not None
        release.drafted_by = approver
    refused = world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "two_person_rule"
    assert "you drafted this release" in refused.json()["error"]["message"]
    other = _draft(world)["id"]
    with world.client.app.state.sessions() as session, session.begin():  # type: ignore[attr-defined]
        run = session.get(Run, world.run_id)
        assert run is not None
        creator, run.created_by = run.created_by, approver
    try:
        refused = world.api("POST", f"/studies/{STUDY}/releases/{other}/approve", "approver")
        assert refused.status_code == 403
        assert "you started the run" in refused.json()["error"]["message"]
    finally:
        with world.client.app.state.sessions() as session, session.begin():  # type: ignore[attr-defined]
            run = session.get(Run, world.run_id)
            assert run is not None
            run.created_by = creator
    for rid_ in (rid, other):
        assert world.api("GET", f"/studies/{STUDY}/releases/{rid_}", "approver").json()["state"] == "draft"


def test_who_may_draft_and_see_releases(world: World) -> None:
    base = f"/studies/{STUDY}/releases"
    for who in ("approver", "submitter_FGR", "admin", "auditor"):
        assert world.api("POST", base, who, json={"run_id": world.run_id}).status_code == 403, who
    for who in ("submitter_FGR", "admin", "auditor"):
        assert world.api("GET", base, who).status_code == 403, who
    assert world.api("POST", base, "coordinator_other", json={"run_id": world.run_id}).status_code == 404
    assert world.api("GET", base, "analyst_other").status_code == 404
    assert world.api("POST", base, "coordinator", json={"run_id": "0" * 32}).status_code == 404
    assert world.api("POST", f"/studies/{OTHER}/releases", "coordinator_other",
                     json={"run_id": world.run_id}).status_code == 404  # another study's run
    assert world.api("POST", base, "coordinator", json={}).status_code == 422
    for who in ("coordinator", "analyst", "approver"):
        got = world.api("GET", base, who)
        assert got.status_code == 200
        assert all(r["run_id"] == world.run_id for r in got.json()["releases"])


def test_a_release_is_drafted_only_from_a_succeeded_run(world: World) -> None:
    with world.client.app.state.sessions() as session, session.begin():  # type: ignore[attr-defined]
        run = session.get(Run, world.run_id)
        assert run is not None
        queued = Run(study_id=run.study_id, created_by=run.created_by, state="failed", message="x",
                     submission_ids=[], settings={})
        session.add(queued)
        session.flush()
        failed_id = queued.id
    refused = world.api("POST", f"/studies/{STUDY}/releases", "coordinator", json={"run_id": failed_id})
    assert refused.status_code == 409
    assert world.api("GET", f"/studies/{STUDY}/runs/{failed_id}/internal", "analyst").status_code == 409


def _approved(world: World, title: str) -> str:
    rid = str(_draft(world, "analyst", title)["id"])
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver").status_code == 200
    return rid


def test_an_approved_release_is_withdrawn_with_a_public_reason_and_its_content_destroyed(world: World) -> None:
    """docs/hub.md, section 6 ('Withdrawing a release'): the coordinator or the approver withdraws a
    release; its content is destroyed, and an approved one stays listed publicly as withdrawn, with the
    date and the reason, its files 410. The release state 'withdrawn' existed with no way to reach it:
    figures found wrong after approval could not be taken down."""
    rid = _approved(world, "Trata 2023, corregida")
    with world.client.app.state.sessions() as session:  # type: ignore[attr-defined]
        blob = session.get(Release, rid).content_blob_id
    assert blob is not None
    blob_file = world.client.app.state.storage.path(blob)  # type: ignore[attr-defined]
    assert blob_file.exists()
    # the reason is required, and said publicly: a blank or one-word reason is refused
    for reason in ("", "   ", "error"):
        refused = world.api("POST", f"/studies/{STUDY}/releases/{rid}/withdraw", "coordinator", json={"reason": reason})
        assert refused.status_code == 422, reason
    for who in ("analyst", "submitter_FGR", "admin", "auditor"):
        assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/withdraw", who,
                         json={"reason": "wrong figures"}).status_code == 403, who
    done = world.api("POST", f"/studies/{STUDY}/releases/{rid}/withdraw", "approver",
                     json={"reason": "the linkage threshold\x00 was wrong;\n a corrected release follows"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["state"] == "withdrawn" and body["files"] == []
    assert body["withdrawal_reason"] == "the linkage threshold was wrong; a corrected release follows"
    assert body["withdrawn_at"] is not None
    # the content is destroyed: its key row at once, its file when the transaction committed
    assert not blob_file.exists()
    with world.client.app.state.sessions() as session:  # type: ignore[attr-defined]
        row = session.get(Release, rid)
        assert (row.state, row.content_blob_id, row.withdrawn_by) == ("withdrawn", None, world.user_id("approver"))
    # publicly: still listed, as withdrawn, with the reason; its files are gone (410), its page says why
    listed = [r for r in world.api("GET", "/public/releases", "public").json()["releases"] if r["id"] == rid]
    assert len(listed) == 1
    assert (listed[0]["state"], listed[0]["files"]) == ("withdrawn", [])
    assert listed[0]["withdrawal_reason"] == body["withdrawal_reason"]
    assert world.api("GET", f"/public/releases/{rid}", "public").json()["state"] == "withdrawn"
    gone = world.api("GET", f"/public/releases/{rid}/files/tables/estimates.csv", "public")
    assert gone.status_code == 410
    internal = world.api("GET", f"/studies/{STUDY}/releases/{rid}/files/tables/estimates.csv", "approver")
    assert internal.status_code == 410
    page = world.client.get(f"/releases/{rid}?lang=en")
    assert page.status_code == 410
    assert "This release was withdrawn on" in page.text and "a corrected release follows" in page.text
    assert "estimates.csv" not in page.text
    assert "withdrawn" in world.client.get("/releases?lang=en").text
    # once only; approving it again is refused
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/withdraw", "coordinator",
                     json={"reason": "the linkage threshold was wrong"}).status_code == 409
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver").status_code == 409


def test_a_draft_withdrawn_before_approval_never_becomes_public(world: World) -> None:
    """docs/hub.md, section 6: a draft is never public, and a withdrawn draft is not either (its
    existence is not revealed); it cannot be approved afterwards."""
    rid = str(_draft(world, "analyst", "Borrador descartado")["id"])
    done = world.api("POST", f"/studies/{STUDY}/releases/{rid}/withdraw", "coordinator",
                     json={"reason": "drafted from the wrong run"})
    assert done.status_code == 200, done.text
    assert world.api("POST", f"/studies/{STUDY}/releases/{rid}/approve", "approver").status_code == 409
    assert rid not in [r["id"] for r in world.api("GET", "/public/releases", "public").json()["releases"]]
    assert world.api("GET", f"/public/releases/{rid}", "public").status_code == 404
    assert world.api("GET", f"/public/releases/{rid}/files/tables/estimates.csv", "public").status_code == 404
    assert world.client.get(f"/releases/{rid}").status_code == 404
