"""On-site check-in in real browsers: the projector's QR is scanned by a worker's phone, who signs in and checks in;
the projector's live counter, the participation dashboard and its Excel export all show the one check-in."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import openpyxl
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from server.db import transaction
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.people import Role
from server.rules.participation import REPORT_TZ
from server.runtime import Runtime
from tests.e2e.conftest import LiveServer, screenshot
from tests.factories import PASSWORD, make_unit, make_user

pytestmark = pytest.mark.e2e

TITLE = "劳模进车间：数控加工绝活"
WORKER = "赵红梅"
UNIT = "第一机械厂工会"
PROJECTOR_POLL_S = 15  # the projector refreshes its code and head count this often


@dataclass(frozen=True)
class Scene:
    admin_login: str
    worker_login: str
    unit_id: int
    lecture_id: int


@pytest.fixture
def scene(seed) -> Scene:
    async def build(runtime: Runtime) -> Scene:
        union = await make_unit(runtime, UNIT)
        shop = await make_unit(runtime, "二车间", union)
        admin = await make_user(runtime, Role.admin, name="管理员周敏")
        worker = await make_user(runtime, Role.worker, unit=shop, name=WORKER)
        async with transaction(runtime.sessions) as db:
            lecture = Lecture(title=TITLE, kind=LectureKind.offline, status=LectureStatus.published,
                              starts_at=utcnow() - timedelta(minutes=5), ends_at=utcnow() + timedelta(hours=1),
                              address="一号厂房二楼会议室", published_at=utcnow())
            db.add(lecture)
        return Scene(admin.phone or "", worker.phone or "", union.id or 0, lecture.id or 0)

    return seed(build)


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def worker_scans(phone: Page, qr_url: str, scene: Scene) -> None:
    phone.goto(qr_url)
    # Not signed in: the scan is remembered, the token dropped from the address, and the login comes back here.
    expect(phone).to_have_url(re.compile(rf"/login\?next=(/|%2F)checkin(/|%2F){scene.lecture_id}$"))
    phone.fill("#login", scene.worker_login)
    phone.fill("#password", PASSWORD)
    screenshot(phone, "checkin-2a-phone-login")
    phone.click("form[action='/login'] button[type=submit]")
    phone.wait_for_url(f"**/checkin/{scene.lecture_id}")
    card = phone.locator("[data-checkin-state]")
    expect(card).to_have_attribute("data-checkin-state", "confirm")
    screenshot(phone, "checkin-2b-phone-confirm")
    phone.get_by_role("button", name="确认签到").click()
    expect(card).to_have_attribute("data-checkin-state", "success")
    expect(card).to_contain_text("签到成功")
    screenshot(phone, "checkin-2c-phone-success")


def dashboard_shows_it(page: Page, base: str, scene: Scene) -> None:
    today = datetime.now(REPORT_TZ).date()  # read after the check-in, so the period surely contains it
    period = f"period=custom&from={today - timedelta(days=27)}&to={today}"
    page.emulate_media(reduced_motion="reduce")  # charts drawn at once, so the screenshots show them whole
    page.goto(f"{base}/admin/dashboard?{period}")
    expect(page.locator("[data-stat=onsite_person_times]")).to_have_text("1")
    expect(page.locator("[data-stat=online_person_times]")).to_have_text("0")
    lecture_row = page.locator("section[aria-labelledby=lectures-title] tr", has_text=TITLE)
    expect(lecture_row.locator("td.num").first).to_have_text("1")
    unit_row = page.locator(f"tr[data-unit-row='{scene.unit_id}']")  # the worker's 车间 rolls up into it
    expect(unit_row).to_contain_text(UNIT)
    expect(unit_row.locator("td.num").nth(2)).to_have_text("1")  # 人次, 线上, 现场
    for width in (1100, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function("[...document.querySelectorAll('[data-chart]')].every((el) => "
                               "el.querySelector('canvas') && el.querySelector('canvas').width > 0)")
        page.wait_for_timeout(300)  # the charts' resize runs on the next animation frame (nothing to poll)
        screenshot(page, f"checkin-4-dashboard-{width}")

    with page.expect_download() as download:
        page.click("a[data-export-xlsx]")
    # From bytes: openpyxl judges a path by its extension, and Playwright's download file has none.
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    assert "口径说明" in book.sheetnames and "明细" in book.sheetnames, book.sheetnames
    detail = [row for row in book["明细"].iter_rows(values_only=True)][1:]
    assert [(r[0], r[3], r[4], r[7]) for r in detail] == [(WORKER, TITLE, "现场", "扫码签到")], detail
    overview = dict(row for row in book["总览"].iter_rows(min_row=2, values_only=True))
    assert overview["现场人次"] == 1 and overview["人数"] == 1, overview


def test_projector_phone_dashboard_export(live_server: LiveServer, context: BrowserContext, phone: BrowserContext,
                                          scene: Scene) -> None:
    base = live_server.url
    admin = context.new_page()
    sign_in(admin, base, scene.admin_login)
    admin.goto(f"{base}/admin/lectures/{scene.lecture_id}/projector")
    counter = admin.locator("[data-projector-count]")
    expect(counter).to_have_text("已签到 0 人")
    expect(admin.locator("[data-projector-qr] img")).to_have_attribute("src", re.compile(r"^data:image/svg"))
    screenshot(admin, "checkin-1-projector")

    qr = admin.request.get(f"{base}/api/v1/lectures/{scene.lecture_id}/checkin-qr").json()
    assert qr["window"] == "open" and qr["url"].startswith(f"{base}/checkin/{scene.lecture_id}?t=")
    worker_scans(phone.new_page(), qr["url"], scene)

    expect(counter).to_have_text("已签到 1 人", timeout=(PROJECTOR_POLL_S + 5) * 1000)
    screenshot(admin, "checkin-3-projector-counted")
    dashboard_shows_it(context.new_page(), base, scene)
