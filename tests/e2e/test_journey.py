"""The whole journey in a real browser: an admin sets up a lecture, its lecturer uploads the recording through a
network outage, a worker finds it by pinyin on a phone and completes it, and the admin sees it in the statistics."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import openpyxl
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from server.models.people import Role
from server.runtime import Runtime
from server.settings import Settings
from tests.e2e.conftest import LiveServer, screenshot
from tests.factories import PASSWORD, make_unit, make_user
from worker.main import run_worker

pytestmark = pytest.mark.e2e

TITLE = "安全生产百日攻坚"
PINYIN_INITIALS = "aqsc"  # 安全生产 — what a worker types on a phone keyboard
LECTURER = "王建国"
WORKER = "李秀梅"
UNIT = "第一机械厂工会"
DURATION_S = 120
COMPLETION_PERCENT = 25  # 30 s of the 120 s recording, played at 2× to keep the test short
OUTAGE_S = 3.0
ACTIVE_STATES = {"queued", "probing", "transcoding", "publishing"}


@dataclass(frozen=True)
class Cast:
    admin_login: str
    lecturer_login: str
    lecturer_id: int
    worker_login: str
    unit_id: int


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The smallest part S3 allows, so the recording travels in several parts and one can fail mid-upload.
    return settings.model_copy(update={"upload_part_bytes": 5 * 1024 * 1024})


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute 320×180 talk (test pattern and tone) at a bitrate that makes it about three upload parts."""
    path = tmp_path_factory.mktemp("journey") / "安全生产讲座.mp4"
    subprocess.run([
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={DURATION_S}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={DURATION_S}",
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "900k", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(path),
    ], check=True, timeout=120)
    return path


@pytest.fixture
def portrait(tmp_path: Path) -> Path:
    path = tmp_path / "portrait.png"
    buffer = io.BytesIO()
    Image.new("RGB", (400, 500), (180, 40, 40)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def cast(seed) -> Cast:
    async def build(runtime: Runtime) -> Cast:
        unit = await make_unit(runtime, UNIT)
        admin = await make_user(runtime, Role.admin, name="管理员张华")
        lecturer = await make_user(runtime, Role.lecturer, name=LECTURER)
        worker = await make_user(runtime, Role.worker, unit=unit, name=WORKER)
        return Cast(admin.phone, lecturer.phone, lecturer.id or 0, worker.phone, unit.id or 0)

    return seed(build)


class BackgroundWorker:
    """``jiangtang worker`` in a thread while the block runs: it drains the job queue (the transcode) and stops
    when the queue is empty; leaving the block waits for it, so the database outlives it."""

    def __init__(self, settings: Settings, timeout_s: float = 180) -> None:
        self.error: BaseException | None = None
        self._settings = settings
        self._timeout_s = timeout_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(run_worker(self._settings, wait=False))
        except BaseException as exc:  # re-raised on the test's thread
            self.error = exc

    def __enter__(self) -> BackgroundWorker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(self._timeout_s)
        if self._thread.is_alive():
            raise RuntimeError("worker did not finish its jobs")
        if self.error is not None:
            raise self.error


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def admin_sets_up(page: Page, base: str, cast: Cast, portrait: Path) -> int:
    sign_in(page, base, cast.admin_login)
    page.goto(f"{base}/admin/lecturers/new")
    page.fill("#name", LECTURER)
    page.select_option("#category", "model_worker")
    page.fill("#work_unit", "第一机械厂")
    page.fill("#user_id", str(cast.lecturer_id))
    page.click("form[action='/admin/lecturers/new'] button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/lecturers/\d+\?saved=1$"))
    page.set_input_files("#photo", str(portrait))
    page.click("text=上传照片")
    expect(page.locator("img.avatar")).to_be_visible()
    screenshot(page, "journey-1a-lecturer")

    page.goto(f"{base}/admin/series")
    page.fill("#title", "安全生产系列")
    page.click("form[action='/admin/series'] button[type=submit]")
    expect(page.locator("table")).to_contain_text("安全生产系列")

    page.goto(f"{base}/admin/lectures/new")
    page.fill("#title", TITLE)
    page.fill("#summary", "班组长讲安全生产的日常功课。")
    page.select_option("#series_id", label="安全生产系列")
    page.select_option("select[name=lecturer_ids] >> nth=0", label=LECTURER)
    page.fill("#completion_ratio", str(COMPLETION_PERCENT))
    page.fill("#max_rate", "2")
    page.click("form[action='/admin/lectures/new'] button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/lectures/\d+\?saved=1$"))
    lecture_id = int(re.search(r"/admin/lectures/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    page.click("button[name=action][value=publish]")
    expect(page.locator(".page-head .badge")).to_have_class(re.compile("badge--published"))
    screenshot(page, "journey-1b-published")
    return lecture_id


def lecturer_uploads(page: Page, base: str, cast: Cast, lecture_id: int, recording: Path,
                     live: LiveServer) -> None:
    sign_in(page, base, cast.lecturer_login)
    page.goto(f"{base}/admin/lectures")
    page.click(f"a[href='/admin/lectures/{lecture_id}']")
    form = page.locator("form[data-upload]")
    expect(form).to_be_visible()

    outage: dict[str, float] = {}
    puts: list[tuple[int, str]] = []

    def flaky_s3(route: Route) -> None:
        part = int(re.search(r"partNumber=(\d+)", route.request.url).group(1))  # type: ignore[union-attr]
        if route.request.method == "PUT" and part > 1:
            started = outage.setdefault("at", time.monotonic())
            if time.monotonic() - started < OUTAGE_S:
                puts.append((part, "aborted"))
                route.abort("internetdisconnected")
                return
        puts.append((part, "sent"))
        route.continue_()

    page.route(re.compile(r"[?&]partNumber=\d+"), flaky_s3)
    form.locator("input[type=file]").set_input_files(str(recording))
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-upload-status]")).to_contain_text("上传完成", timeout=60_000)
    expect(form.locator("progress")).to_have_js_property("value", 100)
    screenshot(page, "journey-2a-uploaded")
    aborted = {p for p, what in puts if what == "aborted"}
    assert aborted, puts  # the outage happened mid-upload …
    assert aborted <= {p for p, what in puts if what == "sent"}, puts  # … and every failed part was resent

    status = page.locator("[data-media-status]")
    # Kept in sessionStorage: the status widget reloads the page once when the recording becomes playable.
    page.evaluate("""() => { const el = document.querySelector('[data-media-status]');
        const note = () => { const seen = new Set(JSON.parse(sessionStorage.getItem('seenStates') || '[]'));
            seen.add(el.dataset.state); sessionStorage.setItem('seenStates', JSON.stringify([...seen])); };
        note(); new MutationObserver(note).observe(el, { attributes: true, attributeFilter: ['data-state'] }); }""")
    with BackgroundWorker(live.settings):
        page.wait_for_function("/transcoding|publishing|ready/.test(sessionStorage.getItem('seenStates'))",
                               timeout=60_000)
        screenshot(page, "journey-2b-transcoding")
        expect(status).to_have_attribute("data-state", "ready", timeout=90_000)
    seen = set(page.evaluate("JSON.parse(sessionStorage.getItem('seenStates'))"))
    assert seen & ACTIVE_STATES, seen  # the processing progress was shown before the recording was ready
    page.goto(f"{base}/lectures/{lecture_id}")
    expect(page.locator("[data-player] video")).to_be_attached()
    screenshot(page, "journey-2c-playable")


def worker_completes(page: Page, base: str, cast: Cast, lecture_id: int) -> None:
    sign_in(page, base, cast.worker_login)
    page.goto(f"{base}/search")
    page.fill("input[name=q]", PINYIN_INITIALS)
    page.press("input[name=q]", "Enter")
    hit = page.locator(f"a[href='/lectures/{lecture_id}']").first
    expect(hit).to_be_visible()
    screenshot(page, "journey-3a-search")
    hit.click()
    video = page.locator("[data-player] video")
    expect(video).to_be_attached()
    page.select_option("select[aria-label='播放速度']", "2")
    page.evaluate("() => { const v = document.querySelector('[data-player] video'); v.muted = true; return v.play(); }")
    needed = DURATION_S * COMPLETION_PERCENT / 100 + 4
    page.wait_for_function(f"document.querySelector('[data-player] video').currentTime >= {needed}",
                           timeout=60_000, polling=250)
    assert page.evaluate("document.querySelector('[data-player] video').playbackRate") == 2
    page.evaluate("document.querySelector('[data-player] video').pause()")
    expect(page.locator("[data-player]")).to_contain_text("已完成", timeout=30_000)
    screenshot(page, "journey-3b-watched")
    page.goto(f"{base}/me/learning")
    row = page.locator(f"li[data-lecture-id='{lecture_id}']")
    expect(row).to_contain_text(TITLE)
    expect(row.locator(".badge--completed")).to_have_text("已完成")
    screenshot(page, "journey-3c-learning")


def admin_sees_statistics(page: Page, base: str, cast: Cast) -> None:
    page.goto(f"{base}/admin/dashboard")
    expect(page.locator("[data-stat=person_times]")).to_have_text("1")
    lecture_row = page.locator("section[aria-labelledby=lectures-title] tr", has_text=TITLE)
    expect(lecture_row.locator("td.num").first).to_have_text("1")
    unit_row = page.locator(f"tr[data-unit-row='{cast.unit_id}']")
    expect(unit_row).to_contain_text(UNIT)
    expect(unit_row.locator("td.num").first).to_have_text("1")
    screenshot(page, "journey-4-dashboard")
    with page.expect_download() as download:
        page.click("a[data-export-xlsx]")
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert WORKER in cells and TITLE in cells, sorted(cells)[:50]


def test_whole_journey(live_server: LiveServer, browser: Browser, context: BrowserContext, phone: BrowserContext,
                       cast: Cast, recording: Path, portrait: Path) -> None:
    base = live_server.url
    admin = context.new_page()
    lecture_id = admin_sets_up(admin, base, cast, portrait)

    lecturer_context = browser.new_context(locale="zh-CN")
    try:
        lecturer_uploads(lecturer_context.new_page(), base, cast, lecture_id, recording, live_server)
    finally:
        lecturer_context.close()

    worker_completes(phone.new_page(), base, cast, lecture_id)
    admin_sees_statistics(admin, base, cast)
