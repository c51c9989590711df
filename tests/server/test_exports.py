"""Participation exports: the workbook's sheets and definitions, CSV that Excel opens as Chinese, formula
injection escaped, unit admins limited to their subtree, and responses that stream."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
from openpyxl import load_workbook
from sqlalchemy import text
from starlette.applications import Starlette

from server.db import transaction
from server.models.attendance import CheckIn, CheckInMethod
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.people import Role, User
from server.rules.participation import DEFINITIONS
from server.runtime import Runtime
from server.services.exports import CSV_VIEWS, FORMULA_START, RECORD_HEADER, safe_cell
from tests.factories import make_unit, make_user, sign_in
from tests.server.test_reports import PERIOD, at, build_world

SHEETS = ["口径说明", "总览", "按单位", "按讲座", "按讲师", "按系列", "趋势", "明细"]
HOSTILE = ["=1+2", "+86 13900000000", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd"]


def workbook(response: httpx.Response) -> dict[str, list[tuple[Any, ...]]]:
    assert response.status_code == 200, response.text[:300]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_formula_starts_are_escaped_and_other_values_kept() -> None:
    for value in HOSTILE:
        assert safe_cell(value) == "'" + value
    assert set(FORMULA_START) == {v[0] for v in HOSTILE}
    assert [safe_cell(v) for v in ("张伟", "a=b", -5, 2.5, None)] == ["张伟", "a=b", -5, 2.5, None]
    assert safe_cell(datetime(2026, 3, 1, 2, 30, tzinfo=UTC)) == "2026-03-01 10:30:00"  # Beijing time


async def test_workbook_has_a_sheet_per_view_and_the_definitions(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["admin"])
    sheets = workbook(await client.get(f"/admin/dashboard/export.xlsx?{PERIOD}"))
    assert list(sheets) == SHEETS
    definitions = {r[0]: r[1] for r in sheets["口径说明"][1:]}
    assert definitions["统计范围"] == "全部单位" and "2026-03-01 至 2026-03-31" in definitions["统计周期"]
    assert all(definitions[term] == meaning for term, meaning in DEFINITIONS)

    api = {name: (await client.get(f"/api/v1/reports/{name}?{PERIOD}")).json() for name in
           ("units", "lectures", "lecturers", "series", "trend")}
    units, lectures = api["units"]["units"], api["lectures"]["lectures"]
    assert [r[:2] for r in sheets["按单位"][1:]] == [(u["name"], u["person_times"]) for u in units]
    assert {(r[0], r[2]) for r in sheets["按讲座"][1:]} == {(r["title"], r["person_times"]) for r in lectures}
    for sheet, view in (("按讲师", "lecturers"), ("按系列", "series")):
        assert [r[:2] for r in sheets[sheet][1:]] == [(r["name"], r["person_times"]) for r in api[view][view]]
    assert len(sheets["趋势"]) - 1 == len(api["trend"]["trend"]) == 31  # every day of March, quiet ones too
    assert sheets["明细"][0] == tuple(RECORD_HEADER) and len(sheets["明细"]) - 1 == len(world.qualifying())


async def test_csv_opens_as_chinese_for_every_view(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["admin"])
    rows = csv_rows(await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view=records"))
    assert rows[0] == ["统计范围", "全部单位"] and [r[0] for r in rows[2:2 + len(DEFINITIONS)]] == [
        term for term, _ in DEFINITIONS]
    header = rows.index(RECORD_HEADER)
    assert {r[0] for r in rows[header + 1:]} >= {"张伟", "刘洋", "调动者"}
    assert len(rows) - header - 1 == len(world.qualifying())
    for view, title in CSV_VIEWS.items():
        table = csv_rows(await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view={view}"))
        assert table[0] == ["统计范围", "全部单位"], (view, title)
    overview = csv_rows(await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view=summary"))
    assert ["人次", str(len(world.qualifying()))] in overview
    assert (await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view=nonsense")).status_code == 422


async def test_hostile_cells_are_escaped_in_both_formats(runtime: Runtime, client: httpx.AsyncClient) -> None:
    unit = await make_unit(runtime, "=HYPERLINK(\"http://evil\")")
    admin = await make_user(runtime, Role.admin)
    async with transaction(runtime.sessions) as db:
        lecture = Lecture(title="+劳模进车间", kind=LectureKind.offline, status=LectureStatus.published,
                          starts_at=at(10), ends_at=at(10, 12))
        people = [User(name=name, employee_no=f"-{i}", unit_id=unit.id, roles=[Role.worker.value])
                  for i, name in enumerate(HOSTILE)]
        db.add_all([lecture, *people])
        await db.flush()
        db.add_all([CheckIn(lecture_id=lecture.id or 0, user_id=p.id or 0, unit_id=unit.id,
                            method=CheckInMethod.qr, at=at(10, 9)) for p in people])
    await sign_in(client, runtime, admin)
    sheets = workbook(await client.get(f"/admin/dashboard/export.xlsx?{PERIOD}"))
    records = csv_rows(await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view=records"))
    cells = [c for rows in sheets.values() for row in rows for c in row if isinstance(c, str)]
    cells += [c for row in records for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    # XML keeps no bare CR: a workbook reads "\r" back as "\n".
    assert {"'" + name.replace("\r", "\n") for name in HOSTILE} <= {r[0] for r in sheets["明细"][1:]}
    assert {"'" + name for name in HOSTILE} <= {r[0] for r in records if r}
    assert (sheets["明细"][1][3], sheets["明细"][1][1]) == ("'+劳模进车间", "'-0")


async def test_unit_admin_exports_only_their_subtree(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await sign_in(client, runtime, world.people["ua"])
    mine = world.qualifying(world.units["a"].path)
    names = {u.id: u.name for u in world.people.values()}
    sheets = workbook(await client.get(f"/admin/dashboard/export.xlsx?{PERIOD}"))
    assert dict(r[:2] for r in sheets["口径说明"][1:])["统计范围"] == "机械局工会"
    assert sorted(r[0] for r in sheets["明细"][1:]) == sorted(safe_cell(names[r[1]]) for r in mine)
    assert {r[0] for r in sheets["按单位"][1:]} == {"机械局工会（本级）", "第一车间"}
    records = csv_rows(await client.get(f"/admin/dashboard/export.csv?{PERIOD}&view=records"))
    header = records.index(RECORD_HEADER)
    assert sorted(r[0] for r in records[header + 1:]) == sorted(safe_cell(names[r[1]]) for r in mine)
    assert "刘洋" not in {r[0] for r in records if r}  # 教育工会's worker
    other = world.units["b"].id
    for path in (f"/admin/dashboard/export.xlsx?{PERIOD}&unit={other}",
                 f"/admin/dashboard/export.csv?{PERIOD}&unit={other}&view=records"):
        assert (await client.get(path)).status_code == 403


async def _asgi_get(app: Starlette, client: httpx.AsyncClient, target: str) -> list[dict[str, Any]]:
    """Every ASGI message the app sends for a GET, in order (httpx's ASGI transport would join the body)."""
    path, _, query = target.partition("?")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    sent: list[dict[str, Any]] = []
    requested, done = False, anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays connected until the whole body has arrived
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return sent


async def test_exports_stream(runtime: Runtime, app: Starlette, client: httpx.AsyncClient) -> None:
    unit = await make_unit(runtime, "纺织厂工会")
    admin = await make_user(runtime, Role.admin)
    async with transaction(runtime.sessions) as db:  # 40 lectures × 30 people = 1,200 completions
        await db.exec(text(  # type: ignore[call-overload]
            "INSERT INTO lecture (title, summary, kind, status, tags, address, target_unit_ids, completion_ratio,"
            " max_rate, credit_hidden, checkin_opens_min, checkin_closes_min, search_text, created_at, updated_at,"
            " published_at) SELECT '讲座' || g, '', 'online', 'published', '{}', '', '{}', 0.9, 2, false, 30, 30,"
            " '', now(), now(), :at FROM generate_series(1, 40) g"), params={"at": at(1)})
        await db.exec(text(  # type: ignore[call-overload]
            "INSERT INTO person (name, unit_id, roles, must_change_password, is_active, created_at)"
            " SELECT '职工' || g, :unit, '{worker}', true, true, now() FROM generate_series(1, 30) g"),
            params={"unit": unit.id})
        await db.exec(text(  # type: ignore[call-overload]
            "INSERT INTO watch_progress (user_id, lecture_id, unit_id, spans, watched_s, duration_s, last_position_s,"
            " anomalies, started_at, updated_at, completed_at)"
            " SELECT p.id, l.id, p.unit_id, '[]', 1700, 1800, 1700, 0, :at, :at, :at + (l.id % 20) * interval '1 day'"
            " FROM person p CROSS JOIN lecture l WHERE p.unit_id = :unit"), params={"at": at(2), "unit": unit.id})
    await sign_in(client, runtime, admin)

    sent = await _asgi_get(app, client, f"/admin/dashboard/export.csv?{PERIOD}&view=records")
    start, *bodies = sent
    assert start["status"] == 200 and b"content-length" not in dict(start["headers"])
    chunks = [m["body"] for m in bodies if m["body"]]
    assert all(m["more_body"] for m in bodies[:-1]) and not bodies[-1]["more_body"]
    # The definitions and the header leave before a single record is read; then records follow in batches.
    assert "姓名" in chunks[0].decode("utf-8-sig") and "职工" not in chunks[0].decode("utf-8-sig")
    assert len(chunks) >= 3 and b"".join(chunks).decode("utf-8-sig").count("\n职工") == 1200

    sent = await _asgi_get(app, client, f"/admin/dashboard/export.xlsx?{PERIOD}")
    start, *bodies = sent
    assert start["status"] == 200 and b"content-length" not in dict(start["headers"])
    book = load_workbook(io.BytesIO(b"".join(m["body"] for m in bodies)), read_only=True)
    assert sum(1 for _ in book["明细"].iter_rows(values_only=True)) == 1201
