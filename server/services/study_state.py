"""Each signed-in person's own study state — progress per lecture and check-ins — cached per process.

Lecture pages are shared renders with the viewer's progress and check-in filled in (server.pagecache);
reading those two per page view would cost more than the whole rest of the page, so a person's state is
read in one go and kept for TTL_S seconds (refreshed in the background after that: server.refresh_ahead).
This process forgets it at once when it writes that state
(heartbeats, opening a viewing session, check-ins); writes made by other server processes show on
this one's lecture pages at most TTL_S seconds later (credit itself is never affected: it is computed
from the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Insert, event
from sqlalchemy.orm import ORMExecuteState, Session

from server.db import direct_pool
from server.refresh_ahead import RefreshAheadCache
from server.runtime import Runtime

TTL_S = 5.0
MAX_PEOPLE = 20_000


class Progress(NamedTuple):
    """What a lecture page shows of one person's progress (the fields the watch slot reads)."""

    last_position_s: float
    watched_s: float
    duration_s: float
    completed_at: bool


class CheckedIn(NamedTuple):
    at: datetime


@dataclass(frozen=True)
class StudyState:
    progress: dict[int, Progress]
    checkins: dict[int, CheckedIn]


# How long a person's state may still be shown while its background refresh is failing.
STALE_S = 60.0
_states: RefreshAheadCache[tuple[str, int], StudyState] = RefreshAheadCache(stale_s=STALE_S, max_entries=MAX_PEOPLE)

# Read on the direct connections (server.db.DirectPool), prepared: a person's state is re-read every TTL_S
# while they browse, and through the ORM each read cost a millisecond of this process's CPU.
_PROGRESS = ("SELECT lecture_id, last_position_s, watched_s, duration_s, completed_at IS NOT NULL "
             "FROM watch_progress WHERE user_id = %(u)s")
_CHECKINS = "SELECT lecture_id, at FROM checkin WHERE user_id = %(u)s"


async def of(runtime: Runtime, user_id: int) -> StudyState:
    async def read() -> tuple[StudyState, float]:
        params = {"u": user_id}
        async with direct_pool(runtime.engine).connection() as conn:
            progress = {r[0]: Progress(*r[1:]) for r in await (await conn.execute(_PROGRESS, params, prepare=True))
                        .fetchall()}
            checkins = {r[0]: CheckedIn(r[1]) for r in await (await conn.execute(_CHECKINS, params, prepare=True))
                        .fetchall()}
        return StudyState(progress, checkins), TTL_S

    return await _states.get(_key(runtime, user_id), read)


def forget(runtime: Runtime, user_id: int) -> None:
    _states.forget(_key(runtime, user_id))


def _key(runtime: Runtime, user_id: int) -> tuple[str, int]:
    return runtime.settings.database_url or "", user_id


@event.listens_for(Session, "do_orm_execute")
def _forget_on_checkin(state: ORMExecuteState) -> Any:
    # Check-ins are written with a Core INSERT through a session; who checked in is in its parameters,
    # which vary in shape, so everyone is forgotten (check-ins are rare next to page views).
    statement = state.statement
    if isinstance(statement, Insert) and getattr(statement.table, "name", "") == "checkin":
        _states.forget_all()
        state.session.info["jt_checkin_written"] = True
    return None


@event.listens_for(Session, "after_commit")
def _forget_after_checkin_commit(session: Session) -> None:
    # Again after commit: a refresh that read between the insert and the commit must not keep the old state.
    if session.info.pop("jt_checkin_written", False):
        _states.forget_all()
