"""The audit log of admin actions: who did what to which object, when, with before/after snapshots."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models.people import AuditEntry, User


def _jsonable(value: Any) -> Any:
    """Snapshots go into JSONB: dates become ISO strings, enums their values, sets sorted lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


async def record(db: AsyncSession, *, actor_id: int | None, action: str, target_type: str,
                 target_id: int | str | None = None, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None, ip: str | None = None) -> None:
    """Add an audit entry to the caller's transaction, so it is written if and only if the action is."""
    db.add(AuditEntry(actor_id=actor_id, action=action[:60], target_type=target_type[:40],
                      target_id=None if target_id is None else str(target_id)[:64],
                      before=_jsonable(before or {}), after=_jsonable(after or {}), ip=ip))


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for every field whose value changed, in a stable order."""
    keys = list(dict.fromkeys([*before, *after]))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


async def list_entries(db: AsyncSession, *, actor_id: int | None = None, action: str = "", page: int = 1,
                       per_page: int = 30) -> tuple[list[tuple[AuditEntry, str | None]], int]:
    """(entry, actor name) newest first, filtered by actor and action prefix, and the total count."""
    query = select(AuditEntry, User.name).outerjoin(User, User.id == AuditEntry.actor_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action[:60], autoescape=True))  # type: ignore[attr-defined]
    total = (await db.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (await db.exec(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())  # type: ignore[attr-defined,union-attr]
                          .offset((page - 1) * per_page).limit(per_page))).all()
    return [(e, n) for e, n in rows], total


async def actions(db: AsyncSession) -> list[str]:
    return list((await db.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action))).all())
