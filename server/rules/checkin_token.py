"""On-site check-in codes and the check-in window — pure functions, no I/O.

The projector shows a QR code whose token is bound to one lecture and one 15-second window. A scan is
accepted with the current or the previous window's token (so a code that changed while the phone was
focusing still works), never later: a photo forwarded to a group chat is useless half a minute on.

Signing in on the phone can take longer than that, so a valid scan is exchanged for a short-lived
*scan pass* kept in an HttpOnly cookie of that browser: forwarding the page link does not forward it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from server.ids import is_digits
from server.security import sign, verify_signature

WINDOW_S = 15
PASS_TTL_S = 15 * 60
MAX_TOKEN_CHARS = 80


class TokenState(StrEnum):
    ok = "ok"
    expired = "expired"
    invalid = "invalid"


class WindowState(StrEnum):
    not_yet = "not_yet"
    open = "open"
    closed = "closed"


def window_of(now_ts: float) -> int:
    return int(now_ts // WINDOW_S)


def expires_in_s(now_ts: float) -> int:
    """Seconds until the projector should show the next code."""
    return max(1, int((window_of(now_ts) + 1) * WINDOW_S - now_ts + 0.999))


def make_token(key: str, lecture_id: int, now_ts: float) -> str:
    window = window_of(now_ts)
    return f"{window}.{sign(key, f'checkin:{lecture_id}:{window}')}"


def check_token(key: str, lecture_id: int, token: str, now_ts: float) -> TokenState:
    window_text, _, signature = token.partition(".")
    if len(token) > MAX_TOKEN_CHARS or not is_digits(window_text) or not signature:
        return TokenState.invalid
    window = int(window_text)
    if not verify_signature(key, f"checkin:{lecture_id}:{window}", signature):
        return TokenState.invalid
    current = window_of(now_ts)
    if window > current:
        # Signed by us yet from the future: only a clock jump between servers explains it; refuse.
        return TokenState.invalid
    return TokenState.ok if window >= current - 1 else TokenState.expired


def make_pass(key: str, lecture_id: int, now_ts: float) -> str:
    expires = int(now_ts) + PASS_TTL_S
    return f"{expires}.{sign(key, f'checkin-pass:{lecture_id}:{expires}')}"


def check_pass(key: str, lecture_id: int, value: str | None, now_ts: float) -> bool:
    if not value or len(value) > MAX_TOKEN_CHARS:
        return False
    expires_text, _, signature = value.partition(".")
    if not is_digits(expires_text) or not signature:
        return False
    if not verify_signature(key, f"checkin-pass:{lecture_id}:{expires_text}", signature):
        return False
    return now_ts < int(expires_text)


@dataclass(frozen=True)
class CheckinWindow:
    opens_at: datetime
    closes_at: datetime

    def state(self, now: datetime) -> WindowState:
        if now < self.opens_at:
            return WindowState.not_yet
        return WindowState.open if now <= self.closes_at else WindowState.closed


def checkin_window(*, starts_at: datetime | None, ends_at: datetime | None, opens_min: int,
                   closes_min: int) -> CheckinWindow | None:
    """When check-in is possible: ``opens_min`` before the start until ``closes_min`` after the end.

    A lecture without a start time has no window (check-in is refused); a missing end time is taken
    as the start time, so the window still closes.
    """
    if starts_at is None:
        return None
    end = ends_at if ends_at is not None and ends_at >= starts_at else starts_at
    return CheckinWindow(starts_at - timedelta(minutes=max(0, opens_min)),
                         end + timedelta(minutes=max(0, closes_min)))
