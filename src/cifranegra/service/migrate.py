"""Database migrations (Alembic, configured in code: no alembic.ini to ship or lose).

The scripts live inside the package (``cifranegra/service/migrations``); :func:`upgrade` brings a
database to the newest revision. ``hub init`` and ``hub serve`` call it before any worker starts;
nothing runs it at import. Each revision is a frozen snapshot (explicit ``op.create_table`` calls), not
``Base.metadata.create_all``, so that later model changes always come with their own migration.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import ArgumentError, OperationalError

from cifranegra.errors import InputError
from cifranegra.service.db import make_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """Alembic's configuration, in code; the connection is handed to ``env.py`` in ``attributes``."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def upgrade(db_url: str, revision: str = "head") -> None:
    """Migrate the database at ``db_url`` to ``revision`` (default: the newest), in one transaction."""
    try:
        engine = make_engine(db_url)
    except (ArgumentError, ImportError) as exc:
        raise InputError(f"the database URL cannot be used ({type(exc).__name__}); give sqlite:///PATH or "
                         "postgresql://USER@HOST/DBNAME") from None
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        # the driver's message may repeat the URL (with its password): only its kind is shown
        raise InputError(f"could not open or migrate the hub's database ({type(exc.orig).__name__}); check the "
                         "database URL (hub.toml's db_url or --db), that the server runs and that this account may "
                         "create tables in it") from None
    finally:
        engine.dispose()


def current_revision(db_url: str) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
