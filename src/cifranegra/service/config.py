"""The hub's home folder: where its database, encrypted storage, master key and settings live.

Layout of a home ``DIR`` (made by :func:`init_home`, read by :func:`load_home`):

- ``DIR/hub.toml`` — settings (0600): ``db_url`` (only when not the default SQLite file),
  ``max_upload_bytes``, ``token_ttl_seconds``, ``master_key_file`` (only when the key lives elsewhere);
- ``DIR/hub.db`` — the SQLite database (the default back end);
- ``DIR/storage/`` (0700) — encrypted blobs, unreadable without the master key;
- ``DIR/master.key`` (0600) — the master key; or the file named by ``$CIFRANEGRA_HUB_KEY_FILE`` (so
  that backups of the home never carry the key, which is kept apart).

Decisions: the default database URL is not written into ``hub.toml`` but derived from the folder, so
a home can be moved or restored elsewhere; a ``--db`` URL given to ``init`` is written (it may hold a
password: hence 0600); one given to ``serve`` overrides it for that process. Secrets are never taken
from command-line arguments: the admin password comes from a file, the key from a file.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cifranegra.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEY_FILE_ENV = "CIFRANEGRA_HUB_KEY_FILE"
SETTINGS_FILE = "hub.toml"
DB_FILE = "hub.db"
STORAGE_DIR = "storage"
KEY_FILE = "master.key"
DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024
DEFAULT_TOKEN_TTL = dt.timedelta(hours=12)
MASTER_KEY_BYTES = 32


@dataclass(frozen=True)
class HubHome:
    """Where one hub keeps everything, and its settings."""

    path: Path
    db_url: str
    storage_dir: Path
    master_key_path: Path
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    token_ttl: dt.timedelta = DEFAULT_TOKEN_TTL


def default_db_url(path: Path) -> str:
    return f"sqlite:///{(path / DB_FILE).resolve()}"


def _key_path(path: Path, key_file: str | os.PathLike[str] | None, settings: dict[str, Any]) -> Path:
    """The master key's file: ``key_file``, else ``$CIFRANEGRA_HUB_KEY_FILE``, else hub.toml's, else DIR/master.key."""
    chosen = key_file or os.environ.get(KEY_FILE_ENV) or settings.get("master_key_file")
    return Path(chosen).expanduser().resolve() if chosen else path / KEY_FILE


DB_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")


def check_db_url(url: str) -> str:
    """``url`` if the hub can use it (SQLite or PostgreSQL); never echoed, as it may hold a password."""
    if not isinstance(url, str) or not url.startswith(DB_SCHEMES):
        raise InputError("the database URL must start with sqlite:/// (a file) or postgresql:// "
                         "(e.g. postgresql://USER@/DBNAME?host=/run/postgresql); put a password in ~/.pgpass "
                         "or the URL in hub.toml, never on the command line")
    return url


def load_home(path: str | os.PathLike[str], db_url: str | None = None) -> HubHome:
    """The hub home at ``path`` (made by ``cifranegra hub init``); ``db_url`` overrides hub.toml's."""
    home = Path(path).expanduser().resolve()
    settings_file = home / SETTINGS_FILE
    if not settings_file.is_file():
        raise InputError(
            f"{str(home)!r} is not a hub home (no {SETTINGS_FILE}); create one with "
            "`cifranegra hub init DIR --admin-user NAME --admin-password-file FILE`"
        )
    try:
        settings = tomllib.loads(settings_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(settings_file)!r} is not valid TOML ({type(exc).__name__}); fix or restore it"
                         ) from None
    max_upload = settings.get("max_upload_bytes", DEFAULT_MAX_UPLOAD)
    ttl = settings.get("token_ttl_seconds", int(DEFAULT_TOKEN_TTL.total_seconds()))
    for name, value in (("max_upload_bytes", max_upload), ("token_ttl_seconds", ttl)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InputError(f"{str(settings_file)!r}: {name} must be a positive whole number")
    url = db_url or settings.get("db_url") or default_db_url(home)
    check_db_url(url)
    return HubHome(
        path=home,
        db_url=url,
        storage_dir=home / STORAGE_DIR,
        master_key_path=_key_path(home, None, settings),
        max_upload_bytes=max_upload,
        token_ttl=dt.timedelta(seconds=ttl),
    )


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def write_settings(home: Path, settings: dict[str, object]) -> None:
    """Write ``hub.toml`` (0600: it may hold a database password)."""
    text = "# cifranegra hub settings (see docs/hub.md)\n" + "".join(
        f"{key} = {_toml_value(value)}\n" for key, value in settings.items()
    )
    target = home / SETTINGS_FILE
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(target, 0o600)


def _new_master_key(path: Path) -> None:
    """A fresh master key: 32 random bytes, as 64 hexadecimal characters (what ``openssl rand -hex 32``
    writes and :meth:`.storage.MasterKey.load` reads), in a file only the owner may read (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write((secrets.token_bytes(MASTER_KEY_BYTES).hex() + "\n").encode("ascii"))
        fh.flush()
        os.fsync(fh.fileno())


def _storage_module() -> Any:
    try:
        from cifranegra.service import storage
    except ModuleNotFoundError as exc:  # pragma: no cover - the hub is built in parts
        if exc.name == "cifranegra.service.storage":
            return None
        raise
    return storage


def init_home(
    path: str | os.PathLike[str],
    *,
    admin_user: str,
    admin_password: str,
    db_url: str | None = None,
    key_file: str | os.PathLike[str] | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
) -> HubHome:
    """Create a hub home: folders, settings, master key (unless the named key file exists already),
    the database schema (migrations) and the first ``hub_admin`` account."""
    from cifranegra.service import auth, migrate

    home = Path(path).expanduser().resolve()
    if (home / SETTINGS_FILE).exists():
        raise InputError(f"{str(home)!r} is a hub home already; choose an empty or new folder")
    if home.exists() and not home.is_dir():
        raise InputError(f"{str(home)!r} is a file; give a folder for the hub's home")
    if home.is_dir():
        own_key = Path(key_file).expanduser().resolve() if key_file else None
        others = [p for p in home.iterdir() if p.resolve() != own_key]
        if others:  # the home is made private (0700) and holds the database and storage: a folder of its own
            raise InputError(f"{str(home)!r} holds {len(others)} other file(s) or folder(s); a hub's home must be "
                             "a folder of its own: choose an empty or new folder")
    auth.check_username(admin_user)
    auth.check_password(admin_password)
    if db_url:
        check_db_url(db_url)
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    storage = home / STORAGE_DIR
    storage.mkdir(mode=0o700, exist_ok=True)
    os.chmod(storage, 0o700)
    key_path = _key_path(home, key_file, {})
    if not key_path.exists():
        _new_master_key(key_path)
    storage = _storage_module()
    if storage is not None:
        storage.MasterKey.load(key_path)  # refuses a key file others may read, or one that holds no key
    settings: dict[str, object] = {"max_upload_bytes": max_upload_bytes,
                                   "token_ttl_seconds": int(DEFAULT_TOKEN_TTL.total_seconds())}
    if db_url:
        settings["db_url"] = db_url
    if key_path != home / KEY_FILE:
        settings["master_key_file"] = str(key_path)
    url = db_url or default_db_url(home)
    migrate.upgrade(url)
    if url == default_db_url(home):
        os.chmod(home / DB_FILE, 0o600)  # password hashes and wrapped keys: the owner only
    auth.create_first_admin(url, admin_user, admin_password)
    write_settings(home, settings)
    return load_home(home, db_url=db_url)
