"""pg_trgm for Chinese/pinyin search, and procrastinate's job-queue schema.

Revision ID: 0000
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0000"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # The schema contains $$-quoted functions: run it through the driver untouched by SQLAlchemy.
    op.get_bind().connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    raise RuntimeError("the initial schema cannot be downgraded")
