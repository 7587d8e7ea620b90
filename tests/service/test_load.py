"""1,000 concurrent small uploads on loopback: every one acknowledged, stored exactly once (issue #16).

A real ``cifranegra hub serve --workers 2`` (SQLite, durable commits), one agency, 1,000 different
uploads (each its own Idempotency-Key), 64 in flight. A transport error (a keep-alive connection the
server closed just as the client reused it) is retried with the same key, as ``cifranegra hub submit``
does: the key makes the retry safe, and the test checks that no retry doubled anything. Latency is
measured by ``bench/bench_hub.py``, never asserted here (CI's cores are shared).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the hub's extra is not installed: pip install 'cifranegra[hub]'")

import httpx
from sqlalchemy import func, select

from cifranegra.service.config import load_home
from cifranegra.service.db import Submission, make_engine, session_factory
from service.encoded_factory import encoded_bytes
from service.live_hub import API, LiveHub, init_home, setup_study

UPLOADS = 1000
IN_FLIGHT = 64
RETRIES = 3


def _rows(home: Path) -> tuple[int, int]:
    engine = make_engine(load_home(home).db_url)
    try:
        with session_factory(engine)() as session:
            n = session.scalar(select(func.count()).select_from(Submission))
            keys = session.scalar(select(func.count(func.distinct(Submission.idempotency_key))))
            return int(n or 0), int(keys or 0)
    finally:
        engine.dispose()


async def _upload_all(url: str, study: str, token: str, files: list[bytes]) -> tuple[dict[int, str], int, list[str]]:
    ids: dict[int, str] = {}
    retried = 0
    refused: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(UPLOADS):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits) as client:

        async def worker() -> None:
            nonlocal retried
            while not queue.empty():
                i = queue.get_nowait()
                for attempt in range(RETRIES + 1):
                    try:
                        r = await client.post(
                            f"{API}/studies/{study}/submissions", content=files[i % len(files)],
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"load-{i}",
                                     "Content-Type": "application/vnd.apache.parquet"},
                        )
                    except httpx.TransportError:
                        if attempt == RETRIES:
                            raise
                        retried += 1
                        continue
                    if r.status_code in (200, 201):
                        ids[i] = r.json()["id"]
                    else:
                        refused.append(f"load-{i}: {r.status_code}")
                    break

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return ids, retried, refused


@pytest.mark.slow
def test_a_thousand_concurrent_uploads_are_each_stored_once(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")
    study = "loadstudy"
    files = [encoded_bytes(study, "Agency A", 5, seed=i) for i in range(50)]
    with LiveHub(home, workers=2) as hub:
        acc = setup_study(hub.url, study=study)
        ids, retried, refused = asyncio.run(_upload_all(hub.url, study, acc.submitter, files))
    assert refused == []
    assert len(ids) == UPLOADS  # every upload acknowledged
    assert len(set(ids.values())) == UPLOADS  # each its own submission
    assert _rows(home) == (UPLOADS, UPLOADS)  # stored exactly once: no retry doubled one
    print(f"{UPLOADS} uploads, {IN_FLIGHT} in flight: {retried} transport error(s) retried with the same key")
