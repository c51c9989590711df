"""The participation dashboard page, its traceability list and its downloads (XLSX / CSV)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.errors import Invalid
from server.pagination import Page, page_number
from server.permissions import Access
from server.routes.api_reports import PER_PAGE, ReportRequest, record_filter, report_request
from server.routes.base import route
from server.rules.participation import DEFINITIONS, PERIOD_LABELS, REPORT_TZ, Bucket
from server.services import exports, reports
from server.templating import render

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOP_N = 15


# Title, then legend, then the plot: a legend under the plot collided with the x-axis labels. The grid's top
# leaves room for both at the largest font dashboard.js picks (18 px on a projector).
LAYOUT: dict[str, Any] = {
    "title": {"left": "center", "top": 0},
    "legend": {"top": 30, "type": "scroll"},
    "grid": {"containLabel": True, "left": 8, "right": 24, "top": 76, "bottom": 8},
}
BUCKET_LABEL = {Bucket.day: "%m-%d", Bucket.week: "%m-%d", Bucket.month: "%Y-%m"}


def _chart(title: str, option: dict[str, Any]) -> str:
    return json.dumps({**LAYOUT, **option, "title": {**LAYOUT["title"], "text": title}}, ensure_ascii=False)


def _bar(title: str, names: list[str], series: list[tuple[str, list[int]]], *, horizontal: bool) -> str:
    cat = {"type": "category", "data": names, "axisLabel": {"width": 110, "overflow": "truncate"}}
    val = {"type": "value", "minInterval": 1}
    return _chart(title, {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": val if horizontal else cat, "yAxis": {**cat, "inverse": True} if horizontal else val,
        "series": [{"name": n, "type": "bar", "stack": "total", "barMaxWidth": 36, "data": d} for n, d in series],
    })


def _trend_chart(rows: list[dict[str, Any]], bucket: Bucket) -> str:
    """Short dates on the axis (the period is printed above the chart) so a phone's width holds several."""
    return _chart("参与趋势", {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [r["day"].strftime(BUCKET_LABEL[bucket]) for r in rows],
                  "axisLabel": {"hideOverlap": True}},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": "线上人次", "type": "bar", "stack": "pt", "barMaxWidth": 36,
             "data": [r["online_person_times"] for r in rows]},
            {"name": "现场人次", "type": "bar", "stack": "pt", "barMaxWidth": 36,
             "data": [r["onsite_person_times"] for r in rows]},
            {"name": "人数", "type": "line", "data": [r["people"] for r in rows]},
        ],
    })


async def dashboard(request: Request) -> Response:
    rr = await report_request(request)
    w = rr.window
    async with request.app.state.runtime.sessions() as db:
        totals = await reports.totals(db, w)
        units = await reports.by_unit(db, w, parent_id=rr.unit.id if rr.unit else None, parent_path=rr.parent_path)
        lectures, lecture_total = await reports.by_lecture(db, w, limit=TOP_N)
        lecturers = await reports.by_lecturer(db, w)
        series = await reports.by_series(db, w)
        trend = await reports.trend(db, w, rr.period.bucket)
    top_units = [u for u in units if u["person_times"]][:TOP_N]
    charts = {
        "units": _bar("各单位人次", [u["name"] for u in top_units],
                      [("线上", [u["online_person_times"] for u in top_units]),
                       ("现场", [u["onsite_person_times"] for u in top_units])], horizontal=True),
        "lectures": _bar("讲座人次（前 15）", [r["title"] for r in lectures],
                         [("人次", [r["person_times"] for r in lectures])], horizontal=True),
        "trend": _trend_chart(trend, rr.period.bucket),
    }
    return await render(request, "admin/dashboard.html", {
        "rr": rr, "totals": totals, "units": units, "lectures": lectures, "lecture_total": lecture_total,
        "lecturers": lecturers[:TOP_N], "series": series[:TOP_N], "charts": charts, "definitions": DEFINITIONS,
        "period_labels": PERIOD_LABELS, "qs": urlencode(rr.query), "tz": REPORT_TZ,
        "base_qs": urlencode({k: v for k, v in rr.query.items() if k != "unit"}),
    })


async def records_page(request: Request) -> Response:
    rr = await report_request(request)
    f = record_filter(request)
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        rows, total = await reports.records(db, rr.window, f, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    filters = {k: v for k, v in request.query_params.items() if k in ("lecture", "user", "mode", "own")}
    qs = urlencode({**rr.query, **filters})
    return await render(request, "admin/dashboard_records.html", {
        "rr": rr, "page": Page(rows, page, PER_PAGE, total), "qs": qs, "filters": filters, "tz": REPORT_TZ,
        "definitions": DEFINITIONS, "methods": exports.METHOD_LABELS, "modes": exports.MODE_LABELS,
    })


def _filename(rr: ReportRequest, ext: str) -> str:
    name = f"参与统计_{rr.scope_name}_{rr.period.first_day:%Y%m%d}-{rr.period.last_day:%Y%m%d}.{ext}"
    return f"attachment; filename=\"report.{ext}\"; filename*=UTF-8''{quote(name)}"


async def export_xlsx(request: Request) -> Response:
    rr = await report_request(request)
    sessions = request.app.state.runtime.sessions
    sheets = await exports.summary_sheets(sessions, rr.window, rr.period, scope_name=rr.scope_name,
                                          parent_id=rr.unit.id if rr.unit else None, parent_path=rr.parent_path)
    body = exports.xlsx_stream(sessions, sheets, rr.window, record_filter(request))
    return StreamingResponse(body, media_type=XLSX_TYPE, headers={"Content-Disposition": _filename(rr, "xlsx")})


async def export_csv(request: Request) -> Response:
    rr = await report_request(request)
    view = request.query_params.get("view", "records")
    sessions = request.app.state.runtime.sessions
    intro = exports.preface(rr.scope_name, rr.period)
    if view == "records":
        body = exports.detail_csv(sessions, rr.window, record_filter(request), intro)
    else:
        sheets = {s.title: s for s in await exports.summary_sheets(
            sessions, rr.window, rr.period, scope_name=rr.scope_name, parent_id=rr.unit.id if rr.unit else None,
            parent_path=rr.parent_path)}
        sheet = sheets.get(exports.CSV_VIEWS.get(view, ""))
        if sheet is None:
            raise Invalid("导出类型无效")
        body = exports.csv_stream(sheet.rows, sheet.header, intro)
    headers = {"Content-Disposition": _filename(rr, "csv")}
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)


routes = [
    route("/admin/dashboard", dashboard, access=Access.unit_admin),
    route("/admin/dashboard/records", records_page, access=Access.unit_admin),
    route("/admin/dashboard/export.xlsx", export_xlsx, access=Access.unit_admin),
    route("/admin/dashboard/export.csv", export_csv, access=Access.unit_admin),
]
