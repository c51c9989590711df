"""Shared set-up for the attendance tests: a playable lecture, sessions, heartbeats, time travel."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from server.db import transaction
from server.models.attendance import WatchProgress
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.media import Media, MediaState
from server.runtime import Runtime


async def online_lecture(runtime: Runtime, *, duration_s: float = 600.0, max_rate: float = 2.0,
                         credit_hidden: bool = False, ready: bool = True) -> Lecture:
    async with transaction(runtime.sessions) as db:
        lecture = Lecture(title="新时代劳模精神专题讲座", kind=LectureKind.online, status=LectureStatus.published,
                          published_at=utcnow(), max_rate=max_rate, credit_hidden=credit_hidden)
        db.add(lecture)
        await db.flush()
        media = Media(lecture_id=lecture.id, source_key=f"uploads/{lecture.id}/source",
                      state=MediaState.ready if ready else MediaState.transcoding, playable=ready,
                      duration_s=duration_s if ready else None, published_prefix=f"media/{lecture.id}/")
        db.add(media)
        await db.flush()
        lecture.current_media_id = media.id
    return lecture


async def open_session(client: httpx.AsyncClient, lecture_id: int) -> dict[str, Any]:
    response = await client.post(f"/api/v1/lectures/{lecture_id}/viewing-sessions", json={})
    assert response.status_code == 201, response.text
    return response.json()


async def backdate(runtime: Runtime, session_id: str, seconds: float) -> None:
    """Pretend the session was opened ``seconds`` earlier (real time passing, without waiting)."""
    async with transaction(runtime.sessions) as db:
        await db.exec(text("UPDATE viewing_session SET opened_at = opened_at - make_interval(secs => :s) "
                           "WHERE id = :id").bindparams(s=seconds, id=session_id))


def beat(session: dict[str, Any], seq: int, position_s: float, client_ms: int, *, rate: float = 1.0,
         paused: bool = False, visible: bool = True, event: str = "tick") -> dict[str, Any]:
    return {"token": session["token"], "seq": seq, "position_s": position_s, "rate": rate, "paused": paused,
            "visible": visible, "event": event, "client_elapsed_ms": client_ms}


async def send(client: httpx.AsyncClient, session: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/v1/viewing-sessions/{session['session_id']}/heartbeats", json=body)


async def play(client: httpx.AsyncClient, session: dict[str, Any], *, start_s: float, seconds: int,
               first_seq: int = 1, t0_ms: int = 0, rate: float = 1.0, every: int = 10) -> int:
    """Report honest playback from start_s for ``seconds``; returns the next sequence number."""
    seq = first_seq
    for t in range(0, seconds + 1, every):
        event = "play" if t == 0 else "tick"
        response = await send(client, session, beat(session, seq, start_s + t * rate, t0_ms + t * 1000,
                                                    rate=rate, event=event))
        assert response.status_code == 200, response.text
        seq += 1
    return seq


async def progress_of(runtime: Runtime, user_id: int, lecture_id: int) -> WatchProgress:
    async with runtime.sessions() as db:
        row = await db.get(WatchProgress, (user_id, lecture_id))
    assert row is not None
    return row
