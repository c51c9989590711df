"""One person's record for a lecture as xAPI statements (video profile), for learning record stores.

Built from the raw heartbeats, so the export shows exactly what was credited and why: each credited
step is a "played" statement with its time-from/time-to, each session ends with its played segments,
and completion carries the merged unique seconds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from server.models.attendance import Heartbeat, ViewingSession
from server.rules.credit import Span, coverage, merge
from server.services.learning import AttendanceRecord

VIDEO = "https://w3id.org/xapi/video"
ADL = "http://adlnet.gov/expapi/verbs"
VERBS = {
    "initialized": f"{ADL}/initialized", "played": f"{VIDEO}/verbs/played", "paused": f"{VIDEO}/verbs/paused",
    "seeked": f"{VIDEO}/verbs/seeked", "terminated": f"{ADL}/terminated", "completed": f"{ADL}/completed",
}
VERB_LABELS = {"initialized": "开始观看", "played": "播放", "paused": "暂停", "seeked": "拖动进度",
               "terminated": "结束观看", "completed": "完成"}
_NS = uuid.UUID("5d2c8f6e-3b0a-4a57-9c8e-2f4b1f0a7e11")


def segments_text(spans: list[Span]) -> str:
    """The video profile's played-segments format: "0[.]12.5[,]30[.]40"."""
    return "[,]".join(f"{_num(a)}[.]{_num(b)}" for a, b in spans)


def _num(value: float) -> str:
    return f"{round(value, 3):g}"


def _duration(seconds: float) -> str:
    return f"PT{round(seconds, 2):g}S"


def _when(value: datetime) -> str:
    return value.isoformat()


def statements(record: AttendanceRecord, *, base_url: str) -> list[dict[str, Any]]:
    base = base_url.rstrip("/")
    actor = {"objectType": "Agent", "name": record.user.name,
             "account": {"homePage": base, "name": str(record.user.id)}}
    duration = record.progress.duration_s if record.progress else 0.0
    activity = {"objectType": "Activity", "id": f"{base}/lectures/{record.lecture.id}",
                "definition": {"type": f"{VIDEO}/activity-type/video",
                               "name": {"zh-CN": record.lecture.title}}}

    def statement(key: str, verb: str, at: datetime, session: ViewingSession, *,
                  result: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(uuid.uuid5(_NS, f"{session.id}/{key}")), "actor": actor,
            "verb": {"id": VERBS[verb], "display": {"zh-CN": VERB_LABELS[verb]}},
            "object": activity, "timestamp": _when(at),
            "context": {"registration": session.id,
                        "extensions": {f"{VIDEO}/extensions/session-id": session.id,
                                       f"{VIDEO}/extensions/length": duration}},
        }
        if result:
            out["result"] = result
        return out

    by_session: dict[str, list[Heartbeat]] = {}
    for beat in record.heartbeats:
        by_session.setdefault(beat.session_id, []).append(beat)
    out: list[dict[str, Any]] = []
    for session in record.sessions:
        out.append(statement("initialized", "initialized", session.opened_at, session))
        played: list[Span] = []
        for beat in by_session.get(session.id, []):
            ext: dict[str, Any] = {f"{VIDEO}/extensions/time": beat.position_s}
            if beat.anomaly:
                ext[f"{base}/xapi/extensions/anomaly"] = beat.anomaly
            if beat.credited_from_s is not None and beat.credited_to_s is not None:
                played.append((beat.credited_from_s, beat.credited_to_s))
                ext = {f"{VIDEO}/extensions/time-from": beat.credited_from_s,
                       f"{VIDEO}/extensions/time-to": beat.credited_to_s}
                out.append(statement(f"hb/{beat.seq}", "played", beat.received_at, session,
                                     result={"extensions": ext}))
            elif beat.event in ("pause", "seek"):
                verb = "paused" if beat.event == "pause" else "seeked"
                out.append(statement(f"hb/{beat.seq}", verb, beat.received_at, session, result={"extensions": ext}))
        if session.closed_at:
            segments = merge(played)
            out.append(statement("terminated", "terminated", session.closed_at, session, result={
                "duration": _duration(session.credited_s),
                "extensions": {f"{VIDEO}/extensions/played-segments": segments_text(segments),
                               f"{VIDEO}/extensions/progress": round(coverage(
                                   sum(b - a for a, b in segments), duration) / 100, 3)}}))
    progress = record.progress
    if progress and progress.completed_at and record.sessions:
        spans = merge((float(a), float(b)) for a, b in progress.spans)
        out.append(statement("completed", "completed", progress.completed_at, record.sessions[-1], result={
            "completion": True, "duration": _duration(progress.watched_s),
            "extensions": {f"{VIDEO}/extensions/played-segments": segments_text(spans),
                           f"{VIDEO}/extensions/progress": round(coverage(progress.watched_s, duration) / 100, 3)}}))
    return out
