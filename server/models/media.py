"""Uploads (S3 multipart) and the media produced from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from server.models.base import at_now, json_value, timestamp


class UploadState(StrEnum):
    active = "active"
    completed = "completed"
    aborted = "aborted"


class MediaState(StrEnum):
    queued = "queued"
    probing = "probing"
    transcoding = "transcoding"
    publishing = "publishing"
    ready = "ready"
    failed = "failed"


MEDIA_STATE_LABELS = {
    MediaState.queued: "排队中",
    MediaState.probing: "检查文件",
    MediaState.transcoding: "转码中",
    MediaState.publishing: "发布中",
    MediaState.ready: "已就绪",
    MediaState.failed: "失败",
}


def new_id() -> str:
    return str(uuid.uuid4())


class Upload(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    lecture_id: int = Field(foreign_key="lecture.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="person.id", ondelete="SET NULL")
    s3_key: str = Field(max_length=200)
    s3_upload_id: str = Field(max_length=300)
    filename: str = Field(max_length=255)
    size: int = Field(sa_type=BigInteger)  # bytes; files reach many GiB
    content_type: str = Field(default="application/octet-stream", max_length=100)
    last_modified: int = Field(default=0, sa_type=BigInteger)  # the browser's File.lastModified (ms)
    part_size: int
    state: UploadState = Field(default=UploadState.active, index=True)
    created_at: datetime = at_now()
    completed_at: datetime | None = timestamp()


class Media(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    lecture_id: int = Field(foreign_key="lecture.id", index=True, ondelete="CASCADE")
    upload_id: str | None = Field(default=None, foreign_key="upload.id", ondelete="SET NULL")
    source_key: str = Field(max_length=200)
    state: MediaState = Field(default=MediaState.queued, index=True)
    percent: float = 0.0
    eta_s: int | None = None
    error: str | None = Field(default=None, max_length=500)
    attempt: int = 0
    playable: bool = False
    published_prefix: str | None = Field(default=None, max_length=200)
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    renditions: list[dict[str, Any]] = json_value(list)
    poster_key: str | None = Field(default=None, max_length=200)
    thumbs_key: str | None = Field(default=None, max_length=200)
    created_at: datetime = at_now()
    updated_at: datetime = at_now()
    ready_at: datetime | None = timestamp()
    # No longer the lecture's current media (replaced by a newer upload); its objects go after a grace period.
    superseded_at: datetime | None = timestamp()
    # Its objects are deleted (server/services/purge.py); the row stays for the attendance and audit that name it.
    purged_at: datetime | None = timestamp()
