"""The expert-lecturer roster and the course catalogue (series and lectures)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from server.models.base import at_now, text_list, timestamp


class LecturerCategory(StrEnum):
    theory = "theory"
    pioneer = "pioneer"
    model_worker = "model_worker"


CATEGORY_LABELS = {
    LecturerCategory.theory: "理论骨干",
    LecturerCategory.pioneer: "行业先锋",
    LecturerCategory.model_worker: "劳模代表",
}


class LectureKind(StrEnum):
    online = "online"
    offline = "offline"


class LectureStatus(StrEnum):
    draft = "draft"
    review = "review"
    published = "published"
    archived = "archived"


STATUS_LABELS = {
    LectureStatus.draft: "草稿",
    LectureStatus.review: "待审核",
    LectureStatus.published: "已发布",
    LectureStatus.archived: "已归档",
}


class VenueType(StrEnum):
    workshop = "workshop"
    park = "park"
    campus = "campus"
    other = "other"


VENUE_LABELS = {VenueType.workshop: "车间", VenueType.park: "园区", VenueType.campus: "校园", VenueType.other: "其他"}


def _trgm(name: str, column: str) -> Index:
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


class Lecturer(SQLModel, table=True):
    __table_args__ = (_trgm("ix_lecturer_search_trgm", "search_text"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    category: LecturerCategory = Field(index=True)
    honours: list[str] = text_list()
    work_unit: str = Field(default="", max_length=120)
    bio: str = Field(default="", max_length=5000)
    topics: list[str] = text_list()
    photo_key: str | None = Field(default=None, max_length=200)
    user_id: int | None = Field(default=None, foreign_key="person.id", unique=True, ondelete="SET NULL")
    search_text: str = Field(default="", max_length=20000)
    created_at: datetime = at_now()
    updated_at: datetime = at_now()


class Series(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=100, unique=True)
    description: str = Field(default="", max_length=5000)
    cover_key: str | None = Field(default=None, max_length=200)
    sort: int = 0
    featured: bool = False
    created_at: datetime = at_now()


class Lecture(SQLModel, table=True):
    __table_args__ = (
        _trgm("ix_lecture_search_trgm", "search_text"),
        Index("ix_lecture_status_published", "status", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=150)
    summary: str = Field(default="", max_length=5000)
    series_id: int | None = Field(default=None, foreign_key="series.id", index=True, ondelete="SET NULL")
    kind: LectureKind = LectureKind.online
    status: LectureStatus = Field(default=LectureStatus.draft, index=True)
    tags: list[str] = text_list()
    cover_key: str | None = Field(default=None, max_length=200)
    venue_type: VenueType | None = None
    address: str = Field(default="", max_length=200)
    starts_at: datetime | None = timestamp(index=True)
    ends_at: datetime | None = timestamp()
    capacity: int | None = None
    target_unit_ids: list[int] = Field(default_factory=list, sa_type=ARRAY(Integer), nullable=False)
    completion_ratio: float = Field(default=0.9, ge=0.1, le=1.0)
    max_rate: float = Field(default=2.0, ge=1.0, le=4.0)
    credit_hidden: bool = False
    checkin_opens_min: int = 30
    checkin_closes_min: int = 30
    current_media_id: str | None = Field(default=None, max_length=36)
    owner_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    search_text: str = Field(default="", max_length=20000)
    created_at: datetime = at_now()
    updated_at: datetime = at_now()
    published_at: datetime | None = timestamp()


class LectureLecturer(SQLModel, table=True):
    __tablename__ = "lecture_lecturer"
    __table_args__ = (UniqueConstraint("lecture_id", "lecturer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    lecture_id: int = Field(foreign_key="lecture.id", index=True, ondelete="CASCADE")
    lecturer_id: int = Field(foreign_key="lecturer.id", index=True, ondelete="CASCADE")
    position: int = 0


class LectureTransition(SQLModel, table=True):
    """Who moved a lecture through the workflow, and when (先审后发 is auditable)."""

    __tablename__ = "lecture_transition"

    id: int | None = Field(default=None, primary_key=True)
    lecture_id: int = Field(foreign_key="lecture.id", index=True, ondelete="CASCADE")
    from_status: LectureStatus
    to_status: LectureStatus
    by_user_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    note: str = Field(default="", max_length=500)
    at: datetime = at_now()
