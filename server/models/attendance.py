"""Online viewing (sessions, raw heartbeats, merged progress) and offline check-ins.

Raw heartbeats are kept so every credited second can be traced back to what the player reported.
``unit_id`` is copied onto progress and check-in rows when they are created, so later moves of a
person between units do not rewrite past reports.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from server.models.base import at_now, json_value, timestamp
from server.models.media import new_id


class ViewingSession(SQLModel, table=True):
    __tablename__ = "viewing_session"
    __table_args__ = (Index("ix_viewing_session_user_lecture", "user_id", "lecture_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    lecture_id: int = Field(foreign_key="lecture.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64)
    opened_at: datetime = at_now()
    closed_at: datetime | None = timestamp()
    close_reason: str | None = Field(default=None, max_length=30)
    last_seq: int = 0
    last_client_ms: int = 0
    last_position_s: float = 0.0
    last_rate: float = 1.0
    last_playing: bool = False
    # Heartbeat rate limit (token bucket) kept in the row so every server process shares it.
    bucket_tokens: float = 20.0
    bucket_at: datetime = at_now()
    last_heartbeat_at: datetime | None = timestamp()
    credited_s: float = 0.0
    anomalies: int = 0


class Heartbeat(SQLModel, table=True):
    session_id: str = Field(foreign_key="viewing_session.id", primary_key=True, max_length=36,
                            ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    received_at: datetime = at_now()
    position_s: float
    rate: float
    paused: bool
    visible: bool
    event: str = Field(max_length=20)
    client_ms: int
    credited_from_s: float | None = None
    credited_to_s: float | None = None
    anomaly: str | None = Field(default=None, max_length=40)


class WatchProgress(SQLModel, table=True):
    """Merged watched spans per (person, lecture); the source of 'completed' for reports."""

    __tablename__ = "watch_progress"
    # Covering index: period reports read completions by time without touching the table (index-only scans).
    __table_args__ = (Index("ix_watch_progress_completed", "completed_at", postgresql_where=text(
        "completed_at IS NOT NULL"), postgresql_include=["lecture_id", "user_id", "unit_id"]),)

    user_id: int = Field(foreign_key="person.id", primary_key=True, ondelete="CASCADE")
    lecture_id: int = Field(foreign_key="lecture.id", primary_key=True, index=True, ondelete="CASCADE")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="SET NULL")
    spans: list[list[float]] = json_value(list)
    watched_s: float = 0.0
    duration_s: float = 0.0
    last_position_s: float = 0.0
    anomalies: int = 0
    started_at: datetime = at_now()
    updated_at: datetime = at_now()
    completed_at: datetime | None = timestamp()


class CheckInMethod(StrEnum):
    qr = "qr"
    roster = "roster"
    walk_in = "walk_in"


class CheckIn(SQLModel, table=True):
    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("lecture_id", "user_id", name="uq_checkin_lecture_user"),
        Index("ix_checkin_at", "at", postgresql_include=["lecture_id", "user_id", "unit_id"]),
    )

    id: int | None = Field(default=None, primary_key=True)
    lecture_id: int = Field(foreign_key="lecture.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True, ondelete="SET NULL")
    method: CheckInMethod
    by_user_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    at: datetime = at_now()
    detail: dict[str, Any] = json_value()
