"""Encryption at rest: every stored file has its own key; the master key only wraps those keys.

Layout. Each blob (a submitted file, a run's results, a release's tables) is one file
``STORAGE/<blob_id>.blob`` holding ``MAGIC || nonce (12 bytes) || AES-256-GCM ciphertext``, encrypted
with a fresh random 32-byte data key; the blob id is the associated data, so a file renamed to
another id does not open. The data key is wrapped (AES-256-GCM, blob id as associated data) by the
master key and kept in the database (table ``stored_keys``, with the plaintext's SHA-256 and size).
Without the master key neither the storage folder nor the database yields any content (the database
holds metadata only), and deleting a key row destroys its blob for good (crypto-shredding), even
where a copy of the file survives in a backup.

Crash safety. :meth:`Storage.put` writes the file to a temporary name, fsyncs it, renames it and
fsyncs the folder, and only then adds the key row to the caller's session; the caller commits. A
crash between the rename and the commit leaves a file with no key row — an orphan, unreadable by
anyone — which :meth:`Storage.sweep_orphans` (run when the hub starts) deletes once it is older
than a minute (younger files may belong to a commit still in flight in another worker).
:meth:`Storage.shred` deletes the key row and unlinks the file only after the session commits, so
a rolled-back withdrawal loses nothing; a crash after that commit leaves an orphan for the sweep.

The master key is 32 random bytes in a file readable by its owner only (``DIR/master.key``, or the
file named by ``$CIFRANEGRA_HUB_KEY_FILE``), as 64 hexadecimal characters (what :meth:`MasterKey.write`
writes, or ``openssl rand -hex 32``) or as the raw 32 bytes. Keep its backup apart from the
database's and the storage's: together they are the data. :func:`open_storage` (what the hub calls
at start) refuses a key file that is not the database's; :func:`rotate_master_key` replaces the key,
safely against a crash at any point, with the hub stopped.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cifranegra.errors import CifranegraError, InputError
from cifranegra.service.config import KEY_FILE_ENV
from cifranegra.service.db import Setting, StoredKey, make_engine, new_id, session_factory

__all__ = ["KEY_FILE_ENV", "BlobNotFoundError", "MasterKey", "Storage", "StorageError", "open_storage",
           "recover_rotation", "rotate_master_key"]

KEY_BYTES = 32
NONCE_BYTES = 12
MAX_BLOB_BYTES = 2**31 - 1
"""The largest blob (AES-GCM in one call); far above the hub's default upload limit (256 MiB)."""
ORPHAN_AGE_S = 60.0
"""A file with no key row is deleted by the sweep only when older than this (seconds)."""

MASTER_KEY_SETTING = "master_key_id"
"""``hub_settings`` key holding the id of the master key the database is wrapped with (set by rotation)."""

_MAGIC = b"CNHUB\x00\x01\x00"  # format of a blob file, version 1
_WRAP_AAD = b"cifranegra-hub-wrapped-key-v1:"
_BLOB_NAME = re.compile(r"^([0-9a-f]{32})\.blob$")
_TMP_PREFIX = ".tmp-"
_SWEEP_CHUNK = 500  # blob ids per query of the sweep
_PENDING_UNLINK = "cifranegra.storage.pending_unlink"
_FIX_KEY = (f"make one with `cifranegra hub init DIR` (it writes DIR/master.key), or point ${KEY_FILE_ENV} at "
            "the hub's key file")


class StorageError(CifranegraError):
    """A blob cannot be read: it is gone (shredded), missing on disk, or fails its integrity check."""


class BlobNotFoundError(StorageError):
    """The blob has no key row: withdrawn, expired by retention, or never stored. Its content is gone."""


# --- the master key ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every blob's key. ``key_id``: the first 16 hex digits of its SHA-256, stored
    beside each wrapped key so that a wrong or stale key file is named, not silently tried."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise InputError(f"a master key must be {KEY_BYTES} bytes")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.key).hexdigest()[:16]

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MasterKey:
        """Read the key file at ``path``; refuse a missing, unreadable, group- or world-readable file
        and one that does not hold exactly 32 bytes (raw, or as 64 hexadecimal characters)."""
        path = Path(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise InputError(f"master key file {path} does not exist: {_FIX_KEY}") from None
        except OSError as exc:
            raise InputError(f"master key file {path} cannot be read ({exc.strerror}): {_FIX_KEY}") from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"master key file {path} is not a regular file: {_FIX_KEY}")
        if st.st_mode & 0o077:
            raise InputError(f"master key file {path} can be read by other users (mode {stat.S_IMODE(st.st_mode):o}); "
                             f"allow its owner only: chmod 600 {path}")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"master key file {path} cannot be read ({exc.strerror}): {_FIX_KEY}") from None
        key = _parse_key(raw)
        if key is None:
            raise InputError(f"master key file {path} does not hold a {KEY_BYTES}-byte key (it has {len(raw)} bytes; "
                             f"expected {KEY_BYTES} raw bytes or {2 * KEY_BYTES} hexadecimal characters): restore the "
                             f"hub's key file from its backup, or make a new key with `openssl rand -hex {KEY_BYTES}`")
        return cls(key)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the key to a new file at ``path`` (mode 0600, as hexadecimal text, fsynced). An existing
        file is never overwritten: losing a master key loses every blob it wraps."""
        path = Path(path)
        _write_new_file(path, (self.key.hex() + "\n").encode("ascii"))
        return path

    def wrap(self, data_key: bytes, blob_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, data_key, _WRAP_AAD + blob_id.encode("ascii"))

    def unwrap(self, wrapped: bytes, blob_id: str) -> bytes:
        """The data key of ``blob_id``; :class:`StorageError` if this master key did not wrap it."""
        try:
            return AESGCM(self.key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                            _WRAP_AAD + blob_id.encode("ascii"))
        except (InvalidTag, ValueError):
            raise StorageError(f"the key of blob {blob_id} does not open with master key {self.key_id}: the "
                               "database row was altered, or it was wrapped by another key; restore the database "
                               "and the key file from the same backup") from None


def _parse_key(raw: bytes) -> bytes | None:
    if len(raw) == KEY_BYTES:
        return raw
    text = raw.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
    return None


# --- files ------------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600) with ``data`` and make it durable; refuse if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} exists already; it is never overwritten — choose another file name") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


def _write_atomic(path: Path, tmp: Path, *parts: bytes) -> None:
    """Write ``parts`` to ``tmp``, fsync, rename to ``path``, fsync the folder: ``path`` either holds all of
    them or does not exist, whenever the process dies (parts: no concatenated copy of a large blob)."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for part in parts:
            view = memoryview(part)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# --- the store --------------------------------------------------------------------------------------


class Storage:
    """Encrypted blobs in ``root``, their wrapped keys in the database (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str], master: MasterKey) -> None:
        self.root = Path(root)
        self.master = master
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", blob_id):
            raise BlobNotFoundError("a blob id is 32 hexadecimal characters; this one is not (no such blob)")
        return self.root / f"{blob_id}.blob"

    def put(self, session: Session, data: bytes) -> str:
        """Encrypt ``data`` under a new key into a new file and add its key row to ``session`` (the caller
        commits; until then the file is an orphan). Returns the new blob id."""
        if len(data) > MAX_BLOB_BYTES:
            raise StorageError(f"a stored file is at most {MAX_BLOB_BYTES:,} bytes (this one has {len(data):,}); "
                               "lower max_upload_bytes in hub.toml or split the list")
        blob_id = new_id()
        data_key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(data_key).encrypt(nonce, data, _MAGIC + blob_id.encode("ascii"))
        path = self.path(blob_id)
        _write_atomic(path, self.root / f"{_TMP_PREFIX}{blob_id}", _MAGIC + nonce, sealed)
        session.add(StoredKey(
            blob_id=blob_id,
            wrapped_key=self.master.wrap(data_key, blob_id),
            master_key_id=self.master.key_id,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        ))
        return blob_id

    def get(self, session: Session, blob_id: str) -> bytes:
        """The plaintext of ``blob_id``, checked against its SHA-256; :class:`StorageError` (with what to
        do) when it is shredded, missing, wrapped by another master key, or altered."""
        path = self.path(blob_id)
        row = session.get(StoredKey, blob_id)
        if row is None:
            raise BlobNotFoundError(f"blob {blob_id} has no key: it was withdrawn, expired or never stored, and "
                                    "its content cannot be recovered")
        if row.master_key_id != self.master.key_id:
            raise StorageError(f"blob {blob_id} is wrapped by master key {row.master_key_id}, but the hub loaded "
                               f"key {self.master.key_id}: start the hub with the key file this database belongs "
                               f"to (${KEY_FILE_ENV}), and restart every hub process after a key rotation (an "
                               "interrupted rotation is finished by running `cifranegra hub rotate-key` again with "
                               "the same new key file)")
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise StorageError(f"blob {blob_id} has a key but its file {path} is missing: restore the storage "
                               "folder from the backup taken with the database") from None
        data_key = self.master.unwrap(row.wrapped_key, blob_id)
        head = len(_MAGIC)
        if not sealed.startswith(_MAGIC) or len(sealed) < head + NONCE_BYTES + 16:
            raise StorageError(f"blob file {path} is not a hub blob or is truncated: restore it from the backup")
        try:
            view = memoryview(sealed)  # no copy of a large blob
            data = AESGCM(data_key).decrypt(view[head:head + NONCE_BYTES], view[head + NONCE_BYTES:],
                                            _MAGIC + blob_id.encode("ascii"))
        except InvalidTag:
            raise StorageError(f"blob file {path} fails its integrity check (it was altered or damaged): restore "
                               "it from the backup") from None
        if len(data) != row.size or hashlib.sha256(data).hexdigest() != row.sha256:
            raise StorageError(f"blob {blob_id} does not match the checksum recorded with its key: restore the "
                               "database and the storage folder from the same backup")
        return data

    def shred(self, session: Session, blob_id: str) -> bool:
        """Destroy ``blob_id``: delete its key row now, unlink its file once ``session`` commits (not at
        all if it rolls back). True if a key row was deleted; shredding twice is harmless. Do not call it
        inside a SAVEPOINT that may roll back alone."""
        path = self.path(blob_id)
        row = session.get(StoredKey, blob_id)
        if row is not None:
            session.delete(row)
            session.flush()
        _unlink_after_commit(session, path)
        return row is not None

    def sweep_orphans(self, session: Session, *, min_age: float = ORPHAN_AGE_S, now: float | None = None) -> int:
        """Delete blob files that have no key row and leftover temporary files, when older than
        ``min_age`` seconds. Returns how many files were deleted. Other files are left alone."""
        cutoff = (time.time() if now is None else now) - min_age
        candidates: dict[str, Path] = {}
        removed = 0
        for entry in os.scandir(self.root):
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                old = entry.stat(follow_symlinks=False).st_mtime <= cutoff
            except FileNotFoundError:
                continue
            if not old:
                continue
            match = _BLOB_NAME.match(entry.name)
            if match:
                candidates[match.group(1)] = Path(entry.path)
            elif entry.name.startswith(_TMP_PREFIX):
                removed += _unlink(Path(entry.path))
        ids = list(candidates)
        for start in range(0, len(ids), _SWEEP_CHUNK):
            chunk = ids[start:start + _SWEEP_CHUNK]
            kept = set(session.scalars(select(StoredKey.blob_id).where(StoredKey.blob_id.in_(chunk))))
            for blob_id in chunk:
                if blob_id not in kept:
                    removed += _unlink(candidates[blob_id])
        if removed:
            _fsync_dir(self.root)
        return removed

    def blob_ids_on_disk(self) -> set[str]:
        """The ids of every blob file in the folder (for checks and tests)."""
        return {m.group(1) for name in os.listdir(self.root) if (m := _BLOB_NAME.match(name))}


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _unlink_after_commit(session: Session, path: Path) -> None:
    pending: list[Path] | None = session.info.get(_PENDING_UNLINK)
    if pending is None:
        pending = session.info[_PENDING_UNLINK] = []
        event.listen(session, "after_commit", _unlink_pending)
        event.listen(session, "after_rollback", _forget_pending)
    pending.append(path)


def _unlink_pending(session: Session) -> None:
    pending: list[Path] = session.info.get(_PENDING_UNLINK, [])
    for path in pending:
        _unlink(path)
    pending.clear()


def _forget_pending(session: Session) -> None:
    session.info.get(_PENDING_UNLINK, []).clear()


# --- opening and rotating ---------------------------------------------------------------------------


class HomeLike(Protocol):
    """What this module needs of a hub home (:class:`cifranegra.service.config.HubHome`)."""

    @property
    def db_url(self) -> str: ...
    @property
    def storage_dir(self) -> Path: ...
    @property
    def master_key_path(self) -> Path: ...


def _rotating_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".rotating")


def _recorded_key_ids(session: Session) -> set[str]:
    ids = set(session.scalars(select(StoredKey.master_key_id).distinct()))
    setting = session.get(Setting, MASTER_KEY_SETTING)
    if setting is not None:
        ids.add(setting.value)
    return ids


def recover_rotation(home: HomeLike, session: Session) -> str | None:
    """Finish or undo a key rotation that a crash interrupted (see :func:`rotate_master_key`).

    A leftover ``KEYFILE.rotating`` whose key the database already records (the rewrap committed) is
    renamed over the key file; otherwise the rewrap never committed and the leftover is deleted.
    Returns ``"completed"``, ``"discarded"`` or None (nothing to do)."""
    key_path = Path(home.master_key_path)
    tmp = _rotating_path(key_path)
    if not tmp.exists():
        return None
    try:
        pending = MasterKey.load(tmp)
    except InputError:
        pending = None  # written partly: the rewrap starts only after this file is complete and durable
    setting = session.get(Setting, MASTER_KEY_SETTING)
    if pending is not None and setting is not None and setting.value == pending.key_id:
        os.replace(tmp, key_path)
        _fsync_dir(key_path.parent)
        return "completed"
    tmp.unlink()
    _fsync_dir(key_path.parent)
    return "discarded"


def open_storage(home: HomeLike, session: Session) -> Storage:
    """The hub's store: recover an interrupted rotation, load the master key, and check that it is the
    key the database was wrapped with (a wrong key file is refused at start, not at the first read)."""
    recover_rotation(home, session)
    master = MasterKey.load(home.master_key_path)
    others = sorted(_recorded_key_ids(session) - {master.key_id})
    if others:
        raise InputError(f"master key file {home.master_key_path} holds key {master.key_id}, but the database's "
                         f"blobs are wrapped by {', '.join(others)}: give the hub the key file this database "
                         f"belongs to (${KEY_FILE_ENV} or DIR/master.key), restored from its backup")
    return Storage(home.storage_dir, master)


def rotate_master_key(home: HomeLike, new_key_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Rewrap every blob key with a new master key and make it the hub's key file. Stop the hub first
    (running workers hold the old key in memory).

    ``new_key_path``: the new key (made with ``openssl rand -hex 32`` and ``chmod 600``); if the file does
    not exist a new random key is written there (0600) — keep it as the key's backup, apart.

    The plan, safe wherever a crash interrupts it:

    1. the new key is written to ``KEYFILE.rotating`` (0600, fsynced) — the old key file is untouched;
    2. one database transaction rewraps every ``stored_keys`` row and records the new key id in
       ``hub_settings`` (all rows or none);
    3. ``KEYFILE.rotating`` is renamed over ``KEYFILE`` (atomic) and the folder fsynced.

    Crash before 2 commits: the database and the key file are still the old pair; the leftover
    ``.rotating`` is deleted by :func:`recover_rotation` (called by :func:`open_storage` when the hub
    starts and by this function). Crash after 2, before 3: the database records the new key id, so
    recovery completes the rename — at the hub's next start, or by running the same command again.
    Rows already wrapped by the new key are left as they are.

    Returns ``{"old_key_id", "new_key_id", "rewrapped", "recovered"}`` (``recovered``: what was done
    with a leftover of an interrupted rotation, or None).
    """
    key_path = Path(home.master_key_path)
    new_path = Path(new_key_path)
    if new_path.resolve() == key_path.resolve():
        raise InputError(f"--new-key-file {new_path} is the hub's current key file: give a new file")
    engine = make_engine(home.db_url)
    factory = session_factory(engine)
    try:
        with factory() as session, session.begin():
            recovered = recover_rotation(home, session)
        old = MasterKey.load(key_path)
        if not new_path.exists():
            MasterKey.generate().write(new_path)
        new = MasterKey.load(new_path)
        if new.key_id == old.key_id:
            if recovered == "completed":  # this very rotation had been interrupted after its commit
                return {"old_key_id": None, "new_key_id": new.key_id, "rewrapped": 0, "recovered": recovered}
            raise InputError(f"{new_path} holds the hub's current master key: a rotation needs a new key")
        with factory() as session:
            unknown = sorted(_recorded_key_ids(session) - {old.key_id, new.key_id})
        if unknown:
            raise InputError(f"some blobs are wrapped by master key(s) {', '.join(unknown)}, neither the current "
                             f"key file {key_path} ({old.key_id}) nor the new one: nothing was changed; restore "
                             "the database and its key file from the same backup")
        tmp = _rotating_path(key_path)
        _write_new_file(tmp, (new.key.hex() + "\n").encode("ascii"))
        try:
            with factory() as session, session.begin():
                rewrapped = _rewrap(session.scalars(select(StoredKey)).all(), old, new)
                session.merge(Setting(key=MASTER_KEY_SETTING, value=new.key_id))
        except BaseException:
            with factory() as session:  # rolled back (or, rarely, committed): settle the leftover either way
                recover_rotation(home, session)
            raise
        os.replace(tmp, key_path)
        _fsync_dir(key_path.parent)
    finally:
        engine.dispose()
    return {"old_key_id": old.key_id, "new_key_id": new.key_id, "rewrapped": rewrapped, "recovered": recovered}


def _rewrap(rows: Iterable[StoredKey], old: MasterKey, new: MasterKey) -> int:
    count = 0
    for row in rows:
        if row.master_key_id == new.key_id:
            continue
        row.wrapped_key = new.wrap(old.unwrap(row.wrapped_key, row.blob_id), row.blob_id)
        row.master_key_id = new.key_id
        count += 1
    return count
