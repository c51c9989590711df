"""Demo recordings: generated lecture-like videos pushed through the real pipeline (upload → worker).

Each recording is a few slides with Chinese text (when a CJK font is installed), a small moving inset
standing in for the speaker, and speech-like audio. They are uploaded as multipart uploads and their
transcode jobs queued, so the worker started by `jiangtang serve --demo` turns them into HLS ladders.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import anyio
import structlog
from sqlalchemy import any_
from sqlmodel import col, select

from server.db import transaction
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.media import Media
from server.models.people import Role, User
from server.permissions import Actor
from server.runtime import Runtime
from server.services.upload_file import upload_local_file

log = structlog.get_logger()

SLIDE_S = 20
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
RECORDINGS = [
    ("新时代劳模精神的传承与弘扬", ["一、劳模精神的时代内涵", "二、爱岗敬业 争创一流", "三、艰苦奋斗 勇于创新"],
     ["Model Worker Spirit", "Dedication", "Innovation"]),
    ("一线班组安全生产十讲（第一讲）", ["安全生产责任制", "隐患排查四步法", "案例：车间交接班"],
     ["Workplace Safety", "Hazard Checks", "Shift Handover"]),
    ("职工法律常识：劳动合同那些事", ["劳动合同的订立", "试用期与工资", "维权途径与工会帮助"],
     ["Labour Contracts", "Probation & Pay", "Getting Help"]),
]


def cjk_font() -> tuple[str | None, bool]:
    """(font file, can render Chinese) — the first installed candidate."""
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path, "CJK" in path or "wqy" in path
    return None, False


def recording_argv(ffmpeg: str, out: Path, titles: list[str], workdir: Path, font: str | None,
                   *, seconds: int) -> list[str]:
    """Pure apart from writing the slide text files drawtext reads (no quoting of user text needed)."""
    text = []
    for i, title in enumerate(titles):
        path = workdir / f"slide{i}.txt"
        path.write_text(title, encoding="utf-8")
        start, end = i * SLIDE_S, (i + 1) * SLIDE_S
        font_arg = f"fontfile={font}:" if font else ""
        text.append(f"drawtext={font_arg}textfile={path}:fontsize=56:fontcolor=0x8B1A1A:"
                    f"x=(w-text_w)/2-120:y=h/2-60:enable='between(t,{start},{end})'")
    slides = ",".join(["drawbox=x=0:y=0:w=iw:h=90:color=0xC8102E:t=fill",
                       "drawbox=x=80:y=420:w=700:h=6:color=0xD4A017:t=fill", *text])
    speech = ("0.35*sin(2*PI*(150+50*sin(2*PI*0.7*t))*t)*(0.55+0.45*sin(2*PI*3.3*t))"
              "*gt(sin(2*PI*0.23*t)+0.5*sin(2*PI*1.1*t),-0.7)")
    return [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"color=c=0xF8F4EA:s=1280x720:r=25:d={seconds}",
            "-f", "lavfi", "-i", f"testsrc2=s=256x192:r=25:d={seconds}",
            "-f", "lavfi", "-i", f"aevalsrc='{speech}':s=48000:d={seconds}",
            "-filter_complex", f"[0:v]{slides}[bg];[bg][1:v]overlay=x='W-w-48+16*sin(t/2)':y='H-h-40'[v]",
            "-map", "[v]", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "96k", "-shortest", str(out)]


async def _lectures(runtime: Runtime, count: int) -> list[Lecture]:
    async with transaction(runtime.sessions) as db:
        with_media = select(Media.lecture_id)
        lectures = list((await db.exec(select(Lecture).where(
            Lecture.kind == LectureKind.online, col(Lecture.id).not_in(with_media))
            .order_by(col(Lecture.id)).limit(count))).all())
        for title, *_ in RECORDINGS[len(lectures):count]:
            lecture = Lecture(title=title, kind=LectureKind.online, status=LectureStatus.published,
                              summary="演示录像：由系统生成的讲座样片。", published_at=utcnow())
            db.add(lecture)
            lectures.append(lecture)
    return lectures


async def load(runtime: Runtime, *, seconds: int = 60) -> None:
    async with runtime.sessions() as db:
        admin = (await db.exec(select(User).where(any_(User.roles) == Role.admin.value)
                               .order_by(col(User.id)))).first()
    if admin is None or admin.id is None:
        return
    actor = Actor(admin.id, frozenset(admin.roles), None)
    font, chinese = cjk_font()
    ffmpeg = runtime.settings.ffmpeg_binary
    lectures = await _lectures(runtime, len(RECORDINGS))
    with tempfile.TemporaryDirectory(prefix="jiangtang-demo-") as tmp:
        work = Path(tmp)
        for index, (lecture, (_, zh, en)) in enumerate(zip(lectures, RECORDINGS, strict=False)):
            assert lecture.id is not None
            out = work / f"demo-{index + 1}.mp4"
            argv = recording_argv(ffmpeg, out, zh if chinese else en, work, font, seconds=seconds)
            await anyio.to_thread.run_sync(lambda a=argv: subprocess.run(a, check=True, timeout=300))
            media = await upload_local_file(runtime, actor=actor, lecture_id=lecture.id, path=out)
            log.info("demo_recording_queued", lecture_id=lecture.id, media_id=media.id)
