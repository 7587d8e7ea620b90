"""``cifranegra hub``: create, run and operate a hub; submit a file to one.

Sub-commands (each calls one function of :mod:`cifranegra.service`):

- ``hub init DIR --admin-user NAME --admin-password-file F [--db URL]`` — a new home (see docs/hub.md);
- ``hub serve DIR [--host 127.0.0.1] [--port 8765] [--workers N] [--db URL]`` — migrate, then serve;
- ``hub submit FILE --hub URL --study S --token-file F [--dry-run]`` — an agency's upload (retried safely);
- ``hub rotate-key DIR --new-key-file F`` — rewrap every stored key with a new master key;
- ``hub retention DIR --days N`` — shred submissions older than N days.

Secrets (password, token, keys) are read from files, never taken as arguments. The hub's modules are
imported only when a sub-command runs, so ``cifranegra --help`` stays fast and works without the
``hub`` extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cifranegra.errors import CifranegraError, InputError

HELP = "run a hub: agencies submit encoded lists; an office links, estimates and releases"


def _need_hub() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        raise CifranegraError("the hub needs its optional packages: pip install 'cifranegra[hub]'") from None


def _read_secret_file(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path!r}: the {what} file is not UTF-8 text") from None
    lines = text.splitlines()
    first = lines[0].rstrip("\r") if lines else ""
    if not first:
        raise InputError(f"{path!r}: the {what} file's first line is empty; write the {what} on its first line")
    return first  # the first line, as --help says (the rest of the file was taken too: a second line locked
    # the administrator out)


def _db_option(url: str | None) -> str | None:
    """``--db`` as given, refused when it holds a password: a command line is seen by every user of the
    machine (``ps``) and kept in shell history. The password goes in ~/.pgpass (or $PGPASSFILE) or in
    the home's hub.toml (0600)."""
    if url is None:
        return None
    from urllib.parse import urlsplit

    try:
        has_password = urlsplit(url).password is not None
    except ValueError:
        has_password = False
    if has_password:
        raise InputError(
            "--db holds a password; never put one on the command line (every user of the machine can see "
            "it, and it stays in the shell history): give --db postgresql://USER@HOST/DBNAME and put the "
            "password in ~/.pgpass or the file named by $PGPASSFILE (see docs/hub.md, 'PostgreSQL')"
        )
    return url


def _init(args: argparse.Namespace) -> int:
    _need_hub()
    from cifranegra.service.config import init_home

    password = _read_secret_file(args.admin_password_file, "password")
    home = init_home(args.dir, admin_user=args.admin_user, admin_password=password, db_url=_db_option(args.db))
    print(f"hub home created: {home.path}")
    print(f"master key: {home.master_key_path} (keep a copy apart from the backups of the home)")
    print(f"next: cifranegra hub serve {home.path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    _need_hub()
    from cifranegra.service.app import serve
    from cifranegra.service.config import load_home

    if not 0 < args.port < 65536:
        raise InputError("--port must be between 1 and 65535")
    if args.workers < 1:
        raise InputError("--workers must be 1 or more")
    serve(load_home(args.dir, db_url=_db_option(args.db)), host=args.host, port=args.port, workers=args.workers)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from cifranegra.service.client import submit

    try:
        import httpx  # noqa: F401
    except ImportError:
        raise CifranegraError("submitting needs httpx: pip install 'cifranegra[hub]'") from None
    answer = submit(args.file, hub=args.hub, study=args.study, token_file=args.token_file, dry_run=args.dry_run)
    problems = answer.get("problems") or []
    if args.dry_run:
        print(f"dry run: {args.file} would be accepted ({answer.get('n_records', '?')} records); nothing was kept")
    else:
        print(f"submitted: {args.file} → submission {answer.get('id')} ({answer.get('n_records', '?')} records)")
    for problem in problems:
        message = problem.get("message", problem) if isinstance(problem, dict) else problem
        print(f"  warning: {message}")
    return 0


def _optional(name: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise CifranegraError(f"{what} is not available in this version of cifranegra") from None
        raise


def _rotate_key(args: argparse.Namespace) -> int:
    _need_hub()
    from cifranegra.service.config import load_home

    storage = _optional("cifranegra.service.storage", "master-key rotation")
    home = load_home(args.dir)
    result = storage.rotate_master_key(home, args.new_key_file) or {}
    print(f"master key rotated: {result.get('old_key_id') or '-'} → {result.get('new_key_id') or '-'} "
          f"({result.get('rewrapped', 0)} stored key(s) rewrapped)")
    print(f"the hub's key file {home.master_key_path} now holds the new key ({args.new_key_file} is a copy: keep it "
          "apart as the key's backup, and destroy the old key's copies); start the hub again")
    return 0


def _retention(args: argparse.Namespace) -> int:
    _need_hub()
    from cifranegra.service.config import load_home

    if args.days < 1:
        raise InputError("--days must be 1 or more")
    retention = _optional("cifranegra.service.retention", "the retention policy")
    storage_mod = _optional("cifranegra.service.storage", "the retention policy")
    from cifranegra.service.db import make_engine, session_factory, transaction

    home = load_home(args.dir)
    engine = make_engine(home.db_url)
    try:
        with transaction(session_factory(engine)) as session:
            storage = storage_mod.open_storage(home, session)
        with transaction(session_factory(engine)) as session:
            shredded = retention.apply_retention(session, storage, args.days)
    finally:
        engine.dispose()
    print(f"retention: {shredded} submission(s) older than {args.days} days shredded")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hub", help=HELP, description=HELP + ". See docs/hub.md.")
    hub = p.add_subparsers(dest="hub_command", metavar="SUBCOMMAND")

    q = hub.add_parser("init", help="create a hub's home: database, encrypted storage, master key, first admin")
    q.add_argument("dir", metavar="DIR", help="the home folder to create (empty or new)")
    q.add_argument("--admin-user", required=True, metavar="NAME", help="the first administrator's username")
    q.add_argument("--admin-password-file", required=True, metavar="F",
                   help="file holding the administrator's password (first line)")
    q.add_argument("--db", metavar="URL", help="database URL (default: SQLite in DIR); e.g. postgresql://…")
    q.set_defaults(func=_init)

    q = hub.add_parser("serve", help="run the hub (migrates the database first)")
    q.add_argument("dir", metavar="DIR", help="the hub's home folder")
    q.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; put a TLS "
                   "reverse proxy in front)")
    q.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    q.add_argument("--workers", type=int, default=1, metavar="N", help="web worker processes (default 1)")
    q.add_argument("--db", metavar="URL", help="database URL (overrides the home's)")
    q.set_defaults(func=_serve)

    q = hub.add_parser("submit", help="submit an encoded list to a hub (retries never duplicate it)")
    q.add_argument("file", metavar="FILE", help="the encoded Parquet file (from `cifranegra encode`)")
    q.add_argument("--hub", required=True, metavar="URL", help="the hub's address, e.g. https://hub.example.org")
    q.add_argument("--study", required=True, metavar="S", help="the study's name")
    q.add_argument("--token-file", required=True, metavar="F", help="file holding your access token")
    q.add_argument("--dry-run", action="store_true", help="check the file only; the hub keeps nothing")
    q.set_defaults(func=_submit)

    q = hub.add_parser("rotate-key", help="re-wrap every stored key with a new master key")
    q.add_argument("dir", metavar="DIR", help="the hub's home folder")
    q.add_argument("--new-key-file", required=True, metavar="F", help="file for (or holding) the new master key")
    q.set_defaults(func=_rotate_key)

    q = hub.add_parser("retention", help="shred submissions older than N days")
    q.add_argument("dir", metavar="DIR", help="the hub's home folder")
    q.add_argument("--days", type=int, required=True, metavar="N", help="keep submissions this many days")
    q.set_defaults(func=_retention)

    def _usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    p.set_defaults(func=_usage)
