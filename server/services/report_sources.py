"""Where participation figures are read from: the raw records, or the trigger-maintained rollups (0002).

Both sources give identical numbers (tests/server/test_report_rollups.py). The rollups are chosen whenever
they are exact for the window:

- 人次 by lecture (and so by lecturer/series): always from report_day / report_month, since every period is
  whole Beijing days and a person qualifies at most once per lecture (人次 adds up over days and units).
- Per-person figures (人数, and 人次 by unit): from report_person when the period is exactly one day, week,
  month or year (本周/本月/本年, or a custom period that happens to be one). Any other custom period reads
  the raw records — correct, just slower over long ranges.
- Traceability lists and detail exports always read the raw records.
"""

# ruff: noqa: S608 — SQL is assembled only from constant fragments in this module; every value is a bind parameter.
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from server.rules.participation import Bucket, Period, person_bucket, split_months

ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
IN_SCOPE = " AND {col} IN (SELECT id FROM unit WHERE path LIKE :prefix)"


@dataclass(frozen=True)
class Window:
    """What to count: a time range and an optional unit-path prefix (None = every unit, and unit-less people)."""

    start: datetime
    end: datetime
    prefix: str | None = None
    first_day: date | None = None  # the Beijing days of the period (None: all time)
    last_day: date | None = None

    @classmethod
    def of(cls, period: Period | None, prefix: str | None) -> Window:
        if period is None:
            return cls(*ALL_TIME, prefix)
        return cls(period.start, period.end, prefix, period.first_day, period.last_day)

    def params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "prefix": (self.prefix or "/") + "%",
                "scope_path": self.prefix or "/", "first_day": self.first_day, "last_day": self.last_day}

    def scope(self, col: str) -> str:
        return "" if self.prefix is None else IN_SCOPE.format(col=col)

    @property
    def bucket(self) -> tuple[str, date] | None:
        if self.first_day is None or self.last_day is None:
            return None
        return person_bucket(self.first_day, self.last_day)

    def trend_from_rollup(self, bucket: Bucket) -> bool:
        """Whether every trend bucket lies inside the period, so report_person rows of that kind are exact."""
        if self.first_day is None or self.last_day is None:
            return False
        if bucket is Bucket.day:
            return True
        first, last = self.first_day, self.last_day
        if bucket is Bucket.week:
            return first.weekday() == 0 and last.weekday() == 6
        return first.day == 1 and person_bucket(last.replace(day=1), last) == ("month", last.replace(day=1))


def qualified_branches(w: Window, *, detail: bool = False) -> tuple[str, str]:
    """Raw qualifying records, online then offline: (lecture_id, user_id, unit_id, at, mode[, watched_s, method])."""
    wx = ", w.watched_s AS watched_s, NULL::text AS method" if detail else ""
    cx = ", NULL::float AS watched_s, c.method::text AS method" if detail else ""
    return (
        "SELECT w.lecture_id, w.user_id, w.unit_id, w.completed_at AS at, 'online' AS mode" + wx +
        " FROM watch_progress w WHERE w.completed_at >= :start AND w.completed_at < :end"
        " AND w.lecture_id IN (SELECT id FROM lecture WHERE kind = 'online')" + w.scope("w.unit_id"),
        "SELECT c.lecture_id, c.user_id, c.unit_id, c.at, 'offline' AS mode" + cx +
        " FROM checkin c WHERE c.at >= :start AND c.at < :end"
        " AND c.lecture_id IN (SELECT id FROM lecture WHERE kind = 'offline')" + w.scope("c.unit_id"),
    )


def qualified(w: Window, *, detail: bool = False) -> str:
    return " UNION ALL ".join(qualified_branches(w, detail=detail))


def per_person(w: Window) -> tuple[str, dict[str, Any]]:
    """(user_id, unit_id, online_n, onsite_n): a person's 人次 in the window per unit they qualified in."""
    bucket = w.bucket
    if bucket is not None:
        sql = ("SELECT p.user_id, NULLIF(p.unit_id, 0) AS unit_id, p.online_n, p.onsite_n FROM report_person p"
               " WHERE p.kind = :bucket_kind AND p.start = :bucket_start" + w.scope("p.unit_id"))
        return sql, {"bucket_kind": bucket[0], "bucket_start": bucket[1]}
    sql = ("SELECT q.user_id, q.unit_id, count(*) FILTER (WHERE q.mode = 'online') AS online_n,"
           " count(*) FILTER (WHERE q.mode = 'offline') AS onsite_n"
           f" FROM ({qualified(w)}) q GROUP BY q.user_id, q.unit_id")
    return sql, {}


def per_lecture(w: Window) -> tuple[str, dict[str, Any]]:
    """(lecture_id, n): 人次 per lecture in the window, from the rollups (rows for one lecture may repeat)."""
    if w.first_day is None or w.last_day is None:
        if w.prefix is None:
            return "SELECT lecture_id, n FROM report_month", {}
        return "SELECT d.lecture_id, d.n FROM report_day d WHERE true" + w.scope("d.unit_id"), {}
    if w.prefix is not None:
        return ("SELECT d.lecture_id, d.n FROM report_day d WHERE d.day BETWEEN :first_day AND :last_day"
                + w.scope("d.unit_id")), {}
    months, days = split_months(w.first_day, w.last_day)
    return ("SELECT m.lecture_id, m.n FROM report_month m WHERE m.month = ANY(:months)"
            " UNION ALL SELECT d.lecture_id, d.n FROM report_day d WHERE d.day = ANY(:days)"), {
        "months": months, "days": days}


def record_count(w: Window, *, lecture_id: int | None, own_unit_id: int | None, mode: str | None
                 ) -> tuple[str, dict[str, Any]]:
    """How many qualifying records match a traceability filter without a person (from the rollups)."""
    source, params = per_lecture(w) if own_unit_id is None else (
        "SELECT d.lecture_id, d.n FROM report_day d WHERE d.unit_id = :own_unit_id"
        + ("" if w.first_day is None else " AND d.day BETWEEN :first_day AND :last_day") + w.scope("d.unit_id"), {})
    where = []
    if lecture_id is not None:
        where.append("r.lecture_id = :lecture_id")
    if mode in ("online", "offline"):
        where.append("r.lecture_id IN (SELECT id FROM lecture WHERE kind::text = :mode)")
    sql = f"SELECT coalesce(sum(r.n), 0) AS n FROM ({source}) r" + (" WHERE " + " AND ".join(where) if where else "")
    return sql, params
