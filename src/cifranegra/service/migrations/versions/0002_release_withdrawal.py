"""Releases can be withdrawn: who withdrew one, when, and the reason shown publicly.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a foreign key to an existing table, so Alembic rebuilds it there
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("withdrawn_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("withdrawal_reason", sa.String(length=500), nullable=True))
        batch.create_foreign_key("fk_releases_withdrawn_by", "users", ["withdrawn_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_constraint("fk_releases_withdrawn_by", type_="foreignkey")
        batch.drop_column("withdrawal_reason")
        batch.drop_column("withdrawn_at")
        batch.drop_column("withdrawn_by")
