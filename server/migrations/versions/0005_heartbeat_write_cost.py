"""Cheaper heartbeat writes: room for in-page (HOT) updates, and no trigger call on progress ticks.

Every heartbeat updates its viewing_session and watch_progress rows. With full pages each update lands on
another page and adds an entry to every index of the table; with free room on the page PostgreSQL
rewrites the row in place (a HOT update) and leaves the indexes alone. The report trigger on
watch_progress fired on every heartbeat (the update assigns completed_at) only to find nothing changed;
a WHEN condition now skips the call, so only a completion (or a move of the row) reaches the rollups.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HOT_TABLES = ("viewing_session", "watch_progress")
REPORTED = "completed_at, unit_id, lecture_id, user_id"


def upgrade() -> None:
    for table in HOT_TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")
    op.execute("DROP TRIGGER report_watch_progress ON watch_progress")
    op.execute("CREATE TRIGGER report_watch_progress AFTER INSERT OR DELETE ON watch_progress "
               "FOR EACH ROW EXECUTE FUNCTION report_watch_progress_trg()")
    old = ", ".join(f"OLD.{c}" for c in REPORTED.split(", "))
    new = ", ".join(f"NEW.{c}" for c in REPORTED.split(", "))
    op.execute(f"CREATE TRIGGER report_watch_progress_change AFTER UPDATE OF {REPORTED} ON watch_progress "
               f"FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new})) EXECUTE FUNCTION report_watch_progress_trg()")


def downgrade() -> None:
    op.execute("DROP TRIGGER report_watch_progress_change ON watch_progress")
    op.execute("DROP TRIGGER report_watch_progress ON watch_progress")
    op.execute(f"CREATE TRIGGER report_watch_progress AFTER INSERT OR DELETE OR UPDATE OF {REPORTED} "
               "ON watch_progress FOR EACH ROW EXECUTE FUNCTION report_watch_progress_trg()")
    for table in HOT_TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
