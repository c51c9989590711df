from __future__ import annotations

import pytest

from server.ids import parse_id


@pytest.mark.parametrize(("raw", "expected"), [
    ("42", 42), (" 7 ", 7), (3, 3), ("999999999", 999_999_999), ("0", 0),
    ("1000000000", None), ("", None), (None, None), ("-1", None), ("1e3", None), ("²", None), ("١٢", None),
])
def test_parse_id(raw: object, expected: int | None) -> None:
    assert parse_id(raw) == expected


def test_is_digits_accepts_ascii_digits_only() -> None:
    from server.ids import is_digits
    from server.pagination import page_number

    assert is_digits("042")
    assert not is_digits("²") and not is_digits("٣") and not is_digits("") and not is_digits("-1")
    assert page_number("²") == 1
