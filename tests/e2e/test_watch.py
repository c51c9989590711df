"""A worker watches a real HLS lecture in Debian Chromium; the server credits exactly what was played."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
import uvicorn
from playwright.async_api import Page, Route, async_playwright

from server import keys
from server.accept import UVICORN_LOOP
from server.app import create_app
from server.auth import SESSION_COOKIE
from server.db import transaction
from server.embedded import free_port, wait_until
from server.models.attendance import WatchProgress
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.media import Media, MediaState
from server.models.people import Role, WebSession
from server.runtime import Runtime
from server.security import new_token, token_digest
from server.settings import Settings
from server.storage import Storage
from tests.factories import make_user

pytestmark = pytest.mark.e2e

DURATION_S = 80
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4"}
MASTER = ('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n'
          '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=426x240,CODECS="avc1.4d401e,mp4a.40.2"\n240p/index.m3u8\n')


@pytest.fixture(scope="module")
def hls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-rung fMP4 HLS ladder of a generated 80 s lecture (240p test pattern and a tone)."""
    import imageio_ffmpeg

    out = tmp_path_factory.mktemp("hls")
    (out / "240p").mkdir()
    subprocess.run([
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "lavfi", "-i", f"testsrc2=size=426x240:rate=25:duration={DURATION_S}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={DURATION_S}",
        "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "main", "-pix_fmt", "yuv420p",
        "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-ac", "2",
        "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
        "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "240p/seg_%05d.m4s", "240p/index.m3u8",
    ], cwd=out, check=True, timeout=120)
    (out / "master.m3u8").write_text(MASTER)
    return out


async def _publish(runtime: Runtime, storage: Storage, hls_dir: Path) -> Lecture:
    async with transaction(runtime.sessions) as db:
        lecture = Lecture(title="大国工匠的质量之道", kind=LectureKind.online, status=LectureStatus.published,
                          published_at=utcnow())
        db.add(lecture)
        await db.flush()
        media = Media(lecture_id=lecture.id, source_key="uploads/e2e/source", state=MediaState.ready, playable=True,
                      attempt=1, duration_s=DURATION_S, width=426, height=240, ready_at=utcnow(),
                      renditions=[{"name": "240p", "width": 426, "height": 240, "bitrate": 300000}])
        media.published_prefix = keys.attempt_prefix(media.id, 1)
        db.add(media)
        await db.flush()
        lecture.current_media_id = media.id
    files = await anyio.to_thread.run_sync(lambda: sorted(p for p in hls_dir.rglob("*") if p.is_file()))
    for path in files:
        key = keys.media_key(media.published_prefix, path.relative_to(hls_dir).as_posix())
        await anyio.to_thread.run_sync(lambda p=path, k=key: storage.put_file(
            k, p, CONTENT_TYPES.get(p.suffix, "application/octet-stream")))
    return lecture


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           loop=UVICORN_LOOP, http="httptools"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "uvicorn")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Viewer:
    page: Page
    user_id: int
    lecture: Lecture


@pytest.fixture
async def viewer(runtime: Runtime, storage: Storage, hls_dir: Path, server_url: str) -> AsyncIterator[Viewer]:
    user = await make_user(runtime, Role.worker, name="李师傅")
    lecture = await _publish(runtime, storage, hls_dir)
    token = new_token()
    async with transaction(runtime.sessions) as db:  # signed in as the worker (a real server-side session)
        db.add(WebSession(token_hash=token_digest(token), user_id=user.id, expires_at=utcnow() + timedelta(days=1)))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=server_url)
        await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": server_url}])
        page = await context.new_page()
        await page.goto(f"/lectures/{lecture.id}")
        await page.wait_for_selector("[data-player] video", state="attached")
        yield Viewer(page, user.id, lecture)
        await browser.close()


async def _progress(runtime: Runtime, viewer: Viewer) -> WatchProgress | None:
    async with runtime.sessions() as db:
        return await db.get(WatchProgress, (viewer.user_id, viewer.lecture.id))


async def _until_credited(runtime: Runtime, viewer: Viewer, at_least: float, timeout_s: float) -> WatchProgress:
    with anyio.fail_after(timeout_s):
        while True:
            progress = await _progress(runtime, viewer)
            if progress is not None and progress.watched_s >= at_least:
                return progress
            await anyio.sleep(0.5)


async def _play(page: Page, rate: float = 1.0) -> None:
    await page.evaluate("""(rate) => { const v = document.querySelector('[data-player] video');
        v.muted = true; v.playbackRate = rate; return v.play(); }""", rate)


async def _reach(page: Page, position_s: float, timeout_s: float) -> None:
    await page.wait_for_function(f"document.querySelector('[data-player] video').currentTime >= {position_s}",
                                 timeout=timeout_s * 1000, polling=250)


async def test_credit_matches_playing_and_skips_the_seek(viewer: Viewer, runtime: Runtime) -> None:
    page = viewer.page
    await _play(page)
    await _reach(page, 20, 45)
    await page.evaluate(f"document.querySelector('[data-player] video').currentTime = {DURATION_S - 1}")
    await page.wait_for_function("document.querySelector('[data-player] video').ended", timeout=20_000)
    await page.close(run_before_unload=True)

    progress = await _until_credited(runtime, viewer, 17, 20)
    assert 17 <= progress.watched_s <= 24, progress.spans
    skipped = (23.0, DURATION_S - 1.5)
    assert all(end <= skipped[0] or start >= skipped[1] for start, end in progress.spans), progress.spans

    learning = await page.context.new_page()
    await learning.goto("/me/learning")
    row = learning.locator(f'[data-lecture-id="{viewer.lecture.id}"]')
    await row.wait_for()
    assert viewer.lecture.title in await row.inner_text()
    watched = float(await row.locator("[data-watched-s]").get_attribute("data-watched-s") or 0)
    assert 17 <= watched <= 24  # the last second (79–80, played after the seek) may land after the poll


async def test_dropped_network_loses_no_credit(viewer: Viewer, runtime: Runtime) -> None:
    page = viewer.page

    async def drop(route: Route) -> None:
        await route.abort("internetdisconnected")

    await _play(page, rate=2.0)  # within the lecture's max rate, so the test takes half the time
    await _reach(page, 8, 30)
    await page.route("**/api/v1/**", drop)
    await page.wait_for_timeout(30_000)  # the outage itself is what is being simulated
    during = await _progress(runtime, viewer)
    await page.unroute("**/api/v1/**", drop)
    await page.wait_for_function("document.querySelector('[data-player] video').ended", timeout=40_000)

    played = await page.evaluate("""() => { const r = document.querySelector('[data-player] video').played;
        let s = 0; for (let i = 0; i < r.length; i++) s += r.end(i) - r.start(i); return s; }""")
    progress = await _until_credited(runtime, viewer, played - 3, 40)
    assert during is not None and during.watched_s < 20  # nothing arrived while the network was down
    assert abs(progress.watched_s - played) <= 3, (progress.spans, played)
