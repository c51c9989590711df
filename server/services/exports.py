"""Participation exports: XLSX (a sheet per view plus 口径说明) and CSV (UTF-8 with BOM), both streamed.

Every figure comes from server.services.reports, so an export always agrees with the dashboard.
Cells that a spreadsheet would read as a formula get a leading apostrophe (CSV/formula injection).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from openpyxl import Workbook

from server.db import SessionFactory
from server.rules.participation import DEFINITIONS, REPORT_TZ, Period
from server.services import reports
from server.services.reports import RecordFilter, Window

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
METHOD_LABELS = {"qr": "扫码签到", "roster": "名单签到", "walk_in": "现场补登"}
MODE_LABELS = {"online": "线上", "offline": "现场"}
CHUNK_ROWS = 2000
CSV_VIEWS = {"definitions": "口径说明", "summary": "总览", "units": "按单位", "lectures": "按讲座",
             "lecturers": "按讲师", "series": "按系列", "trend": "趋势"}


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, datetime):
        return value.astimezone(REPORT_TZ).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Sheet:
    title: str
    header: list[str]
    rows: list[list[Any]]


RECORD_HEADER = ["姓名", "工号", "单位（达标时）", "讲座", "方式", "达标时间", "观看秒数", "签到方式"]


def record_row(r: dict[str, Any]) -> list[Any]:
    watched = round(r["watched_s"]) if r["watched_s"] is not None else ""
    return [r["person_name"], r["employee_no"] or "", r["unit_name"] or "未归属单位", r["lecture_title"],
            MODE_LABELS[r["mode"]], r["at"], watched, METHOD_LABELS.get(r["method"] or "", "")]


async def summary_sheets(sessions: SessionFactory, w: Window, period: Period, *, scope_name: str,
                         parent_id: int | None, parent_path: str) -> list[Sheet]:
    async with sessions() as db:
        t = await reports.totals(db, w)
        units = await reports.by_unit(db, w, parent_id=parent_id, parent_path=parent_path)
        lectures, _ = await reports.by_lecture(db, w, limit=None)
        lecturers = await reports.by_lecturer(db, w)
        series = await reports.by_series(db, w)
        trend = await reports.trend(db, w, period.bucket)
    return [
        Sheet("口径说明", ["指标", "口径"], [["统计范围", scope_name], ["统计周期", period.label],
                                         *[[k, v] for k, v in DEFINITIONS]]),
        Sheet("总览", ["指标", "数值"], [["人次", t.person_times], ["线上人次", t.online_person_times],
                                     ["现场人次", t.onsite_person_times], ["人数", t.people],
                                     ["线上人数", t.online_people], ["现场人数", t.onsite_people],
                                     ["线上场次", t.online_sessions], ["线下场次", t.onsite_sessions],
                                     ["在册人数", t.members], ["参与率", _pct(t.participation_rate)]]),
        Sheet("按单位", ["单位", "人次", "线上人次", "现场人次", "人数", "在册人数", "参与率"],
              [[u["name"] + ("（本级）" if u["is_self"] else ""), u["person_times"], u["online_person_times"],
                u["onsite_person_times"], u["people"], u["members"], _pct(u["participation_rate"])] for u in units]),
        Sheet("按讲座", ["讲座", "形式", "人次", "开始观看人数", "完成人数", "完成率"],
              [[r["title"], MODE_LABELS[r["kind"]], r["person_times"], r["started"] if r["started"] is not None
                else "", r["completed"] if r["completed"] is not None else "", _pct(r["completion_rate"])]
               for r in lectures]),
        Sheet("按讲师", ["讲师", "人次", "讲座数"], [[r["name"], r["person_times"], r["lectures"]] for r in lecturers]),
        Sheet("按系列", ["系列", "人次", "讲座数"], [[r["name"], r["person_times"], r["lectures"]] for r in series]),
        Sheet("趋势", ["日期", "线上人次", "现场人次", "人数"],
              [[r["day"].isoformat(), r["online_person_times"], r["onsite_person_times"], r["people"]]
               for r in trend]),
    ]


async def _detail_rows(sessions: SessionFactory, w: Window, f: RecordFilter) -> AsyncIterator[list[Any]]:
    async with sessions() as db:
        async for r in reports.stream_records(db, w, f):
            yield record_row(r)


def _write_xlsx(path: str, sheets: list[Sheet], detail: Iterable[list[Any]]) -> None:
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title)
        ws.append(sheet.header)
        for row in sheet.rows:
            ws.append([safe_cell(v) for v in row])
    ws = book.create_sheet("明细")
    ws.append(RECORD_HEADER)
    for row in detail:
        ws.append([safe_cell(v) for v in row])
    book.save(path)


async def xlsx_stream(sessions: SessionFactory, sheets: list[Sheet], w: Window, f: RecordFilter
                      ) -> AsyncIterator[bytes]:
    """Build the workbook in a worker thread into a temp file (never in memory), then stream the file.

    Detail rows arrive from a server-side cursor and are handed to the writer thread through a
    bounded channel, so memory stays flat however many records there are.
    """
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        send, receive = anyio.create_memory_object_stream[list[list[Any]] | None](4)

        def blocking_rows() -> Iterator[list[Any]]:
            while (chunk := anyio.from_thread.run(receive.receive)) is not None:
                yield from chunk

        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, _write_xlsx, path, sheets, blocking_rows())
            chunk: list[list[Any]] = []
            async for row in _detail_rows(sessions, w, f):
                chunk.append(row)
                if len(chunk) >= CHUNK_ROWS:
                    await send.send(chunk)
                    chunk = []
            if chunk:
                await send.send(chunk)
            await send.send(None)
        async with await anyio.open_file(path, "rb") as fh:
            while block := await fh.read(256 * 1024):
                yield block
    finally:
        os.unlink(path)


def _csv_line(values: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([safe_cell(v) for v in values])
    return buf.getvalue()


def preface(scope_name: str, period: Period) -> list[list[Any]]:
    """The definitions printed above a CSV's table (a CSV has no second sheet)."""
    return [["统计范围", scope_name], ["统计周期", period.label], *[[k, v] for k, v in DEFINITIONS], []]


async def csv_stream(rows: AsyncIterator[list[Any]] | list[list[Any]], header: list[str],
                     intro: list[list[Any]]) -> AsyncIterator[bytes]:
    """UTF-8 with BOM so Excel shows Chinese correctly; rows are encoded as they arrive."""
    yield ("\ufeff" + "".join(_csv_line(r) for r in intro) + _csv_line(header)).encode()
    if isinstance(rows, list):
        yield "".join(_csv_line(r) for r in rows).encode()
        return
    lines: list[str] = []
    async for row in rows:
        lines.append(_csv_line(row))
        if len(lines) >= 500:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def detail_csv(sessions: SessionFactory, w: Window, f: RecordFilter, intro: list[list[Any]]
               ) -> AsyncIterator[bytes]:
    return csv_stream(_detail_rows(sessions, w, f), RECORD_HEADER, intro)
