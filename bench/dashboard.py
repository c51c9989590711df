"""Dashboard queries and the per-unit export at scale: 100k people, 500 units, 2,000 lectures, 1M attendance rows.

Usage: python bench/dashboard.py [--reuse]   (JIANGTANG_BENCH_DATABASE_URL, default the local PostgreSQL,
database jt_bench). The database is recreated and filled with COPY on every run, so the script is re-runnable;
``--reuse`` measures the database left by the previous run.
Prints one line per query, then a JSON object with max_ms and the per-query figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import migrate
from server.db import make_engine, make_session_factory, with_database
from server.rules.participation import resolve_period
from server.services import exports, reports
from server.services.reports import RecordFilter, Window

PEOPLE, UNITS, LECTURES, ONLINE = 100_000, 500, 2_000, 1_600
PROGRESS_ROWS, CHECKIN_ROWS = 800_000, 200_000
LIMIT_MS = 200.0
NOW = datetime(2026, 6, 15, tzinfo=UTC)


def generate(url: str) -> None:
    rnd = random.Random(7)
    with psycopg.connect(url, autocommit=True) as conn:
        # Bulk load without the per-row rollup triggers, then rebuild the rollups set-based (as migration 0002 does).
        conn.execute("SET session_replication_role = replica")
        with conn.cursor() as cur:
            with cur.copy("COPY unit (id, name, parent_id, path, sort, created_at) FROM STDIN") as copy:
                copy.write_row((1, "市总工会", None, "/1/", 0, NOW))
                for i in range(2, 22):
                    copy.write_row((i, f"产业工会{i}", 1, f"/1/{i}/", i, NOW))
                for i in range(22, UNITS + 1):
                    parent = 2 + i % 20
                    copy.write_row((i, f"基层工会{i}", parent, f"/1/{parent}/{i}/", i, NOW))
            with cur.copy("COPY person (id, name, unit_id, roles, must_change_password, is_active, created_at) "
                          "FROM STDIN") as copy:
                for i in range(1, PEOPLE + 1):
                    copy.write_row((i, f"职工{i}", 22 + i % (UNITS - 21), ["worker"], False, i % 50 != 0, NOW))
            with cur.copy("COPY series (id, title, description, sort, featured, created_at) FROM STDIN") as copy:
                for i in range(1, 41):
                    copy.write_row((i, f"系列{i}", "", i, False, NOW))
            with cur.copy("COPY lecturer (id, name, category, honours, work_unit, bio, topics, search_text, "
                          "created_at, updated_at) FROM STDIN") as copy:
                for i in range(1, 201):
                    copy.write_row((i, f"讲师{i}", "model_worker", [], "", "", [], "", NOW, NOW))
            cols = ("id, title, summary, series_id, kind, status, tags, address, starts_at, ends_at, target_unit_ids, "
                    "completion_ratio, max_rate, credit_hidden, checkin_opens_min, checkin_closes_min, search_text, "
                    "created_at, updated_at, published_at")
            with cur.copy(f"COPY lecture ({cols}) FROM STDIN") as copy:
                for i in range(1, LECTURES + 1):
                    when = NOW - timedelta(days=rnd.uniform(0, 730))
                    online = i <= ONLINE
                    copy.write_row((i, f"讲座{i}", "", 1 + i % 40, "online" if online else "offline", "published",
                                    [], "", None if online else when, None if online else when + timedelta(hours=2),
                                    [] if online or i % 3 else [2 + i % 20], 0.9, 2.0, False, 30, 30, "", when, when,
                                    when))
            with cur.copy("COPY lecture_lecturer (lecture_id, lecturer_id, position) FROM STDIN") as copy:
                for i in range(1, LECTURES + 1):
                    copy.write_row((i, 1 + i % 200, 0))
            with cur.copy("COPY watch_progress (user_id, lecture_id, unit_id, spans, watched_s, duration_s, "
                          "last_position_s, anomalies, started_at, updated_at, completed_at) FROM STDIN") as copy:
                for i in range(PROGRESS_ROWS):
                    user, k = 1 + i % PEOPLE, i // PEOPLE
                    lecture = 1 + (user * 13 + k * 197) % ONLINE
                    started = NOW - timedelta(days=rnd.uniform(0, 730))
                    done = started + timedelta(hours=1) if i % 10 else None
                    copy.write_row((user, lecture, 22 + user % (UNITS - 21), "[]", 1700.0, 1800.0, 0.0, 0,
                                    started, started, done))
            with cur.copy("COPY checkin (lecture_id, user_id, unit_id, method, at, detail) FROM STDIN") as copy:
                for i in range(CHECKIN_ROWS):
                    user, k = 1 + i % PEOPLE, i // PEOPLE
                    lecture = ONLINE + 1 + (user * 7 + k * 31) % (LECTURES - ONLINE)
                    copy.write_row((lecture, user, 22 + user % (UNITS - 21), "qr",
                                    NOW - timedelta(days=rnd.uniform(0, 730)), "{}"))
        for table in ("unit", "person", "lecture", "series", "lecturer"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 — constant names
                         f"(SELECT max(id) FROM {table}))")
        conn.execute("SET session_replication_role = origin")
        conn.execute("SELECT report_rollup_rebuild()")
        conn.execute("VACUUM ANALYZE")


async def timed(fn: Callable[[], Awaitable[object]], runs: int = 3) -> float:
    await fn()  # warm the cache and the plan
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


async def first_chunk(stream: object, *, skip: int = 0) -> None:
    """Time to the first body bytes; ``skip`` leading chunks that hold no data (a CSV's BOM and header)."""
    iterator = stream.__aiter__()  # type: ignore[attr-defined]
    for _ in range(skip + 1):
        await iterator.__anext__()
    await iterator.aclose()


async def measure(url: str) -> dict[str, float]:
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    year = resolve_period("year", date(2026, 6, 15))
    month = resolve_period("month", date(2026, 6, 15))
    week = resolve_period("week", date(2026, 6, 15))
    quarter = resolve_period("custom", date(2026, 6, 15), date(2026, 4, 1), date(2026, 6, 30))
    year_w = Window.of(year, None)
    unit_w = Window.of(year, "/1/2/")  # a unit admin of one industry union (~5% of people)
    leaf = Window.of(year, "/1/3/23/")

    def q(fn: Callable[..., Awaitable[object]], *args: object, **kw: object) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            async with sessions() as db:
                return await fn(db, *args, **kw)
        return run

    cases: dict[str, Callable[[], Awaitable[object]]] = {}
    for label, period in (("week", week), ("month", month), ("year", year)):
        w = Window.of(period, None)
        cases |= {
            f"totals_{label}": q(reports.totals, w),
            f"units_{label}": q(reports.by_unit, w, parent_id=None, parent_path="/"),
            f"units_root_{label}": q(reports.by_unit, w, parent_id=1, parent_path="/1/"),
            f"lectures_{label}": q(reports.by_lecture, w, limit=15),
            f"lecturers_{label}": q(reports.by_lecturer, w),
            f"series_{label}": q(reports.by_series, w),
            f"trend_{label}": q(reports.trend, w, period.bucket),
            f"records_page_{label}": q(reports.records, w, RecordFilter(), limit=50),
            f"records_page_10_{label}": q(reports.records, w, RecordFilter(), limit=50, offset=450),
        }
    cases |= {
        "custom_totals_quarter": q(reports.totals, Window.of(quarter, None)),
        "custom_trend_quarter": q(reports.trend, Window.of(quarter, None), quarter.bucket),
        "records_lecture_year": q(reports.records, year_w, RecordFilter(lecture_id=5), limit=50),
        "records_unit_own_year": q(reports.records, year_w, RecordFilter(own_unit_id=40), limit=50),
        "export_all_csv_ttfb": lambda: first_chunk(exports.detail_csv(sessions, year_w, RecordFilter(), []), skip=1),
        "unit_admin_totals_year": q(reports.totals, unit_w),
        "unit_admin_units_year": q(reports.by_unit, unit_w, parent_id=2, parent_path="/1/2/"),
        "unit_admin_lectures_year": q(reports.by_lecture, unit_w, limit=15),
        "unit_admin_lecturers_year": q(reports.by_lecturer, unit_w),
        "unit_admin_trend_year": q(reports.trend, unit_w, year.bucket),
        "unit_admin_records_page_year": q(reports.records, unit_w, RecordFilter(), limit=50),
        "export_unit_csv_ttfb": lambda: first_chunk(exports.detail_csv(sessions, unit_w, RecordFilter(), []), skip=1),
        "export_leaf_xlsx_ttfb": lambda: _xlsx(sessions, leaf, year),
    }
    figures = {}
    for name, fn in cases.items():
        figures[name] = round(await timed(fn), 1)
        print(f"{name}: {figures[name]:.1f} ms", flush=True)
    await engine.dispose()
    return figures


async def _xlsx(sessions: object, w: Window, period: object) -> None:
    sheets = await exports.summary_sheets(sessions, w, period, scope_name="基层工会23",  # type: ignore[arg-type]
                                          parent_id=23, parent_path="/1/3/23/")
    await first_chunk(exports.xlsx_stream(sessions, sheets, w, RecordFilter()))  # type: ignore[arg-type]


def main() -> None:
    admin = os.environ.get("JIANGTANG_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    url = with_database(admin, "jt_bench")
    if "--reuse" in sys.argv:
        print(json.dumps(_report(asyncio.run(measure(url))), ensure_ascii=False))
        return
    with psycopg.connect(admin, autocommit=True) as conn:
        # A fresh database each run: the schema always matches the current models.
        conn.execute('DROP DATABASE IF EXISTS "jt_bench" WITH (FORCE)')
        conn.execute('CREATE DATABASE "jt_bench"')
    migrate.upgrade(url)
    t0 = time.perf_counter()
    generate(url)
    print(f"generated 1,000,000 attendance rows in {time.perf_counter() - t0:.1f} s", flush=True)
    print(json.dumps(_report(asyncio.run(measure(url))), ensure_ascii=False))


def _report(figures: dict[str, float]) -> dict[str, object]:
    worst = max(figures.values())
    print(f"dashboard: max {worst:.1f} ms, limit {LIMIT_MS:.0f} ms, ratio {worst / LIMIT_MS:.2f}")
    return {"max_ms": worst, "limit_ms": LIMIT_MS, "queries": figures}


if __name__ == "__main__":
    main()
