"""Encryption at rest (service/storage.py) and retention (service/retention.py), on a tmp SQLite hub."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cifranegra.errors import InputError
from cifranegra.service import storage as storage_mod
from cifranegra.service.db import (
    Agency,
    Base,
    Setting,
    StoredKey,
    Study,
    Submission,
    User,
    make_engine,
    session_factory,
    utcnow,
)
from cifranegra.service.retention import apply_retention
from cifranegra.service.storage import (
    KEY_FILE_ENV,
    BlobNotFoundError,
    MasterKey,
    Storage,
    StorageError,
    open_storage,
    recover_rotation,
    rotate_master_key,
)

SECRET_TEXT = b"MARTINEZ LOPEZ GUADALUPE MALG900101MDFRPD09 " * 40


@dataclass(frozen=True)
class Home:
    path: Path
    db_url: str
    storage_dir: Path
    master_key_path: Path


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "storage", tmp_path / "master.key")
    engine = make_engine(h.db_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    MasterKey.generate().write(h.master_key_path)
    return h


@pytest.fixture
def factory(home: Home) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(home.db_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def store(home: Home) -> Storage:
    return Storage(home.storage_dir, MasterKey.load(home.master_key_path))


def put_committed(store: Storage, factory: sessionmaker[Session], data: bytes) -> str:
    with factory() as session, session.begin():
        return store.put(session, data)


def n_keys(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(StoredKey)) or 0


def blob_files(store: Storage) -> list[str]:
    return sorted(os.listdir(store.root))


# --- round trip, keys, confidentiality ------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"x", SECRET_TEXT, os.urandom(1 << 20)])
def test_round_trip(store: Storage, factory: sessionmaker[Session], data: bytes) -> None:
    blob_id = put_committed(store, factory, data)
    with factory() as session:
        assert store.get(session, blob_id) == data
        row = session.get(StoredKey, blob_id)
        assert row is not None
        assert row.size == len(data)
        assert row.master_key_id == store.master.key_id
    assert blob_files(store) == [f"{blob_id}.blob"]
    assert oct(store.path(blob_id).stat().st_mode & 0o777) == oct(0o600)


def test_each_blob_has_its_own_key_and_nonce(store: Storage, factory: sessionmaker[Session]) -> None:
    ids = [put_committed(store, factory, SECRET_TEXT) for _ in range(3)]
    assert len(set(ids)) == 3
    files = [store.path(i).read_bytes() for i in ids]
    head = len(storage_mod._MAGIC)
    nonces = {f[head:head + storage_mod.NONCE_BYTES] for f in files}
    bodies = {f[head + storage_mod.NONCE_BYTES:] for f in files}
    assert len(nonces) == 3
    assert len(bodies) == 3
    with factory() as session:
        rows = [session.get(StoredKey, i) for i in ids]
        keys = {store.master.unwrap(r.wrapped_key, r.blob_id) for r in rows if r is not None}
        wrapped = {r.wrapped_key for r in rows if r is not None}
    assert len(keys) == 3
    assert len(wrapped) == 3
    assert all(len(k) == 32 for k in keys)


def test_no_plaintext_on_disk_or_in_database(home: Home, store: Storage, factory: sessionmaker[Session]) -> None:
    marker = b"MALG900101MDFRPD09"
    blob_id = put_committed(store, factory, SECRET_TEXT)
    assert marker not in store.path(blob_id).read_bytes()
    for name in os.listdir(home.path):
        path = home.path / name
        if path.is_file():
            assert marker not in path.read_bytes(), name
    data_key = None
    with factory() as session:
        row = session.get(StoredKey, blob_id)
        assert row is not None
        data_key = store.master.unwrap(row.wrapped_key, blob_id)
    # the data key itself is not in the database in clear
    for name in os.listdir(home.path):
        path = home.path / name
        if path.is_file():
            assert data_key not in path.read_bytes(), name


# --- integrity ------------------------------------------------------------------------------------


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("offset", [0, len(storage_mod._MAGIC) + 1, -1, 40])
def test_tampered_file_is_a_clear_error(store: Storage, factory: sessionmaker[Session], offset: int) -> None:
    blob_id = put_committed(store, factory, SECRET_TEXT)
    path = store.path(blob_id)
    _flip(path, offset if offset >= 0 else path.stat().st_size + offset)
    with factory() as session, pytest.raises(StorageError) as info:
        store.get(session, blob_id)
    message = str(info.value)
    assert str(path) in message
    assert "restore" in message
    assert "MARTINEZ" not in message


def test_truncated_missing_and_swapped_files(store: Storage, factory: sessionmaker[Session]) -> None:
    a = put_committed(store, factory, b"first " * 10)
    b = put_committed(store, factory, b"second " * 10)
    pa, pb = store.path(a), store.path(b)
    raw_a, raw_b = pa.read_bytes(), pb.read_bytes()
    pa.write_bytes(raw_b)  # b's file under a's name: the blob id is bound to the ciphertext
    with factory() as session, pytest.raises(StorageError, match="integrity"):
        store.get(session, a)
    pa.write_bytes(raw_a[:10])
    with factory() as session, pytest.raises(StorageError, match="truncated"):
        store.get(session, a)
    pb.unlink()
    with factory() as session, pytest.raises(StorageError, match="missing"):
        store.get(session, b)


def test_tampered_wrapped_key_or_checksum(store: Storage, factory: sessionmaker[Session]) -> None:
    a = put_committed(store, factory, b"alpha" * 10)
    b = put_committed(store, factory, b"beta" * 10)
    with factory() as session, session.begin():
        ra, rb = session.get(StoredKey, a), session.get(StoredKey, b)
        assert ra is not None and rb is not None
        ra.wrapped_key, rb.sha256 = rb.wrapped_key, "0" * 64  # a's row holds b's wrapped key
    with factory() as session:
        with pytest.raises(StorageError, match="does not open with master key"):
            store.get(session, a)
        with pytest.raises(StorageError, match="checksum"):
            store.get(session, b)


def test_too_large_blob_refused_before_anything_is_written(store: Storage, factory: sessionmaker[Session],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_mod, "MAX_BLOB_BYTES", 10)
    with factory() as session, session.begin(), pytest.raises(StorageError, match="max_upload_bytes"):
        store.put(session, b"x" * 11)
    assert blob_files(store) == []
    assert n_keys(factory) == 0


def test_bad_blob_id_is_not_found(store: Storage, factory: sessionmaker[Session]) -> None:
    with factory() as session:
        for bad in ("../../etc/passwd", "0" * 32, "ABC", ""):
            with pytest.raises(BlobNotFoundError):
                store.get(session, bad)


# --- shredding -----------------------------------------------------------------------------------


def test_shred_removes_key_and_file(store: Storage, factory: sessionmaker[Session]) -> None:
    keep = put_committed(store, factory, b"keep me")
    gone = put_committed(store, factory, SECRET_TEXT)
    with factory() as session, session.begin():
        assert store.shred(session, gone) is True
    assert n_keys(factory) == 1
    assert blob_files(store) == [f"{keep}.blob"]
    with factory() as session:
        assert session.get(StoredKey, gone) is None
        with pytest.raises(BlobNotFoundError, match="withdrawn, expired or never stored"):
            store.get(session, gone)
        assert store.get(session, keep) == b"keep me"
    with factory() as session, session.begin():
        assert store.shred(session, gone) is False  # twice: harmless


def test_shred_rolled_back_keeps_everything(store: Storage, factory: sessionmaker[Session]) -> None:
    blob_id = put_committed(store, factory, SECRET_TEXT)
    with factory() as session:
        store.shred(session, blob_id)
        session.rollback()
        session.commit()  # a later commit of the same session must not unlink the file either
    assert n_keys(factory) == 1
    with factory() as session:
        assert store.get(session, blob_id) == SECRET_TEXT


# --- the master key file --------------------------------------------------------------------------


def test_key_file_written_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k"
    key = MasterKey.generate()
    key.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert MasterKey.load(path) == key
    assert len(key.key_id) == 16
    with pytest.raises(InputError, match="never overwritten"):
        MasterKey.generate().write(path)
    assert MasterKey.load(path) == key
    assert key.key.hex() not in repr(key)


def test_key_file_raw_bytes_accepted(tmp_path: Path) -> None:
    path = tmp_path / "raw.key"
    raw = os.urandom(32)
    path.write_bytes(raw)
    path.chmod(0o600)
    assert MasterKey.load(path).key == raw
    path.chmod(0o400)
    assert MasterKey.load(path).key == raw


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660], ids=oct)
def test_key_file_readable_by_others_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    MasterKey.generate().write(path)
    path.chmod(mode)
    with pytest.raises(InputError) as info:
        MasterKey.load(path)
    assert str(path) in str(info.value)
    assert f"chmod 600 {path}" in str(info.value)


@pytest.mark.parametrize("content", [b"", b"short", os.urandom(31), os.urandom(33), b"zz" * 32 + b"\n"])
def test_key_file_wrong_length_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(InputError) as info:
        MasterKey.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "32-byte key" in message
    assert "openssl rand -hex 32" in message


def test_key_file_missing_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        MasterKey.load(tmp_path / "nope.key")
    assert str(tmp_path / "nope.key") in str(info.value)
    assert "does not exist" in str(info.value)
    assert "cifranegra hub init" in str(info.value)
    assert KEY_FILE_ENV in str(info.value)
    folder = tmp_path / "dir.key"
    folder.mkdir(mode=0o700)
    with pytest.raises(InputError, match="not a regular file"):
        MasterKey.load(folder)


def test_key_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``$CIFRANEGRA_HUB_KEY_FILE``: the key lives outside the home (so backups of the home never hold it)."""
    from cifranegra.service.config import init_home, load_home

    elsewhere = tmp_path / "secrets" / "hub.key"
    monkeypatch.setenv(KEY_FILE_ENV, str(elsewhere))
    home = init_home(tmp_path / "hub", admin_user="admin", admin_password="a long password")
    assert home.master_key_path == elsewhere
    assert elsewhere.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "hub" / "master.key").exists()
    with session_factory(make_engine(home.db_url))() as session, session.begin():
        store = open_storage(home, session)
        blob_id = store.put(session, SECRET_TEXT)
    assert store.master == MasterKey.load(elsewhere)
    assert load_home(tmp_path / "hub").master_key_path == elsewhere
    monkeypatch.delenv(KEY_FILE_ENV)
    assert load_home(tmp_path / "hub").master_key_path == elsewhere  # remembered in hub.toml
    moved = tmp_path / "moved.key"
    elsewhere.rename(moved)
    monkeypatch.setenv(KEY_FILE_ENV, str(moved))
    with session_factory(make_engine(home.db_url))() as session:
        assert open_storage(load_home(tmp_path / "hub"), session).get(session, blob_id) == SECRET_TEXT
    monkeypatch.setenv(KEY_FILE_ENV, str(elsewhere))  # gone: the error names the file and the variable
    with session_factory(make_engine(home.db_url))() as session, pytest.raises(InputError) as info:
        open_storage(load_home(tmp_path / "hub"), session)
    assert str(elsewhere) in str(info.value)
    assert KEY_FILE_ENV in str(info.value)


def test_cli_rotate_key_and_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """``cifranegra hub rotate-key`` and ``hub retention`` end to end on a real home."""
    from cifranegra.cli import main
    from cifranegra.service.config import init_home

    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    home = init_home(tmp_path / "hub", admin_user="admin", admin_password="a long password")
    engine = make_engine(home.db_url)
    factory = session_factory(engine)
    old = MasterKey.load(home.master_key_path)
    with factory() as session, session.begin():
        store = open_storage(home, session)
        session.add(Agency(id=1, name="A"))
        session.add(Study(id=1, name="s", created_by=1))
        session.flush()
        old_sub = _submission(session, store, utcnow() - dt.timedelta(days=40), 1)
        new_sub = _submission(session, store, utcnow(), 2)
        old_blob, new_blob = old_sub.blob_id, new_sub.blob_id
    assert main(["hub", "rotate-key", str(home.path), "--new-key-file", str(tmp_path / "new.key")]) == 0
    out = capsys.readouterr().out
    new = MasterKey.load(tmp_path / "new.key")
    assert new.key.hex() not in out and old.key.hex() not in out
    assert MasterKey.load(home.master_key_path) == new
    assert main(["hub", "retention", str(home.path), "--days", "30"]) == 0
    assert "1 submission(s)" in capsys.readouterr().out
    with factory() as session:
        store = open_storage(home, session)
        assert store.master == new
        assert store.get(session, new_blob or "") == b"sub2"
        with pytest.raises(BlobNotFoundError):
            store.get(session, old_blob or "")
    assert store.blob_ids_on_disk() == {new_blob}
    assert main(["hub", "rotate-key", str(home.path), "--new-key-file", str(home.master_key_path)]) == 2
    assert "current key file" in capsys.readouterr().err
    engine.dispose()


def test_open_storage_refuses_the_wrong_key(home: Home, store: Storage, factory: sessionmaker[Session]) -> None:
    put_committed(store, factory, b"data")
    other = home.path / "other.key"
    MasterKey.generate().write(other)
    wrong = Home(home.path, home.db_url, home.storage_dir, other)
    with factory() as session, pytest.raises(InputError) as info:
        open_storage(wrong, session)
    assert str(other) in str(info.value)
    assert store.master.key_id in str(info.value)
    with factory() as session:
        assert open_storage(home, session).master == store.master
    wrong_store = Storage(home.storage_dir, MasterKey.load(other))
    with factory() as session, pytest.raises(StorageError, match="wrapped by master key"):
        wrong_store.get(session, session.scalars(select(StoredKey.blob_id)).one())


# --- rotation ------------------------------------------------------------------------------------


def _all_data(store: Storage, factory: sessionmaker[Session]) -> dict[str, bytes]:
    with factory() as session:
        return {i: store.get(session, i) for i in session.scalars(select(StoredKey.blob_id))}


def test_rotation_rewraps_every_key(home: Home, store: Storage, factory: sessionmaker[Session]) -> None:
    before = {put_committed(store, factory, f"blob {i}".encode() * 5): f"blob {i}".encode() * 5 for i in range(5)}
    old = store.master
    new_path = home.path / "new.key"
    report = rotate_master_key(home, new_path)
    new = MasterKey.load(new_path)
    assert report == {"old_key_id": old.key_id, "new_key_id": new.key_id, "rewrapped": 5, "recovered": None}
    assert new_path.stat().st_mode & 0o777 == 0o600
    assert MasterKey.load(home.master_key_path) == new
    assert not (home.path / "master.key.rotating").exists()
    with factory() as session:
        rows = session.scalars(select(StoredKey)).all()
        assert {r.master_key_id for r in rows} == {new.key_id}
        for row in rows:
            with pytest.raises(StorageError):
                old.unwrap(row.wrapped_key, row.blob_id)
            assert len(new.unwrap(row.wrapped_key, row.blob_id)) == 32
        setting = session.get(Setting, storage_mod.MASTER_KEY_SETTING)
        assert setting is not None and setting.value == new.key_id
        rotated = open_storage(home, session)
    assert rotated.master == new
    assert _all_data(rotated, factory) == before
    # the old key file, restored by mistake, is refused at start
    old_file = home.path / "old.key"
    old_file.write_bytes(old.key)
    old_file.chmod(0o600)
    with factory() as session, pytest.raises(InputError, match="wrapped by"):
        open_storage(Home(home.path, home.db_url, home.storage_dir, old_file), session)


def test_rotation_with_an_operator_key_and_refusals(home: Home, store: Storage,
                                                    factory: sessionmaker[Session]) -> None:
    put_committed(store, factory, b"x")
    with pytest.raises(InputError, match="current key file"):
        rotate_master_key(home, home.master_key_path)
    same = home.path / "same.key"
    store.master.write(same)
    with pytest.raises(InputError, match="current master key"):
        rotate_master_key(home, same)
    lax = home.path / "lax.key"
    MasterKey.generate().write(lax)
    lax.chmod(0o644)
    with pytest.raises(InputError, match="chmod 600"):
        rotate_master_key(home, lax)
    assert MasterKey.load(home.master_key_path) == store.master
    lax.chmod(0o600)
    assert rotate_master_key(home, lax)["rewrapped"] == 1
    assert MasterKey.load(home.master_key_path) == MasterKey.load(lax)


def test_rotation_failing_in_the_transaction_changes_nothing(home: Home, store: Storage,
                                                             factory: sessionmaker[Session]) -> None:
    ids = [put_committed(store, factory, b"y" * 10) for _ in range(3)]
    with factory() as session, session.begin():
        row = session.get(StoredKey, ids[2])
        assert row is not None
        row.wrapped_key = bytes([row.wrapped_key[0] ^ 1]) + row.wrapped_key[1:]
    with pytest.raises(StorageError):
        rotate_master_key(home, home.path / "new.key")
    assert MasterKey.load(home.master_key_path) == store.master
    assert not (home.path / "master.key.rotating").exists()
    with factory() as session:
        assert {r.master_key_id for r in session.scalars(select(StoredKey))} == {store.master.key_id}
        assert session.get(Setting, storage_mod.MASTER_KEY_SETTING) is None
        assert store.get(session, ids[0]) == b"y" * 10


def test_rotation_interrupted_before_commit(home: Home, store: Storage, factory: sessionmaker[Session]) -> None:
    blob_id = put_committed(store, factory, b"z" * 10)
    leftover = home.path / "master.key.rotating"
    MasterKey.generate().write(leftover)  # crash after step 1
    with factory() as session, session.begin():
        reopened = open_storage(home, session)
    assert not leftover.exists()
    assert reopened.master == store.master
    with factory() as session:
        assert reopened.get(session, blob_id) == b"z" * 10
    leftover.write_bytes(b"0123")  # crash while writing step 1
    leftover.chmod(0o600)
    with factory() as session:
        assert recover_rotation(home, session) == "discarded"
        assert recover_rotation(home, session) is None
    assert not leftover.exists()


def test_rotation_interrupted_before_rename(home: Home, store: Storage, factory: sessionmaker[Session],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = {put_committed(store, factory, f"r{i}".encode()): f"r{i}".encode() for i in range(4)}
    real_replace = os.replace

    def crash_at_key_rename(src: object, dst: object) -> None:
        if Path(str(dst)) == home.master_key_path:
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_mod.os, "replace", crash_at_key_rename)
    with pytest.raises(KeyboardInterrupt):
        rotate_master_key(home, home.path / "new.key")
    monkeypatch.setattr(storage_mod.os, "replace", real_replace)
    new = MasterKey.load(home.path / "new.key")
    assert MasterKey.load(home.master_key_path) == store.master  # the old file is still in place
    assert (home.path / "master.key.rotating").exists()
    with factory() as session:
        reopened = open_storage(home, session)  # what `hub serve` does at start
    assert reopened.master == new
    assert MasterKey.load(home.master_key_path) == new
    assert not (home.path / "master.key.rotating").exists()
    assert _all_data(reopened, factory) == data
    # the same rotation again is harmless
    with pytest.raises(InputError, match="current master key"):
        rotate_master_key(home, home.path / "new.key")


def test_interrupted_rotation_finished_by_running_it_again(home: Home, store: Storage,
                                                           factory: sessionmaker[Session],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blob_id = put_committed(store, factory, b"again")
    real_replace = os.replace

    def crash_at_key_rename(src: object, dst: object) -> None:
        if Path(str(dst)) == home.master_key_path:
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(storage_mod.os, "replace", crash_at_key_rename)
    with pytest.raises(KeyboardInterrupt):
        rotate_master_key(home, home.path / "new.key")
    monkeypatch.setattr(storage_mod.os, "replace", real_replace)
    with factory() as session, pytest.raises(StorageError, match="rotate-key"):
        store.get(session, blob_id)  # a process still holding the old key says what to do
    new = MasterKey.load(home.path / "new.key")
    assert rotate_master_key(home, home.path / "new.key") == {
        "old_key_id": None, "new_key_id": new.key_id, "rewrapped": 0, "recovered": "completed"}
    assert MasterKey.load(home.master_key_path) == new
    with factory() as session:
        assert Storage(home.storage_dir, new).get(session, blob_id) == b"again"


# --- orphans -------------------------------------------------------------------------------------


def test_sweep_orphans(store: Storage, factory: sessionmaker[Session]) -> None:
    kept = put_committed(store, factory, b"kept")
    with factory() as session:
        orphan = store.put(session, b"never committed")
        session.rollback()
    (store.root / ".tmp-deadbeef").write_bytes(b"half")
    (store.root / "README").write_bytes(b"not ours")
    assert len(blob_files(store)) == 4
    with factory() as session:
        assert store.sweep_orphans(session) == 0  # all younger than a minute: maybe a commit in flight
        assert store.sweep_orphans(session, now=time.time() + 61) == 2
    assert blob_files(store) == sorted([f"{kept}.blob", "README"])
    assert orphan not in store.blob_ids_on_disk()
    with factory() as session:
        assert store.get(session, kept) == b"kept"
        assert store.sweep_orphans(session, min_age=0) == 0


def test_sweep_many_orphans_in_chunks(store: Storage, factory: sessionmaker[Session],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_mod, "_SWEEP_CHUNK", 4)
    kept = {put_committed(store, factory, b"k") for _ in range(5)}
    with factory() as session:
        for _ in range(15):
            store.put(session, b"o")
        session.rollback()
    with factory() as session:
        assert store.sweep_orphans(session, min_age=0) == 15
    assert store.blob_ids_on_disk() == kept


# --- retention ------------------------------------------------------------------------------------


def _submission(session: Session, store: Storage, created: dt.datetime, n: int) -> Submission:
    sub = Submission(study_id=1, agency_id=1, submitted_by=1, idempotency_key=f"k{n}", source="A",
                     sha256="0" * 64, size=4, n_records=1, created_at=created,
                     blob_id=store.put(session, f"sub{n}".encode()))
    session.add(sub)
    return sub


def test_retention_shreds_old_submissions(store: Storage, factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with factory() as session, session.begin():
        session.add(Agency(id=1, name="A"))
        session.add(User(id=1, username="u", password_hash="x", role="coordinator"))
        session.flush()
        session.add(Study(id=1, name="s", created_by=1))
        session.flush()
        old = _submission(session, store, now - dt.timedelta(days=31), 1)
        young = _submission(session, store, now - dt.timedelta(days=29), 2)
        gone = _submission(session, store, now - dt.timedelta(days=90), 3)
        gone.state = "withdrawn"
        store.shred(session, gone.blob_id or "")
        gone.blob_id = None
        old_id, old_blob, young_id, young_blob = old.id, old.blob_id, young.id, young.blob_id
    with factory() as session, session.begin(), pytest.raises(InputError, match="--days"):
        apply_retention(session, store, 0)
    with factory() as session, session.begin():
        assert apply_retention(session, store, 30, now=now) == 1
    assert store.blob_ids_on_disk() == {young_blob}
    assert n_keys(factory) == 1
    with factory() as session:
        o, y = session.get(Submission, old_id), session.get(Submission, young_id)
        assert o is not None and y is not None
        assert (o.state, o.blob_id, o.withdrawn_at is not None) == ("withdrawn", None, True)
        assert (y.state, y.blob_id) == ("accepted", young_blob)
        assert store.get(session, young_blob or "") == b"sub2"
        with pytest.raises(BlobNotFoundError):
            store.get(session, old_blob or "")
    with factory() as session, session.begin():
        assert apply_retention(session, store, 30, now=now) == 0


# --- the same on PostgreSQL ------------------------------------------------------------------------


def test_storage_rotation_and_retention_on_postgresql(tmp_path: Path, fresh_postgres_url: str) -> None:
    """Round trip, shred after commit, sweep, rotation and retention on a real PostgreSQL server
    (``fresh_postgres_url``: tests/service/conftest.py starts one)."""
    home = Home(tmp_path, fresh_postgres_url, tmp_path / "storage", tmp_path / "master.key")
    engine = make_engine(home.db_url)
    Base.metadata.create_all(engine)
    MasterKey.generate().write(home.master_key_path)
    factory = session_factory(engine)
    try:
        with factory() as session, session.begin():
            store = open_storage(home, session)
            session.add(Agency(id=1, name="A"))
            session.add(User(id=1, username="u", password_hash="x", role="coordinator"))
            session.flush()
            session.add(Study(id=1, name="s", created_by=1))
            session.flush()
            old = _submission(session, store, utcnow() - dt.timedelta(days=10), 1)
            young = _submission(session, store, utcnow(), 2)
            old_blob, young_blob = old.blob_id or "", young.blob_id or ""
            gone = store.put(session, SECRET_TEXT)
        with factory() as session, session.begin():
            assert store.get(session, gone) == SECRET_TEXT
            store.shred(session, gone)
        with factory() as session:
            orphan = store.put(session, b"orphan")
            session.rollback()
            assert store.sweep_orphans(session, min_age=0) == 1
        assert store.blob_ids_on_disk() == {old_blob, young_blob}
        assert orphan not in store.blob_ids_on_disk()
        report = rotate_master_key(home, tmp_path / "new.key")
        assert report["rewrapped"] == 2
        with factory() as session, session.begin():
            rotated = open_storage(home, session)
            assert rotated.master == MasterKey.load(tmp_path / "new.key")
            assert apply_retention(session, rotated, 5) == 1
        with factory() as session:
            assert rotated.get(session, young_blob) == b"sub2"
            with pytest.raises(BlobNotFoundError):
                rotated.get(session, old_blob)
        assert rotated.blob_ids_on_disk() == {young_blob}
    finally:
        engine.dispose()
