"""Media purge: when a media row stopped being its lecture's current media, and when its objects were deleted.

Media replaced before this revision are ready but no lecture's current media: they are marked superseded now,
so their objects go one grace period after the upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("media", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("media", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE media m SET superseded_at = now() WHERE m.state = 'ready'"
               " AND NOT EXISTS (SELECT 1 FROM lecture l WHERE l.current_media_id = m.id)")


def downgrade() -> None:
    op.drop_column("media", "purged_at")
    op.drop_column("media", "superseded_at")
