"""kill -9 during a burst of uploads: nothing acknowledged is lost, nothing is stored twice, no orphan.

Each round fires a stream of uploads (distinct small encoded files, each with its own
Idempotency-Key, several in flight) at a real ``cifranegra hub serve`` process, SIGKILLs the server's
whole process group after a few acknowledgements (uploads are then in flight, half-written, or not
yet sent), restarts it, and re-sends every upload that was not acknowledged — with the same key, as
``cifranegra hub submit`` does. Then:

- every acknowledged upload is present exactly once, with the id and sha256 of its acknowledgement;
  every upload of the study is present exactly once (no duplicate, nothing lost);
- the storage folder holds exactly the blobs that have a key row, which are exactly the accepted
  submissions' blobs (no orphan file, no temporary file, no blob without its file);
- ``GET /audit/verify`` is ok;
- every stored blob decrypts and equals the bytes sent (sha256).

The startup sweep deletes orphan files only when older than a minute (a younger one may be a commit
still in flight in another worker); the test ages the storage folder's files by two minutes after the
kill, as if the restart came a few minutes later, instead of waiting. Two rounds run in the fast
suite (one uvicorn worker), eight bigger ones under ``-m slow`` (two workers: two processes appending to one
audit chain and sweeping one storage folder at start).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

pytest.importorskip("fastapi")
pytest.importorskip("cifranegra.service.app")

from cifranegra.service.config import load_home
from cifranegra.service.db import StoredKey, Submission, make_engine, session_factory
from cifranegra.service.storage import open_storage
from service.encoded_factory import encoded_bytes
from service.live_hub import API, LiveHub, StudyAccounts, init_home, setup_study

ACK = (200, 201)


@dataclass
class Upload:
    key: str
    data: bytes
    sha256: str = ""
    acked_id: str | None = None
    statuses: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()


async def _send(client: httpx.AsyncClient, acc: StudyAccounts, up: Upload) -> None:
    try:
        r = await client.post(
            f"{API}/studies/{acc.study}/submissions", content=up.data,
            headers={"Authorization": f"Bearer {acc.submitter}", "Idempotency-Key": up.key,
                     "Content-Type": "application/vnd.apache.parquet"},
        )
    except httpx.TransportError:
        return  # the server died under it: not acknowledged
    up.statuses.append(r.status_code)
    if r.status_code in ACK:
        body = r.json()
        assert body["sha256"] == up.sha256
        if up.acked_id is not None:
            assert body["id"] == up.acked_id, "the same Idempotency-Key answered with another submission"
        up.acked_id = body["id"]


async def _burst_and_kill(hub: LiveHub, acc: StudyAccounts, uploads: list[Upload], *, in_flight: int,
                          kill_after: int) -> None:
    """Send ``uploads`` with ``in_flight`` at a time; SIGKILL the server once ``kill_after`` are acknowledged."""
    queue: asyncio.Queue[Upload] = asyncio.Queue()
    for up in uploads:
        queue.put_nowait(up)
    acked = asyncio.Event()
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(base_url=hub.url, timeout=60.0, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                up = queue.get_nowait()
                await _send(client, acc, up)
                if sum(u.acked_id is not None for u in uploads) >= kill_after:
                    acked.set()

        async def killer() -> None:
            await acked.wait()
            await asyncio.to_thread(hub.kill)

        tasks = [asyncio.create_task(worker()) for _ in range(in_flight)]
        kill_task = asyncio.create_task(killer())
        await asyncio.gather(*tasks)
        if not acked.is_set():  # everything answered before the threshold: kill anyway
            acked.set()
        await kill_task


async def _resend(url: str, acc: StudyAccounts, uploads: list[Upload]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
        await asyncio.gather(*(_send(client, acc, up) for up in uploads))


def _age_storage(storage_dir: Path, seconds: float) -> None:
    past = time.time() - seconds
    for entry in os.scandir(storage_dir):
        os.utime(entry.path, (past, past), follow_symlinks=False)


def _check(hub: LiveHub, home_dir: Path, acc: StudyAccounts, uploads: list[Upload]) -> None:
    auth = {"Authorization": f"Bearer {acc.submitter}"}
    listed = httpx.get(f"{hub.url}{API}/studies/{acc.study}/submissions", headers=auth, timeout=30)
    assert listed.status_code == 200
    rows = listed.json()["submissions"]
    by_sha: dict[str, list[str]] = {}
    for row in rows:
        by_sha.setdefault(row["sha256"], []).append(row["id"])
    assert len(rows) == len(uploads), "a duplicate or a lost upload"
    for up in uploads:
        assert up.acked_id is not None, f"upload {up.key} never acknowledged (statuses {up.statuses})"
        assert by_sha.get(up.sha256) == [up.acked_id], f"upload {up.key} not present exactly once"
    verify = httpx.get(f"{hub.url}{API}/audit/verify", headers={"Authorization": f"Bearer {acc.auditor}"},
                       timeout=60)
    assert verify.status_code == 200
    assert verify.json()["ok"] is True, verify.json()

    home = load_home(home_dir)
    engine = make_engine(home.db_url)
    try:
        with session_factory(engine)() as session:
            keys = set(session.scalars(select(StoredKey.blob_id)))
            subs = session.scalars(select(Submission)).all()
            blobs = {s.blob_id for s in subs}
            on_disk = set(os.listdir(home.storage_dir))
            assert on_disk == {f"{k}.blob" for k in keys}, "orphan or temporary file, or a key without its file"
            assert blobs == keys, "a key row that belongs to no submission, or a submission without its key"
            assert all(s.state == "accepted" for s in subs)
            store = open_storage(home, session)
            sent = {up.acked_id: up.sha256 for up in uploads}
            for sub in subs:
                data = store.get(session, sub.blob_id or "")
                assert hashlib.sha256(data).hexdigest() == sub.sha256 == sent[sub.id]
    finally:
        engine.dispose()


def _orphans(home_dir: Path) -> int:
    """Files in storage with no key row (read with the server down)."""
    home = load_home(home_dir)
    engine = make_engine(home.db_url)
    try:
        with session_factory(engine)() as session:
            keys = {f"{k}.blob" for k in session.scalars(select(StoredKey.blob_id))}
    finally:
        engine.dispose()
    return len(set(os.listdir(home.storage_dir)) - keys)


def _crash_rounds(tmp_path: Path, *, rounds: int, per_round: int, in_flight: int, seed: int,
                  workers: int = 1) -> list[dict[str, int]]:
    """The rounds; returns per round: acknowledged before the kill, orphans left by it, re-sent uploads that
    the hub had stored already (200) and that it stored only now (201)."""
    rng = random.Random(seed)
    stats: list[dict[str, int]] = []
    home_dir = init_home(tmp_path / "home")
    hub = LiveHub(home_dir, workers=workers).start()
    try:
        acc = setup_study(hub.url)
        uploads: list[Upload] = []
        for r in range(rounds):
            batch = [Upload(f"crash-{r}-{i}", encoded_bytes(acc.study, acc.agency, 3, seed=1000 * r + i))
                     for i in range(per_round)]
            kill_after = rng.randint(1, max(1, per_round // 2))
            asyncio.run(_burst_and_kill(hub, acc, batch, in_flight=in_flight, kill_after=kill_after))
            assert all(s in ACK for up in batch for s in up.statuses), [up.statuses for up in batch]
            assert sum(up.acked_id is not None for up in batch) >= kill_after
            acked_before = sum(up.acked_id is not None for up in batch)
            orphans = _orphans(home_dir)
            _age_storage(load_home(home_dir).storage_dir, 120.0)
            hub.start()
            # every upload not acknowledged is sent again with its key (some of them were stored already:
            # their acknowledgement was lost); one acknowledged one too, which must answer with its id
            again = [up for up in batch if up.acked_id is None] + [next(u for u in batch if u.acked_id)]
            n_statuses = {id(up): len(up.statuses) for up in again}
            asyncio.run(_resend(hub.url, acc, again))
            uploads.extend(batch)
            _check(hub, home_dir, acc, uploads)
            late = [up.statuses[-1] for up in again[:-1] if len(up.statuses) > n_statuses[id(up)]]
            stats.append({"acked_before_kill": acked_before, "orphans_after_kill": orphans,
                          "resent_found": late.count(200), "resent_stored": late.count(201)})
    finally:
        hub.stop()
    print("kill -9 rounds:", stats)  # shown with -s
    return stats


def test_kill_9_during_uploads(tmp_path: Path) -> None:
    stats = _crash_rounds(tmp_path, rounds=2, per_round=12, in_flight=6, seed=16)
    assert all(s["resent_found"] + s["resent_stored"] == 12 - s["acked_before_kill"] for s in stats)


@pytest.mark.slow
def test_kill_9_during_uploads_many_rounds(tmp_path: Path) -> None:
    stats = _crash_rounds(tmp_path, rounds=8, per_round=40, in_flight=16, seed=1616, workers=2)
    assert all(s["resent_found"] + s["resent_stored"] == 40 - s["acked_before_kill"] for s in stats)
