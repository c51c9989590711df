"""Participation rollups, maintained by PostgreSQL triggers (migration 0002) from watch_progress and checkin.

A qualifying record (an online completion or an offline check-in) adds 1 to one row of each table; undoing it
subtracts 1, and rows that reach 0 are deleted. ``unit_id`` 0 stands for "no unit" so it can sit in a primary key.
The raw tables stay the source of truth: ``report_rollup_rebuild()`` recomputes every rollup from them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, PrimaryKeyConstraint
from sqlmodel import Field, SQLModel


class ReportDay(SQLModel, table=True):
    """人次 per (Beijing day, lecture, unit at the time): exact for any day-aligned period and unit subtree."""

    __tablename__ = "report_day"
    # Counts ride in the indexes so every report query is an index-only scan.
    __table_args__ = (PrimaryKeyConstraint("day", "lecture_id", "unit_id", postgresql_include=["n"]),
                      Index("ix_report_day_unit", "unit_id", "day", postgresql_include=["lecture_id", "n"]))

    day: date = Field(primary_key=True)
    lecture_id: int = Field(primary_key=True)
    unit_id: int = Field(primary_key=True)
    n: int


class ReportMonth(SQLModel, table=True):
    """人次 per (Beijing month, lecture) over every unit: whole-union lecture figures for long periods."""

    __tablename__ = "report_month"
    __table_args__ = (PrimaryKeyConstraint("month", "lecture_id", postgresql_include=["n"]),)

    month: date = Field(primary_key=True)
    lecture_id: int = Field(primary_key=True)
    n: int


class ReportPerson(SQLModel, table=True):
    """One row per person (and unit they qualified in) per day/week/month/year: distinct people by index scan."""

    __tablename__ = "report_person"
    # In user order within a bucket, so per-person sums stream (no hashing) and count distinct people cheaply.
    __table_args__ = (PrimaryKeyConstraint("kind", "start", "user_id", "unit_id",
                                           postgresql_include=["online_n", "onsite_n"]),)

    kind: str = Field(primary_key=True, max_length=5)  # day | week | month | year
    start: date = Field(primary_key=True)
    user_id: int = Field(primary_key=True)
    unit_id: int = Field(primary_key=True)
    online_n: int
    onsite_n: int
