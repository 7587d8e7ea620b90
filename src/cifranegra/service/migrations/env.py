"""Alembic environment: runs on the connection that :func:`cifranegra.service.migrate.upgrade` passes."""

from __future__ import annotations

from alembic import context

from cifranegra.service.db import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through migrate.upgrade
    raise RuntimeError("run migrations with cifranegra.service.migrate.upgrade(db_url)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
