"""Shared helpers for the upload/media tests: a lecture, and a small generated video pushed through S3."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio

from server.db import transaction
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.media import Media, Upload, UploadState
from server.models.people import User
from server.runtime import Runtime


async def make_lecture(runtime: Runtime, owner: User | None, *, title: str = "劳模精神与工匠精神",
                       status: LectureStatus = LectureStatus.published) -> Lecture:
    async with transaction(runtime.sessions) as db:
        lecture = Lecture(title=title, kind=LectureKind.online, status=status,
                          owner_id=owner.id if owner else None)
        db.add(lecture)
    return lecture


def make_video(ffmpeg: str, out: Path, *, seconds: float = 3, size: str = "640x360") -> Path:
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:d={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-shortest", str(out)], check=True, timeout=60)
    return out


async def stored_media(runtime: Runtime, lecture: Lecture, source: Path) -> Media:
    """A completed upload of ``source`` and its queued media row (as complete_upload leaves them)."""
    size = (await anyio.Path(source).stat()).st_size
    async with transaction(runtime.sessions) as db:
        upload = Upload(lecture_id=lecture.id, s3_key="", s3_upload_id="-", filename=source.name,
                        size=size, part_size=size, state=UploadState.completed)
        upload.s3_key = f"uploads/{upload.id}/source"
        runtime.storage.put_file(upload.s3_key, source)
        db.add(upload)
        await db.flush()
        media = Media(lecture_id=lecture.id, upload_id=upload.id, source_key=upload.s3_key)
        db.add(media)
    return media
