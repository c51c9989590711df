"""Chinese-friendly search over lecturers, series and published lectures.

Matching runs on ``search_text`` (text + pinyin + initials) with pg_trgm: substring matches for every
query word, or word similarity for typos (``q <% search_text`` uses the GIN trigram index). Ranking:
exact title > prefix/word-start > substring > fuzzy, then similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models.catalogue import Lecture, Lecturer, LectureStatus, Series
from server.pagination import Page
from server.search_text import build_search_text, normalise_query

KINDS = ("all", "lectures", "lecturers", "series")


@dataclass
class Results:
    query: str
    kind: str
    lectures: Page
    lecturers: Page
    series: list[Series]


def _match(column: Any, title: Any, query: str) -> tuple[Any, Any, Any]:
    """(where, rank, similarity) expressions for one searchable table."""
    words = query.split()
    substring = and_(*(column.contains(w, autoescape=True) for w in words))
    fuzzy = literal(query).op("<%")(column)
    rank = case(
        (func.lower(title) == query, 4),
        (or_(column.startswith(query, autoescape=True), column.contains(" " + query, autoescape=True)), 3),
        (substring, 2),
        else_=1,
    )
    return or_(substring, fuzzy), rank, func.word_similarity(query, column)


async def _ranked(db: AsyncSession, model: Any, extra: list[Any], query: str, page: int, per_page: int) -> Page:
    title = model.title if model is Lecture else model.name
    where, rank, similarity = _match(col(model.search_text), title, query)
    total = func.count().over().label("total")
    rows = (await db.exec(select(model, total).where(where, *extra)
                          .order_by(rank.desc(), similarity.desc(), col(model.id).desc())
                          .offset((page - 1) * per_page).limit(per_page))).all()
    return Page([r[0] for r in rows], page, per_page, int(rows[0][1]) if rows else 0)


def rank_series(series: list[Series], query: str) -> list[Series]:
    """Series are few: matched in Python on the same text+pinyin form, best first."""
    scored: list[tuple[int, int, Series]] = []
    for s in series:
        text = build_search_text([s.title], [s.description])
        if all(w in text for w in query.split()):
            score = 3 if s.title.lower() == query else 2 if text.startswith(query) or f" {query}" in text else 1
            scored.append((-score, s.sort, s))
    return [s for _, _, s in sorted(scored, key=lambda t: (t[0], t[1]))]


async def search(db: AsyncSession, *, q: str, kind: str, page: int, per_page: int = 20) -> Results:
    query = normalise_query(q)
    kind = kind if kind in KINDS else "all"
    empty = Page([], page, per_page, 0)
    if not query:
        return Results(query, kind, empty, empty, [])
    lectures = lecturers = empty
    series: list[Series] = []
    if kind in ("all", "lectures"):
        lectures = await _ranked(db, Lecture, [col(Lecture.status) == LectureStatus.published], query,
                                 page if kind == "lectures" else 1, per_page if kind == "lectures" else 10)
    if kind in ("all", "lecturers"):
        lecturers = await _ranked(db, Lecturer, [], query, page if kind == "lecturers" else 1,
                                  per_page if kind == "lecturers" else 6)
    if kind in ("all", "series"):
        series = rank_series(list((await db.exec(select(Series))).all()), query)
    return Results(query, kind, lectures, lecturers, series)
