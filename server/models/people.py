"""Member units (a tree), people and their roles, web sessions, login throttling and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from server.models.base import at_now, json_value, text_list, timestamp


class Role(StrEnum):
    worker = "worker"
    lecturer = "lecturer"
    unit_admin = "unit_admin"
    admin = "admin"


ROLE_LABELS = {Role.worker: "职工", Role.lecturer: "讲师", Role.unit_admin: "单位管理员", Role.admin: "管理员"}


class Unit(SQLModel, table=True):
    """A member unit. ``path`` is the materialised ancestry ("/1/4/9/") so subtree queries are one LIKE."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    path: str = Field(default="/", max_length=1000, index=True)
    sort: int = 0
    created_at: datetime = at_now()


class User(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (
        Index("ix_person_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    phone: str | None = Field(default=None, max_length=20, unique=True)
    employee_no: str | None = Field(default=None, max_length=40, unique=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    roles: list[str] = text_list()
    password_hash: str | None = None
    must_change_password: bool = True
    is_active: bool = True
    created_at: datetime = at_now()
    last_login_at: datetime | None = timestamp()

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles


class WebSession(SQLModel, table=True):
    """A server-side login session; the cookie carries a random token whose SHA-256 is the key."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="person.id", index=True, ondelete="CASCADE")
    created_at: datetime = at_now()
    expires_at: datetime = timestamp(nullable=False)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class LoginThrottle(SQLModel, table=True):
    """Failed-login counters per key ("user:138…" or "ip:1.2.3.4"), shared by all server processes."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    window_started_at: datetime = at_now()
    locked_until: datetime | None = timestamp()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", text("at DESC")),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id", index=True, ondelete="SET NULL")
    action: str = Field(max_length=60)
    target_type: str = Field(max_length=40)
    target_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] = json_value()
    after: dict[str, Any] = json_value()
    ip: str | None = Field(default=None, max_length=64)
    at: datetime = at_now()
