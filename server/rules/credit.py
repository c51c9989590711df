"""Attendance credit: what one heartbeat earns, and watched spans merged into unique seconds.

Pure functions, no I/O. A heartbeat is judged against the session's previous accepted heartbeat
(the ``Cursor``): the span between the two positions is credited only if the player was playing
(and visible, unless the lecture credits hidden tabs) and the position advanced no further than the
elapsed time allows at the permitted rate. Elapsed time is what the client's monotonic clock reports,
capped by the server's wall clock since the session opened, so heartbeats queued offline and resent
late still earn their credit while invented timings earn none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

ADVANCE_SLACK_S = 1.5    # position vs. client clock sampling jitter within one step
CLOCK_SLACK_MS = 3000    # the client's clock starts after the server opened the session; request latency
BUCKET_SIZE = 20.0       # heartbeats a session may send in a burst (pause, seek, play and resends)
BUCKET_REFILL_PER_S = 1.0
MIN_SPAN_S = 0.01

Span = tuple[float, float]


# NamedTuples rather than dataclasses: several are built per heartbeat, and a frozen dataclass costs
# several times as much to construct.
class Policy(NamedTuple):
    duration_s: float
    max_rate: float = 2.0
    credit_hidden: bool = False


class Beat(NamedTuple):
    """One heartbeat as the player reported it."""

    seq: int
    position_s: float
    rate: float
    paused: bool
    visible: bool
    event: str
    client_ms: int


class Cursor(NamedTuple):
    """The session's last accepted heartbeat, against which the next one is judged."""

    seq: int = 0
    client_ms: int = 0
    position_s: float = 0.0
    rate: float = 1.0
    playing: bool = False  # playing in a way that earns credit (visible, or hidden viewing allowed)


class Verdict(NamedTuple):
    cursor: Cursor
    span: Span | None
    anomaly: str | None
    accepted: bool  # False: ignored apart from taking up its sequence number

    @property
    def credit_s(self) -> float:
        return self.span[1] - self.span[0] if self.span else 0.0


def judge(cursor: Cursor, beat: Beat, policy: Policy, *, server_elapsed_ms: float) -> Verdict:
    """What ``beat`` earns, given the previous accepted heartbeat and real time since the session opened."""
    if beat.seq <= cursor.seq:
        return Verdict(cursor, None, "out_of_order", accepted=False)
    if not (math.isfinite(beat.position_s) and 0 <= beat.position_s <= policy.duration_s + ADVANCE_SLACK_S):
        return Verdict(cursor._replace(seq=beat.seq), None, "beyond_duration", accepted=False)

    anomaly: str | None = None
    claimed = beat.client_ms
    bound = server_elapsed_ms + CLOCK_SLACK_MS
    if claimed > bound:
        anomaly, claimed = "clock_ahead", int(bound)
    if claimed < cursor.client_ms:
        anomaly, claimed = "clock_backwards", cursor.client_ms
    elapsed_s = (claimed - cursor.client_ms) / 1000

    position = min(beat.position_s, policy.duration_s)
    advance = position - cursor.position_s
    span: Span | None = None
    if cursor.playing and beat.event != "seek" and advance > 0:
        # The step was played at the earlier rate until a ratechange heartbeat reported the new one.
        allowed = elapsed_s * min(max(cursor.rate, beat.rate), policy.max_rate)
        if advance <= allowed + ADVANCE_SLACK_S:
            end = cursor.position_s + min(advance, allowed)
            span = (cursor.position_s, end) if end - cursor.position_s >= MIN_SPAN_S else None
        else:
            anomaly = anomaly or "jump"

    playing = not beat.paused and beat.event != "ended" and (beat.visible or policy.credit_hidden)
    new_cursor = Cursor(seq=beat.seq, client_ms=claimed, position_s=position, rate=beat.rate, playing=playing)
    return Verdict(new_cursor, span, anomaly, accepted=True)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping spans covering exactly the same seconds."""
    out: list[Span] = []
    for start, end in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def add_span(spans: list[Span], span: Span, duration_s: float) -> list[Span]:
    """``spans`` (merged, as this returns them) with ``span`` clipped to the lecture added."""
    start, end = max(0.0, span[0]), min(duration_s, span[1])
    if spans and spans[-1][0] <= start <= spans[-1][1]:
        # Watching on from the last span's end: nearly every heartbeat, so spare the sort.
        return [*spans[:-1], (spans[-1][0], max(spans[-1][1], end))] if end > start else spans
    return merge([*spans, (start, end)])


def total(spans: Iterable[Span]) -> float:
    return sum(end - start for start, end in merge(spans))


def coverage(watched_s: float, duration_s: float) -> float:
    """Watched share of the lecture as a percentage, 0–100."""
    return 0.0 if duration_s <= 0 else round(min(100.0, 100 * watched_s / duration_s), 1)


def is_completed(watched_s: float, duration_s: float, ratio: float) -> bool:
    return duration_s > 0 and watched_s >= ratio * duration_s - 1e-6


def admit(tokens: float, idle_s: float) -> tuple[bool, float]:
    """Token-bucket heartbeat admission: (allowed, tokens left)."""
    tokens = min(BUCKET_SIZE, tokens + max(0.0, idle_s) * BUCKET_REFILL_PER_S)
    if tokens < 1:
        return False, tokens
    return True, tokens - 1
