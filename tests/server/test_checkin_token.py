from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.rules.checkin_token import (
    PASS_TTL_S,
    WINDOW_S,
    TokenState,
    WindowState,
    check_pass,
    check_token,
    checkin_window,
    expires_in_s,
    make_pass,
    make_token,
)

KEY = "k" * 40
T0 = 1_800_000_000.0  # a window boundary: 1.8e9 is a multiple of 15


def test_token_valid_in_its_window_and_the_next_only() -> None:
    token = make_token(KEY, 7, T0 + 3)
    assert check_token(KEY, 7, token, T0 + 3) is TokenState.ok
    assert check_token(KEY, 7, token, T0 + WINDOW_S + 14) is TokenState.ok  # previous window still accepted
    assert check_token(KEY, 7, token, T0 + 2 * WINDOW_S) is TokenState.expired  # a forwarded photo, 30 s later


def test_token_is_a_room_code_any_user_can_use_it_within_the_window() -> None:
    token = make_token(KEY, 7, T0)
    assert [check_token(KEY, 7, token, T0 + s) for s in (1, 5, 20)] == [TokenState.ok] * 3


def test_forged_or_foreign_tokens_are_invalid() -> None:
    token = make_token(KEY, 7, T0)
    window, sig = token.split(".")
    assert check_token(KEY, 8, token, T0) is TokenState.invalid  # another lecture
    assert check_token("x" * 40, 7, token, T0) is TokenState.invalid  # another key
    assert check_token(KEY, 7, f"{int(window) + 1}.{sig}", T0 + WINDOW_S) is TokenState.invalid
    assert check_token(KEY, 7, f"{window}.{sig[:-1]}A", T0) is TokenState.invalid
    for junk in ("", ".", "abc", f"{window}.", "-1.abc", "1" * 100):
        assert check_token(KEY, 7, junk, T0) is TokenState.invalid


def test_future_window_refused() -> None:
    assert check_token(KEY, 7, make_token(KEY, 7, T0 + WINDOW_S), T0) is TokenState.invalid


def test_expires_in_counts_down_to_the_next_window() -> None:
    assert expires_in_s(T0) == WINDOW_S
    assert expires_in_s(T0 + 14.2) == 1


def test_scan_pass_lasts_for_sign_in_then_expires() -> None:
    value = make_pass(KEY, 7, T0)
    assert check_pass(KEY, 7, value, T0 + PASS_TTL_S - 1)
    assert not check_pass(KEY, 7, value, T0 + PASS_TTL_S)
    assert not check_pass(KEY, 8, value, T0)
    assert not check_pass(KEY, 7, None, T0)
    assert not check_pass(KEY, 7, value.replace(".", "9.", 1), T0)


def test_checkin_window_offsets_from_start_and_end() -> None:
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    window = checkin_window(starts_at=start, ends_at=start + timedelta(hours=2), opens_min=30, closes_min=15)
    assert window is not None
    assert window.state(start - timedelta(minutes=31)) is WindowState.not_yet
    assert window.state(start - timedelta(minutes=30)) is WindowState.open
    assert window.state(start + timedelta(hours=2, minutes=15)) is WindowState.open
    assert window.state(start + timedelta(hours=2, minutes=16)) is WindowState.closed


def test_checkin_window_without_times() -> None:
    assert checkin_window(starts_at=None, ends_at=None, opens_min=30, closes_min=30) is None
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    window = checkin_window(starts_at=start, ends_at=None, opens_min=0, closes_min=10)
    assert window is not None and window.closes_at == start + timedelta(minutes=10)
