"""Pure paging arithmetic shared by every list page and API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.ids import is_digits

MAX_PAGE = 10_000


def page_number(raw: str | None) -> int:
    """A 1-based page number from a query string; anything odd means page 1."""
    if not raw or not is_digits(raw) or len(raw) > 5:
        return 1
    return max(1, min(int(raw), MAX_PAGE))


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def window(self, radius: int = 2) -> list[int]:
        """Page numbers to show as links around the current one."""
        return list(range(max(1, self.page - radius), min(self.pages, self.page + radius) + 1))


def offset_of(page: int, per_page: int) -> int:
    return (page - 1) * per_page
