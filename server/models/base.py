"""Column helpers shared by the table modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def at_now() -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


def timestamp(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable, index=index)


def text_list() -> Any:
    return Field(default_factory=list, sa_type=ARRAY(Text), nullable=False)


def json_value(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_type=JSONB, nullable=False)
