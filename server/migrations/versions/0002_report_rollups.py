"""Participation rollups: triggers that keep report_day / report_month / report_person exact, and a backfill.

The tables come from the models (0001). Every change to a qualifying record goes through report_apply(), which
only counts a record whose source matches its lecture's kind (completions of online lectures, check-ins of
offline lectures), exactly like the raw report query. Deleting a lecture subtracts its records BEFORE the row
goes (the cascaded child deletes then find no lecture and skip); changing a lecture's kind moves its records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Autogenerate (0001) drops the INCLUDE of the models' primary keys; the counts must ride in the index so the
# report queries are index-only scans.
COVERING_KEYS = """
ALTER TABLE report_day DROP CONSTRAINT report_day_pkey,
  ADD CONSTRAINT report_day_pkey PRIMARY KEY (day, lecture_id, unit_id) INCLUDE (n);
ALTER TABLE report_month DROP CONSTRAINT report_month_pkey,
  ADD CONSTRAINT report_month_pkey PRIMARY KEY (month, lecture_id) INCLUDE (n);
ALTER TABLE report_person DROP CONSTRAINT report_person_pkey,
  ADD CONSTRAINT report_person_pkey PRIMARY KEY (kind, start, user_id, unit_id) INCLUDE (online_n, onsite_n);
"""

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION report_bump(p_mode text, p_lecture int, p_user int, p_unit int, p_at timestamptz,
                                       p_delta int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d date := (p_at AT TIME ZONE 'Asia/Shanghai')::date;
  u int := coalesce(p_unit, 0);
  k text;
  s date;
  on_n int := CASE WHEN p_mode = 'online' THEN p_delta ELSE 0 END;
  off_n int := CASE WHEN p_mode = 'online' THEN 0 ELSE p_delta END;
BEGIN
  INSERT INTO report_day AS r (day, lecture_id, unit_id, n) VALUES (d, p_lecture, u, p_delta)
    ON CONFLICT (day, lecture_id, unit_id) DO UPDATE SET n = r.n + excluded.n;
  DELETE FROM report_day WHERE day = d AND lecture_id = p_lecture AND unit_id = u AND n = 0;
  s := date_trunc('month', d::timestamp)::date;
  INSERT INTO report_month AS r (month, lecture_id, n) VALUES (s, p_lecture, p_delta)
    ON CONFLICT (month, lecture_id) DO UPDATE SET n = r.n + excluded.n;
  DELETE FROM report_month WHERE month = s AND lecture_id = p_lecture AND n = 0;
  FOREACH k IN ARRAY ARRAY['day', 'week', 'month', 'year'] LOOP
    s := date_trunc(k, d::timestamp)::date;
    INSERT INTO report_person AS r (kind, start, user_id, unit_id, online_n, onsite_n)
      VALUES (k, s, p_user, u, on_n, off_n)
      ON CONFLICT (kind, start, user_id, unit_id)
      DO UPDATE SET online_n = r.online_n + excluded.online_n, onsite_n = r.onsite_n + excluded.onsite_n;
    DELETE FROM report_person
      WHERE kind = k AND start = s AND user_id = p_user AND unit_id = u AND online_n = 0 AND onsite_n = 0;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION report_apply(p_mode text, p_lecture int, p_user int, p_unit int, p_at timestamptz,
                                        p_delta int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_at IS NOT NULL AND EXISTS (SELECT 1 FROM lecture WHERE id = p_lecture AND kind::text = p_mode) THEN
    PERFORM report_bump(p_mode, p_lecture, p_user, p_unit, p_at, p_delta);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION report_watch_progress_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (OLD.completed_at, OLD.unit_id, OLD.lecture_id, OLD.user_id)
      IS NOT DISTINCT FROM (NEW.completed_at, NEW.unit_id, NEW.lecture_id, NEW.user_id) THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM report_apply('online', OLD.lecture_id, OLD.user_id, OLD.unit_id, OLD.completed_at, -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM report_apply('online', NEW.lecture_id, NEW.user_id, NEW.unit_id, NEW.completed_at, 1);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION report_checkin_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (OLD.at, OLD.unit_id, OLD.lecture_id, OLD.user_id)
      IS NOT DISTINCT FROM (NEW.at, NEW.unit_id, NEW.lecture_id, NEW.user_id) THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM report_apply('offline', OLD.lecture_id, OLD.user_id, OLD.unit_id, OLD.at, -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM report_apply('offline', NEW.lecture_id, NEW.user_id, NEW.unit_id, NEW.at, 1);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION report_lecture_records(p_lecture int, p_kind text, p_delta int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_kind = 'online' THEN
    PERFORM report_bump('online', w.lecture_id, w.user_id, w.unit_id, w.completed_at, p_delta)
      FROM watch_progress w WHERE w.lecture_id = p_lecture AND w.completed_at IS NOT NULL;
  ELSE
    PERFORM report_bump('offline', c.lecture_id, c.user_id, c.unit_id, c.at, p_delta)
      FROM checkin c WHERE c.lecture_id = p_lecture;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION report_lecture_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM report_lecture_records(OLD.id, OLD.kind::text, -1);
    RETURN OLD;
  END IF;
  IF OLD.kind IS DISTINCT FROM NEW.kind THEN
    PERFORM report_lecture_records(OLD.id, OLD.kind::text, -1);
    PERFORM report_lecture_records(NEW.id, NEW.kind::text, 1);
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION report_rollup_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE report_day, report_month, report_person;
  CREATE TEMP TABLE report_src ON COMMIT DROP AS
    SELECT w.user_id, coalesce(w.unit_id, 0) AS unit_id, w.lecture_id, 'online' AS mode,
           (w.completed_at AT TIME ZONE 'Asia/Shanghai')::date AS d
    FROM watch_progress w JOIN lecture l ON l.id = w.lecture_id AND l.kind = 'online'
    WHERE w.completed_at IS NOT NULL
    UNION ALL
    SELECT c.user_id, coalesce(c.unit_id, 0), c.lecture_id, 'offline', (c.at AT TIME ZONE 'Asia/Shanghai')::date
    FROM checkin c JOIN lecture l ON l.id = c.lecture_id AND l.kind = 'offline';
  INSERT INTO report_day (day, lecture_id, unit_id, n)
    SELECT d, lecture_id, unit_id, count(*) FROM report_src GROUP BY 1, 2, 3;
  INSERT INTO report_month (month, lecture_id, n)
    SELECT date_trunc('month', d::timestamp)::date, lecture_id, count(*) FROM report_src GROUP BY 1, 2;
  INSERT INTO report_person (kind, start, user_id, unit_id, online_n, onsite_n)
    SELECT k, date_trunc(k, d::timestamp)::date, user_id, unit_id,
           count(*) FILTER (WHERE mode = 'online'), count(*) FILTER (WHERE mode = 'offline')
    FROM report_src CROSS JOIN unnest(ARRAY['day', 'week', 'month', 'year']) AS k GROUP BY 1, 2, 3, 4;
  DROP TABLE report_src;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER report_watch_progress AFTER INSERT OR DELETE OR UPDATE OF completed_at, unit_id, lecture_id, user_id
  ON watch_progress FOR EACH ROW EXECUTE FUNCTION report_watch_progress_trg();
CREATE TRIGGER report_checkin AFTER INSERT OR DELETE OR UPDATE OF at, unit_id, lecture_id, user_id
  ON checkin FOR EACH ROW EXECUTE FUNCTION report_checkin_trg();
CREATE TRIGGER report_lecture BEFORE DELETE OR UPDATE OF kind ON lecture
  FOR EACH ROW EXECUTE FUNCTION report_lecture_trg();
"""

FUNCTION_NAMES = ("report_rollup_rebuild()", "report_lecture_trg()", "report_lecture_records(int, text, int)",
                  "report_checkin_trg()", "report_watch_progress_trg()",
                  "report_apply(text, int, int, int, timestamptz, int)",
                  "report_bump(text, int, int, int, timestamptz, int)")


def _run(sql: str) -> None:
    # $$-quoted bodies: run through the driver untouched by SQLAlchemy's parameter parsing.
    op.get_bind().connection.driver_connection.execute(sql)


def upgrade() -> None:
    _run(COVERING_KEYS)
    _run(FUNCTIONS)
    _run(TRIGGERS)
    _run("SELECT report_rollup_rebuild()")


def downgrade() -> None:
    _run("DROP TRIGGER IF EXISTS report_lecture ON lecture; DROP TRIGGER IF EXISTS report_checkin ON checkin;"
         " DROP TRIGGER IF EXISTS report_watch_progress ON watch_progress;")
    _run("".join(f"DROP FUNCTION IF EXISTS {name};" for name in FUNCTION_NAMES))
