"""Dashboard figures against an independent plain-Python count over the raw rows."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from openpyxl import load_workbook

from server.db import transaction
from server.models.attendance import CheckIn, CheckInMethod, WatchProgress
from server.models.catalogue import (
    Lecture,
    LectureKind,
    LectureLecturer,
    Lecturer,
    LecturerCategory,
    LectureStatus,
    Series,
)
from server.models.people import Role, Unit, User
from server.runtime import Runtime
from tests.factories import make_unit, make_user, sign_in

PERIOD = "period=custom&from=2026-03-01&to=2026-03-31"
START = datetime(2026, 2, 28, 16, tzinfo=UTC)  # 2026-03-01 00:00 Beijing time
END = datetime(2026, 3, 31, 16, tzinfo=UTC)


@dataclass
class World:
    units: dict[str, Unit]
    people: dict[str, User]
    lectures: dict[str, Lecture]
    progress: list[WatchProgress] = field(default_factory=list)
    checkins: list[CheckIn] = field(default_factory=list)

    def qualifying(self, prefix: str | None = None) -> list[tuple[int, int, int | None, str]]:
        """(lecture, person, unit, mode) per qualifying record, computed without SQL."""
        kinds = {lec.id: lec.kind for lec in self.lectures.values()}
        paths = {u.id: u.path for u in self.units.values()}
        rows = [(p.lecture_id, p.user_id, p.unit_id, "online") for p in self.progress
                if p.completed_at and START <= p.completed_at < END and kinds[p.lecture_id] == LectureKind.online]
        rows += [(c.lecture_id, c.user_id, c.unit_id, "offline") for c in self.checkins
                 if START <= c.at < END and kinds[c.lecture_id] == LectureKind.offline]
        if prefix is not None:
            rows = [r for r in rows if r[2] is not None and paths[r[2]].startswith(prefix)]
        return rows


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC) - timedelta(hours=8)


async def build_world(runtime: Runtime) -> World:
    root = await make_unit(runtime, "市总工会")
    a = await make_unit(runtime, "机械局工会", root)
    a1 = await make_unit(runtime, "第一车间", a)
    b = await make_unit(runtime, "教育工会", root)
    units = {"root": root, "a": a, "a1": a1, "b": b}
    people = {
        "admin": await make_user(runtime, Role.admin, unit=root, name="管理员"),
        "ua": await make_user(runtime, Role.unit_admin, Role.worker, unit=a, name="机械局管理员"),
        "a_1": await make_user(runtime, unit=a, name="张伟"),
        "a_2": await make_user(runtime, unit=a, name="王芳"),
        "a1_1": await make_user(runtime, unit=a1, name="=HYPERLINK(\"x\")"),
        "a1_2": await make_user(runtime, unit=a1, name="李强"),
        "b_1": await make_user(runtime, unit=b, name="刘洋"),
        "b_2": await make_user(runtime, unit=b, name="陈静"),
        "moved": await make_user(runtime, unit=b, name="调动者"),
    }
    async with transaction(runtime.sessions) as db:
        s1 = Series(title="劳模工匠说")
        x = Lecturer(name="许振超", category=LecturerCategory.model_worker)
        y = Lecturer(name="李万君", category=LecturerCategory.pioneer)
        db.add_all([s1, x, y])
        await db.flush()
        lectures = {
            "on1": Lecture(title="工匠精神", kind=LectureKind.online, status=LectureStatus.published,
                           series_id=s1.id, published_at=at(2)),
            "on2": Lecture(title="安全生产", kind=LectureKind.online, status=LectureStatus.published,
                           published_at=at(1) - timedelta(days=40)),
            "off1": Lecture(title="劳模进车间", kind=LectureKind.offline, status=LectureStatus.published,
                            starts_at=at(10), ends_at=at(10, 12)),
            "off2": Lecture(title="劳模进校园", kind=LectureKind.offline, status=LectureStatus.published,
                            starts_at=at(20), ends_at=at(20, 12), target_unit_ids=[b.id]),
        }
        db.add_all(lectures.values())
        await db.flush()
        db.add_all([LectureLecturer(lecture_id=lectures["on1"].id, lecturer_id=x.id),
                    LectureLecturer(lecture_id=lectures["off1"].id, lecturer_id=x.id),
                    LectureLecturer(lecture_id=lectures["off1"].id, lecturer_id=y.id)])
    world = World(units, people, lectures)

    def wp(person: str, lecture: str, started: datetime, completed: datetime | None, unit: str | None = None) -> None:
        p = people[person]
        world.progress.append(WatchProgress(
            user_id=p.id, lecture_id=lectures[lecture].id, unit_id=units[unit].id if unit else p.unit_id,
            watched_s=1700.0, duration_s=1800.0, started_at=started, completed_at=completed))

    def ci(person: str, lecture: str, when: datetime, unit: str | None = None) -> None:
        p = people[person]
        world.checkins.append(CheckIn(lecture_id=lectures[lecture].id, user_id=p.id, method=CheckInMethod.qr,
                                      unit_id=units[unit].id if unit else p.unit_id, at=when))

    wp("a_1", "on1", at(3), at(3, 11))
    wp("a_1", "on2", at(4), at(5))
    wp("a_2", "on1", at(3), None)  # started, never completed
    wp("a1_1", "on1", at(1) - timedelta(days=3), at(6))  # started before the period
    wp("a1_2", "on2", at(7), at(1, 0) - timedelta(hours=1))  # completed before the period
    wp("b_1", "on1", at(8), at(31, 23))  # 23:00 Beijing on the 31st: still in the period
    wp("moved", "on2", at(9), at(9, 11), unit="a1")  # qualified while in 第一车间, since moved
    ci("a_1", "off1", at(10, 9))
    ci("a1_1", "off1", at(10, 9))
    ci("b_1", "off2", at(20, 9))
    ci("b_2", "off2", at(20, 9))
    ci("moved", "off1", at(10, 9), unit="a")
    ci("b_2", "off1", datetime(2026, 3, 31, 16, 30, tzinfo=UTC))  # 00:30 April 1st Beijing: outside
    ci("a_2", "on1", at(12))  # a check-in on an online lecture does not count
    async with transaction(runtime.sessions) as db:
        db.add_all(world.progress + world.checkins)
    return world


async def test_admin_figures_match_an_independent_count(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["admin"])
    rows = world.qualifying()
    summary = (await client.get(f"/api/v1/reports/summary?{PERIOD}")).json()
    t = summary["totals"]
    assert t["person_times"] == len(rows) == 10
    assert t["online_person_times"] == sum(r[3] == "online" for r in rows)
    assert t["onsite_person_times"] == sum(r[3] == "offline" for r in rows)
    assert t["people"] == len({r[1] for r in rows})
    assert t["members"] == len(world.people)
    assert (t["onsite_sessions"], t["online_sessions"]) == (2, 1)
    assert "人次" in summary["definitions"]

    units = (await client.get(f"/api/v1/reports/units?{PERIOD}&unit={world.units['root'].id}")).json()["units"]
    for u in units:
        expected = world.qualifying(u["path"]) if not u["is_self"] else [
            r for r in rows if r[2] == u["unit_id"]]
        assert u["person_times"] == len(expected), u["name"]
        assert u["people"] == len({r[1] for r in expected}), u["name"]

    lectures = (await client.get(f"/api/v1/reports/lectures?{PERIOD}")).json()["lectures"]
    by_id = {r["lecture_id"]: r for r in lectures}
    on1 = by_id[world.lectures["on1"].id]
    assert on1["person_times"] == 3
    assert (on1["started"], on1["completed"]) == (4, 3)
    lecturers = {r["name"]: r["person_times"] for r in (await client.get(f"/api/v1/reports/lecturers?{PERIOD}")).json()[
        "lecturers"]}
    assert lecturers == {"许振超": 3 + 3, "李万君": 3}

    records = (await client.get(f"/api/v1/reports/records?{PERIOD}&lecture={world.lectures['off1'].id}")).json()
    assert records["total"] == 3 and {r["method"] for r in records["records"]} == {"qr"}

    trend = (await client.get(f"/api/v1/reports/trend?{PERIOD}")).json()["trend"]
    assert sum(d["online_person_times"] + d["onsite_person_times"] for d in trend) == len(rows)


async def test_xlsx_export_agrees_and_escapes_formulas(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["admin"])
    response = await client.get(f"/admin/dashboard/export.xlsx?{PERIOD}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames[0] == "口径说明"
    overview = {r[0]: r[1] for r in book["总览"].iter_rows(min_row=2, values_only=True)}
    rows = world.qualifying()
    assert overview["人次"] == len(rows) and overview["人数"] == len({r[1] for r in rows})
    detail = list(book["明细"].iter_rows(min_row=2, values_only=True))
    assert len(detail) == len(rows)
    assert "'=HYPERLINK(\"x\")" in {r[0] for r in detail}

    csv = await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view=records")
    assert csv.content.startswith("\ufeff".encode())
    assert csv.text.count("劳模进车间") == 3


async def test_unit_admin_sees_only_their_subtree(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["ua"])
    t = (await client.get(f"/api/v1/reports/summary?{PERIOD}")).json()["totals"]
    mine = world.qualifying(world.units["a"].path)
    assert t["person_times"] == len(mine) == 7
    assert t["people"] == len({r[1] for r in mine})
    assert t["members"] == 5  # active people currently in 机械局 and 第一车间
    assert t["onsite_sessions"] == 1  # 劳模进校园 targets 教育工会 only
    names = {r["person_name"] for r in (await client.get(f"/api/v1/reports/records?{PERIOD}")).json()["records"]}
    assert "刘洋" not in names and "调动者" in names
    for path in (f"/api/v1/reports/summary?{PERIOD}&unit={world.units['b'].id}",
                 f"/api/v1/reports/units?{PERIOD}&unit={world.units['root'].id}"):
        assert (await client.get(path)).status_code == 403
    export = await client.get(f"/admin/dashboard/export.xlsx?{PERIOD}")
    overview = {r[0]: r[1] for r in load_workbook(io.BytesIO(export.content), read_only=True)["总览"].iter_rows(
        min_row=2, values_only=True)}
    assert overview["人次"] == len(mine)
    page = await client.get(f"/admin/dashboard?{PERIOD}")
    assert page.status_code == 200 and "data-chart" in page.text and "统计口径" in page.text


async def test_workers_cannot_read_reports(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["a_1"])
    assert (await client.get(f"/api/v1/reports/summary?{PERIOD}")).status_code == 403
    assert (await client.get(f"/admin/dashboard/export.xlsx?{PERIOD}")).status_code == 403
