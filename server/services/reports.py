"""Participation figures — the ONE place they are computed (dashboard, exports, lecturer pages, 我的学习).

A *qualifying record* is an online lecture's watch_progress row completed in the period, or an offline
lecture's check-in made in the period. (lecture, person) is unique in both tables, so every record is
one 人次 and 人数 is the number of distinct people among the records. Definitions: rules/participation.py.
Which table a figure is read from (raw records or rollups): services/report_sources.py.

Unit scoping: records carry the unit of the person when they qualified (snapshot); a scope is a unit
path prefix and a unit's figures include its whole subtree (``unit.path LIKE prefix || '%'``).
"""

# ruff: noqa: S608 — SQL is assembled only from constant fragments in this module; every value is a bind parameter.
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from server.rules.participation import Bucket, Period, bucket_starts, rate
from server.services.report_sources import (
    Window,
    per_lecture,
    per_person,
    qualified,
    qualified_branches,
    record_count,
)

__all__ = ["RecordFilter", "Window"]


def _target_scope(prefixed: bool) -> str:
    """Lectures aimed at everyone, or at a unit inside/above the scope (for 场次 of unit admins)."""
    if not prefixed:
        return ""
    return (" AND (cardinality(l.target_unit_ids) = 0 OR EXISTS (SELECT 1 FROM unit t"
            " WHERE t.id = ANY(l.target_unit_ids) AND (t.path LIKE :prefix OR :scope_path LIKE t.path || '%')))")


async def _rows(db: AsyncSession, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    result = await db.exec(text(sql), params=params)  # type: ignore[call-overload]
    return [dict(r) for r in result.mappings()]


@dataclass(frozen=True)
class Totals:
    person_times: int
    online_person_times: int
    onsite_person_times: int
    people: int
    online_people: int
    onsite_people: int
    online_sessions: int
    onsite_sessions: int
    members: int

    @property
    def participation_rate(self) -> float | None:
        return rate(self.people, self.members)


async def totals(db: AsyncSession, w: Window) -> Totals:
    members_where = w.scope("p.unit_id")
    scoped = _target_scope(w.prefix is not None)
    source, extra = per_person(w)
    sql = f"""
    WITH per_user AS (
      SELECT user_id, sum(online_n) AS online, sum(onsite_n) AS onsite FROM ({source}) s GROUP BY user_id)
    SELECT coalesce(sum(online), 0) AS online_pt, coalesce(sum(onsite), 0) AS onsite_pt, count(*) AS people,
      count(*) FILTER (WHERE online > 0) AS online_people, count(*) FILTER (WHERE onsite > 0) AS onsite_people,
      (SELECT count(*) FROM lecture l WHERE l.kind = 'online' AND l.status IN ('published', 'archived')
         AND l.published_at >= :start AND l.published_at < :end{scoped}) AS online_sessions,
      (SELECT count(*) FROM lecture l WHERE l.kind = 'offline' AND l.status IN ('published', 'archived')
         AND l.starts_at >= :start AND l.starts_at < :end{scoped}) AS onsite_sessions,
      (SELECT count(*) FROM person p WHERE p.is_active{members_where}) AS members
    FROM per_user"""
    r = (await _rows(db, sql, {**w.params(), **extra}))[0]
    online, onsite = int(r["online_pt"]), int(r["onsite_pt"])
    return Totals(online + onsite, online, onsite, r["people"], r["online_people"], r["onsite_people"],
                  r["online_sessions"], r["onsite_sessions"], r["members"])


async def by_unit(db: AsyncSession, w: Window, *, parent_id: int | None, parent_path: str) -> list[dict[str, Any]]:
    """One row per child unit of ``parent`` (each rolled up over its subtree), plus the parent's own people.

    ``parent_id`` None lists the top-level units (``parent_path`` "/").
    """
    depth = parent_path.count("/") - 1
    own = "CASE WHEN u.path = :ppath THEN :parent_id ELSE split_part(u.path, '/', :idx)::int END"
    source, extra = per_person(w)
    sql = f"""
    WITH buckets AS (SELECT u.id AS unit_id, {own} AS bucket FROM unit u WHERE u.path LIKE :ppath || '%'),
    src AS MATERIALIZED ({source}),
    per_unit AS (SELECT unit_id, sum(online_n + onsite_n) AS pt, sum(online_n) AS online, count(*) AS n
                 FROM src GROUP BY unit_id),
    -- A person counts once per bucket; only people who qualified in several units can be counted twice, and
    -- they are few: correct for them instead of grouping every (bucket, person) pair.
    multi AS (SELECT user_id FROM src GROUP BY user_id HAVING count(*) > 1),
    dup AS (SELECT b.bucket, count(*) - count(DISTINCT s.user_id) AS extra
            FROM src s JOIN multi m ON m.user_id = s.user_id JOIN buckets b ON b.unit_id = s.unit_id GROUP BY b.bucket),
    agg AS (SELECT b.bucket, sum(pu.pt) AS pt, sum(pu.online) AS online,
                   sum(pu.n) - coalesce(max(dup.extra), 0) AS people
            FROM per_unit pu JOIN buckets b ON b.unit_id = pu.unit_id LEFT JOIN dup ON dup.bucket = b.bucket
            GROUP BY b.bucket),
    members AS (SELECT b.bucket, count(*) AS n FROM person p JOIN buckets b ON b.unit_id = p.unit_id
                WHERE p.is_active GROUP BY b.bucket)
    SELECT un.id AS unit_id, un.name, un.path, un.id = :parent_id AS is_self,
      coalesce(agg.pt, 0)::int AS person_times, coalesce(agg.online, 0)::int AS online_person_times,
      coalesce(agg.pt - agg.online, 0)::int AS onsite_person_times, coalesce(agg.people, 0)::int AS people,
      coalesce(members.n, 0)::int AS members,
      un.id <> :parent_id AND EXISTS (SELECT 1 FROM unit c WHERE c.parent_id = un.id) AS has_children
    FROM unit un LEFT JOIN agg ON agg.bucket = un.id LEFT JOIN members ON members.bucket = un.id
    WHERE un.id IN (SELECT DISTINCT bucket FROM buckets)
    ORDER BY un.id = :parent_id DESC, person_times DESC, un.sort, un.id"""
    params = {**w.params(), **extra, "ppath": parent_path, "parent_id": parent_id or 0, "idx": depth + 2}
    rows = await _rows(db, sql, params)
    for row in rows:
        row["participation_rate"] = rate(row["people"], row["members"])
    return rows


async def by_lecture(db: AsyncSession, w: Window, *, limit: int | None = 50, offset: int = 0
                     ) -> tuple[list[dict[str, Any]], int]:
    """Lectures with at least one qualifying record, most 人次 first; completion rate among starters."""
    source, extra = per_lecture(w)
    sql = f"""
    WITH per AS (SELECT lecture_id, sum(n) AS pt FROM ({source}) s GROUP BY lecture_id)
    SELECT l.id AS lecture_id, l.title, l.kind::text AS kind, l.starts_at, per.pt::int AS person_times,
           count(*) OVER () AS total
    FROM per JOIN lecture l ON l.id = per.lecture_id ORDER BY per.pt DESC, l.id
    {"LIMIT :limit" if limit is not None else ""} OFFSET :offset"""
    rows = await _rows(db, sql, {**w.params(), **extra, "limit": limit, "offset": offset})
    total = rows[0]["total"] if rows else 0
    for row in rows:
        row.pop("total")
    online = [r["lecture_id"] for r in rows if r["kind"] == "online"]
    starters: dict[int, dict[str, Any]] = {}
    if online:
        found = await _rows(db, f"""
            SELECT w.lecture_id, count(*) AS started, count(*) FILTER (WHERE w.completed_at < :end) AS completed
            FROM watch_progress w WHERE w.lecture_id = ANY(:ids) AND w.started_at < :end{w.scope("w.unit_id")}
            GROUP BY w.lecture_id""", {**w.params(), "ids": online})
        starters = {r["lecture_id"]: r for r in found}
    for row in rows:
        s = starters.get(row["lecture_id"])
        row["started"] = s["started"] if s else None
        row["completed"] = s["completed"] if s else None
        row["completion_rate"] = rate(s["completed"], s["started"]) if s else None
    return rows, int(total)


async def _grouped(db: AsyncSession, w: Window, key_sql: str, join_sql: str, label_sql: str) -> list[dict[str, Any]]:
    """人次 and the number of lectures with records, per lecturer/series (a lecture counts for each lecturer)."""
    source, extra = per_lecture(w)
    sql = f"""
    WITH per AS (SELECT lecture_id, sum(n) AS pt FROM ({source}) s GROUP BY lecture_id),
    grouped AS (SELECT {key_sql} AS key, sum(per.pt) AS pt, count(*) AS lectures FROM per {join_sql} GROUP BY 1)
    SELECT grouped.key, {label_sql} AS name, pt::int AS person_times, lectures::int AS lectures
    FROM grouped ORDER BY person_times DESC, grouped.key"""
    return await _rows(db, sql, {**w.params(), **extra})


async def by_lecturer(db: AsyncSession, w: Window) -> list[dict[str, Any]]:
    return await _grouped(db, w, "ll.lecturer_id", "JOIN lecture_lecturer ll ON ll.lecture_id = per.lecture_id",
                          "(SELECT name FROM lecturer WHERE id = grouped.key)")


async def by_series(db: AsyncSession, w: Window) -> list[dict[str, Any]]:
    return await _grouped(db, w, "l.series_id", "JOIN lecture l ON l.id = per.lecture_id AND l.series_id IS NOT NULL",
                          "(SELECT title FROM series WHERE id = grouped.key)")


async def trend(db: AsyncSession, w: Window, bucket: Bucket) -> list[dict[str, Any]]:
    """Per day/week/month of the period, every bucket present (zeros included) so charts show quiet days."""
    if w.trend_from_rollup(bucket):
        sql = f"""
        WITH per_user AS (
          SELECT p.start AS day, p.user_id, sum(p.online_n) AS online, sum(p.onsite_n) AS onsite
          FROM report_person p WHERE p.kind = :bucket AND p.start BETWEEN :first_day AND :last_day
          {w.scope("p.unit_id")} GROUP BY 1, 2)"""
    else:
        sql = f"""
        WITH per_user AS (
          SELECT date_trunc(:bucket, q.at AT TIME ZONE 'Asia/Shanghai')::date AS day, q.user_id,
                 count(*) FILTER (WHERE q.mode = 'online') AS online,
                 count(*) FILTER (WHERE q.mode = 'offline') AS onsite
          FROM ({qualified(w)}) q GROUP BY 1, 2)"""
    sql += """
    SELECT day, sum(online)::int AS online_person_times, sum(onsite)::int AS onsite_person_times,
           count(*)::int AS people
    FROM per_user GROUP BY day ORDER BY day"""
    found = {r["day"]: r for r in await _rows(db, sql, {**w.params(), "bucket": bucket.value})}
    if w.first_day is None or w.last_day is None:
        return list(found.values())
    return [found.get(day, {"day": day, "online_person_times": 0, "onsite_person_times": 0, "people": 0})
            for day in bucket_starts(w.first_day, w.last_day, bucket)]


@dataclass(frozen=True)
class RecordFilter:
    lecture_id: int | None = None
    own_unit_id: int | None = None  # people directly in this unit (a drill-down's "本级" row)
    user_id: int | None = None
    mode: str | None = None  # "online" | "offline"


def _record_where(f: RecordFilter) -> str:
    where = []
    if f.lecture_id is not None:
        where.append("q.lecture_id = :lecture_id")
    if f.own_unit_id is not None:
        where.append("q.unit_id = :own_unit_id")
    if f.user_id is not None:
        where.append("q.user_id = :user_id")
    if f.mode in ("online", "offline"):
        where.append("q.mode = :mode")
    return "WHERE " + " AND ".join(where) if where else ""


def _records_sql(w: Window, f: RecordFilter, *, page: bool = False, branch: str | None = None) -> str:
    if page:
        # Each source is cut to the page's end in its own time index order first: the planner cannot push
        # a LIMIT through the UNION and would otherwise sort every record of the period.
        cut = " UNION ALL ".join(f"(SELECT * FROM ({b}) q {_record_where(f)} ORDER BY at DESC LIMIT :upto)"
                                 for b in qualified_branches(w, detail=True))
        inner = f"SELECT * FROM ({cut}) q ORDER BY at DESC, user_id LIMIT :limit OFFSET :offset"
    else:
        inner = f"SELECT * FROM ({branch or qualified(w, detail=True)}) q {_record_where(f)}"
    return f"""
    SELECT q.at, q.mode, q.lecture_id, l.title AS lecture_title, q.user_id, p.name AS person_name,
           p.employee_no, p.phone, un.name AS unit_name, q.watched_s, q.method
    FROM ({inner}) q JOIN lecture l ON l.id = q.lecture_id JOIN person p ON p.id = q.user_id
    LEFT JOIN unit un ON un.id = q.unit_id"""


def _record_params(w: Window, f: RecordFilter) -> dict[str, Any]:
    return {**w.params(), "lecture_id": f.lecture_id, "own_unit_id": f.own_unit_id, "user_id": f.user_id,
            "mode": f.mode}


async def records(db: AsyncSession, w: Window, f: RecordFilter, *, limit: int = 50, offset: int = 0
                  ) -> tuple[list[dict[str, Any]], int]:
    """The qualifying records behind a figure (traceability), newest first."""
    params = {**_record_params(w, f), "limit": limit, "offset": offset, "upto": limit + offset}
    rows = await _rows(db, _records_sql(w, f, page=True) + " ORDER BY q.at DESC, q.user_id", params)
    if f.user_id is None:
        sql, extra = record_count(w, lecture_id=f.lecture_id, own_unit_id=f.own_unit_id, mode=f.mode)
        params.update(extra)
    else:  # one person's records are few, and read through the user_id indexes
        sql = f"SELECT count(*) AS n FROM ({qualified(w)}) q {_record_where(f)}"
    total = await _rows(db, sql, params)
    return rows, int(total[0]["n"])


async def stream_records(db: AsyncSession, w: Window, f: RecordFilter) -> AsyncIterator[dict[str, Any]]:
    """Every qualifying record — online ones, then on-site ones, each oldest first — via server-side cursors.

    One query per source in its time index's order, so the first rows of an export leave at once instead of
    after sorting the whole period.
    """
    for branch in qualified_branches(w, detail=True):
        sql = _records_sql(w, f, branch=branch) + " ORDER BY q.at, q.user_id, q.lecture_id"
        result = await db.stream(text(sql), _record_params(w, f))
        async for row in result.mappings():
            yield dict(row)


async def lecture_person_times(db: AsyncSession, lecture_ids: list[int], period: Period | None = None
                               ) -> dict[int, int]:
    """人次 per lecture (all time unless a period is given) — for lecture and lecturer pages."""
    if not lecture_ids:
        return {}
    w = Window.of(period, None)
    source, extra = per_lecture(w)
    rows = await _rows(db, f"SELECT lecture_id, sum(n) AS n FROM ({source}) s "
                           "WHERE s.lecture_id = ANY(:ids) GROUP BY lecture_id",
                       {**w.params(), **extra, "ids": lecture_ids})
    return {r["lecture_id"]: int(r["n"]) for r in rows}


async def lecturer_person_times(db: AsyncSession, lecturer_ids: list[int], period: Period | None = None
                                ) -> dict[int, int]:
    """人次 per lecturer: the sum of their lectures' 人次 (all time unless a period is given)."""
    if not lecturer_ids:
        return {}
    w = Window.of(period, None)
    source, extra = per_lecture(w)
    rows = await _rows(db, f"SELECT ll.lecturer_id, sum(s.n) AS n FROM ({source}) s "
                           "JOIN lecture_lecturer ll ON ll.lecture_id = s.lecture_id "
                           "WHERE ll.lecturer_id = ANY(:ids) GROUP BY ll.lecturer_id",
                       {**w.params(), **extra, "ids": lecturer_ids})
    return {r["lecturer_id"]: int(r["n"]) for r in rows}


async def person_records(db: AsyncSession, user_id: int, period: Period | None = None, *, limit: int = 50,
                         offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A person's own qualifying records (我的学习): the same rows the dashboard counts."""
    return await records(db, Window.of(period, None), RecordFilter(user_id=user_id), limit=limit, offset=offset)
