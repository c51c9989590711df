"""Ids as they arrive in links and query strings. Pure."""

from __future__ import annotations

import re

# Ids are PostgreSQL integers (≤ 2^31 − 1); nine ASCII digits always fit, so a longer number is simply unknown.
MAX_ID_DIGITS = 9
_ID = re.compile(rf"[0-9]{{1,{MAX_ID_DIGITS}}}")


def parse_id(raw: object) -> int | None:
    """The id in ``raw`` (ASCII digits only: str.isdigit() also accepts "²", which int() rejects), else None."""
    text = str(raw if raw is not None else "").strip()
    return int(text) if _ID.fullmatch(text) else None


def is_digits(text: str) -> bool:
    """ASCII digits only — str.isdigit() alone also accepts "²", which int() rejects."""
    return text.isascii() and text.isdigit()
