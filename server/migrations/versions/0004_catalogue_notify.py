"""Catalogue change notifications: every server process forgets its shared page renders at once.

Statement-level triggers on the tables catalogue pages are rendered from send ``NOTIFY jt_catalogue`` (delivered
at commit; one per transaction). Media rows change every second while transcoding (progress), so only changes a
page shows (state, playability, duration, poster) notify.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHANNEL = "jt_catalogue"
TABLES = ("lecture", "series", "lecturer", "lecture_lecturer")


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', '');
  RETURN NULL;
END $$""")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER catalogue_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()")
    op.execute("CREATE TRIGGER catalogue_changed AFTER INSERT OR DELETE ON media "
               "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()")
    op.execute("CREATE TRIGGER catalogue_media_changed AFTER UPDATE ON media FOR EACH ROW WHEN ("
               "OLD.state IS DISTINCT FROM NEW.state OR OLD.playable IS DISTINCT FROM NEW.playable OR "
               "OLD.duration_s IS DISTINCT FROM NEW.duration_s OR OLD.poster_key IS DISTINCT FROM NEW.poster_key) "
               "EXECUTE FUNCTION catalogue_changed()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS catalogue_media_changed ON media")
    for table in (*TABLES, "media"):
        op.execute(f"DROP TRIGGER IF EXISTS catalogue_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS catalogue_changed()")
