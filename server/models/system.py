"""Operational records: proof that workers run jobs from the shared database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.models.base import at_now


class WorkerPing(SQLModel, table=True):
    __tablename__ = "worker_ping"

    id: int | None = Field(default=None, primary_key=True)
    requested_by: str = Field(max_length=100)
    worker: str = Field(max_length=100)
    at: datetime = at_now()
