from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from server.rules.credit import (
    ADVANCE_SLACK_S,
    BUCKET_SIZE,
    CLOCK_SLACK_MS,
    Beat,
    Cursor,
    Policy,
    Span,
    add_span,
    admit,
    coverage,
    is_completed,
    judge,
    merge,
    total,
)

POLICY = Policy(duration_s=600.0, max_rate=2.0)


@dataclass
class Run:
    spans: list[Span]
    credited_s: float
    anomalies: list[str]
    cursor: Cursor


def run(arrivals: list[tuple[Beat, float]], policy: Policy = POLICY, cursor: Cursor | None = None) -> Run:
    """Feed (beat, server elapsed ms) pairs through judge() as the service does."""
    cursor = cursor or Cursor()
    spans: list[Span] = []
    credited = 0.0
    anomalies: list[str] = []
    for beat, server_ms in arrivals:
        verdict = judge(cursor, beat, policy, server_elapsed_ms=server_ms)
        cursor = verdict.cursor
        if verdict.span:
            spans = add_span(spans, verdict.span, policy.duration_s)
            credited += verdict.credit_s
        if verdict.anomaly:
            anomalies.append(verdict.anomaly)
    return Run(spans, credited, anomalies, cursor)


def honest(start_s: float, seconds: int, *, every: int = 10, rate: float = 1.0, first_seq: int = 1,
           t0_ms: int = 0, lag_ms: int = 0, visible: bool = True) -> list[tuple[Beat, float]]:
    """A player that plays from start_s for ``seconds`` real seconds, beating every ``every`` s."""
    out = [(Beat(first_seq, start_s, rate, False, visible, "play", t0_ms), t0_ms + 50 + lag_ms)]
    for i, t in enumerate(range(every, seconds + 1, every), start=1):
        ms = t0_ms + t * 1000
        out.append((Beat(first_seq + i, start_s + t * rate, rate, False, visible, "tick", ms), ms + 50 + lag_ms))
    return out


def test_honest_viewing_is_credited_in_full() -> None:
    result = run(honest(0, 60))
    assert total(result.spans) == 60
    assert result.anomalies == []


def test_paused_time_earns_nothing() -> None:
    arrivals = [(Beat(1, 0, 1, True, True, "pause", 0), 10), (Beat(2, 0, 1, True, True, "tick", 30_000), 30_010)]
    assert run(arrivals).credited_s == 0


def test_double_speed_within_max_rate_is_credited() -> None:
    assert total(run(honest(0, 60, rate=2.0)).spans) == 120


def test_claimed_sixteen_times_rate_earns_nothing() -> None:
    result = run(honest(0, 30, rate=16.0))
    assert result.credited_s == 0
    assert "jump" in result.anomalies


def test_hidden_tab_credited_only_when_the_lecture_allows() -> None:
    hidden = honest(0, 60, visible=False)
    assert run(hidden).credited_s == 0
    assert total(run(hidden, Policy(duration_s=600, credit_hidden=True)).spans) == 60


def test_late_resend_of_offline_heartbeats_still_earns_credit() -> None:
    # Queued while offline: every heartbeat reaches the server ten minutes later than it was made.
    assert total(run(honest(0, 60, lag_ms=600_000)).spans) == 60


def test_client_clock_running_fast_earns_nothing_extra() -> None:
    # 20 s of client time claimed for every 10 s really passed, with the position moving to match.
    arrivals = [(Beat(1, 0, 1, False, True, "play", 0), 10)]
    arrivals += [(Beat(1 + i, 20.0 * i, 1, False, True, "tick", 20_000 * i), 10_000 * i) for i in range(1, 7)]
    result = run(arrivals)
    assert result.credited_s <= (60_000 + CLOCK_SLACK_MS) / 1000
    assert "clock_ahead" in result.anomalies


def test_positions_beyond_duration_are_ignored() -> None:
    arrivals = [*honest(0, 10), (Beat(3, 900, 1, False, True, "tick", 20_000), 20_000)]
    result = run(arrivals)
    assert result.anomalies == ["beyond_duration"]
    assert result.cursor.position_s == 10 and result.cursor.seq == 3


def test_out_of_order_sequence_is_ignored() -> None:
    first = honest(0, 30)
    result = run([*first, first[1]])
    assert result.anomalies == ["out_of_order"]
    assert total(result.spans) == 30


def test_rate_change_credits_the_step_at_the_earlier_rate() -> None:
    arrivals = [*honest(0, 10, rate=2.0), (Beat(3, 40, 1, False, True, "ratechange", 20_000), 20_010)]
    assert total(run(arrivals).spans) == 40


def test_merge_and_completion() -> None:
    assert merge([(5, 10), (0, 6), (20, 30), (30, 31), (40, 40)]) == [(0, 10), (20, 31)]
    assert add_span([(0, 10)], (5, 700), 600) == [(0, 600)]
    assert is_completed(54, 60, 0.9) and not is_completed(53.9, 60, 0.9) and not is_completed(0, 0, 0.9)
    assert coverage(30, 60) == 50.0 and coverage(1, 0) == 0.0


def test_bucket_allows_a_burst_then_one_per_second() -> None:
    tokens = BUCKET_SIZE
    for _ in range(int(BUCKET_SIZE)):
        ok, tokens = admit(tokens, 0)
        assert ok
    assert admit(tokens, 0)[0] is False
    assert admit(tokens, 1.0)[0] is True


beats = st.builds(
    Beat,
    seq=st.integers(1, 60),
    position_s=st.floats(-10, 700, allow_nan=False),
    rate=st.sampled_from([0.5, 1.0, 1.5, 2.0, 4.0, 16.0]),
    paused=st.booleans(),
    visible=st.booleans(),
    event=st.sampled_from(["tick", "play", "pause", "seek", "ratechange", "visibility", "pagehide", "ended"]),
    client_ms=st.integers(0, 400_000),
)


@st.composite
def arrivals(draw: st.DrawFn) -> list[tuple[Beat, float]]:
    items = draw(st.lists(beats, max_size=40))
    gaps = draw(st.lists(st.integers(0, 30_000), min_size=len(items), max_size=len(items)))
    out, now = [], 0.0
    for beat, gap in zip(items, gaps, strict=True):
        now += gap
        out.append((beat, now))
    return out


policies = st.builds(Policy, duration_s=st.floats(1, 600), max_rate=st.sampled_from([1.0, 1.5, 2.0, 4.0]),
                     credit_hidden=st.booleans())


@settings(max_examples=300, deadline=None)
@given(arrivals(), policies)
def test_credit_never_exceeds_duration_or_wall_time(arr: list[tuple[Beat, float]], policy: Policy) -> None:
    result = run(arr, policy)
    assert total(result.spans) <= policy.duration_s + 1e-9
    wall_ms = arr[-1][1] if arr else 0
    assert result.credited_s <= (wall_ms + CLOCK_SLACK_MS) / 1000 * policy.max_rate + 1e-6


@settings(max_examples=200, deadline=None)
@given(arrivals(), policies)
def test_replaying_heartbeats_adds_nothing(arr: list[tuple[Beat, float]], policy: Policy) -> None:
    once = run(arr, policy)
    late = (arr[-1][1] if arr else 0) + 60_000
    again = run([(beat, late) for beat, _ in arr], policy, cursor=once.cursor)
    assert again.credited_s == 0
    assert merge(once.spans + once.spans) == once.spans


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 600), st.floats(0, 60)), max_size=30), st.randoms())
def test_merge_is_order_independent(raw: list[tuple[float, float]], rnd) -> None:  # type: ignore[no-untyped-def]
    spans = [(a, a + d) for a, d in raw]
    shuffled = spans[:]
    rnd.shuffle(shuffled)
    assert merge(shuffled) == merge(spans)
    assert total(spans) <= sum(d for _, d in raw) + 1e-9


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 600), st.floats(0, 60)), max_size=12), st.floats(-5, 640), st.floats(0, 60))
def test_adding_a_span_equals_merging_it_in(raw: list[tuple[float, float]], start: float, length: float) -> None:
    spans = merge((a, a + d) for a, d in raw)
    # Watching on from the last span's end (the shortcut) and anywhere else agree with a full merge.
    for new in ((start, start + length), (spans[-1][1] - length / 2, spans[-1][1] + length) if spans else (0, 1)):
        assert add_span(spans, new, 600) == merge([*spans, (max(0.0, new[0]), min(600.0, new[1]))])


@settings(max_examples=200, deadline=None)
@given(st.integers(10, 100), st.integers(20, 400), st.integers(10, 60), st.booleans())
def test_seeking_forward_credits_nothing_skipped(played: int, skip: int, after: int, seek_event: bool) -> None:
    before = honest(0, played)
    t_ms = played * 1000 + 200
    target = played + skip
    event = "seek" if seek_event else "tick"
    jump = [(Beat(len(before) + 1, target, 1, False, True, event, t_ms), t_ms + 30)]
    rest = honest(target, after, first_seq=len(before) + 2, t0_ms=t_ms)[1:]
    result = run([*before, *jump, *rest], Policy(duration_s=target + after + 1))
    gap = (played + ADVANCE_SLACK_S, target)
    assert all(end <= gap[0] or start >= gap[1] for start, end in result.spans)
    assert total(result.spans) >= played + after - 20  # honest parts are still credited


def test_overshooting_within_slack_every_step_cannot_outrun_the_clock() -> None:
    # Each step claims a little more than the rate allows (inside the slack); credit is clipped to the clock.
    arrivals = [(Beat(1 + i, i * 3.4, 2.0, False, True, "tick", i * 1000), i * 1000 + 10) for i in range(30)]
    result = run(arrivals)
    assert result.credited_s <= 29 * 2.0 + 1e-6


def test_reusing_the_last_sequence_number_earns_nothing() -> None:
    first = run(honest(0, 20))
    again = judge(first.cursor, Beat(first.cursor.seq, 30, 1, False, True, "tick", 30_000), POLICY,
                  server_elapsed_ms=40_000)
    assert again.span is None and again.anomaly == "out_of_order"
