"""Participation report JSON API (/api/v1/reports/…) and the request parsing the dashboard pages share.

Scope: admins see everything; a unit admin sees their own unit's subtree only. Choosing a unit (``unit``)
narrows every figure to that unit's subtree and lists its child units (drill-down).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.errors import Forbidden, Invalid, NotFound
from server.ids import parse_id
from server.models.people import Unit
from server.openapi import api_operation
from server.pagination import page_number
from server.permissions import Access, Actor, manages_unit, scope_prefix
from server.routes.base import actor_of, route
from server.rules.participation import DEFINITIONS, REPORT_TZ, Period, resolve_period
from server.services import reports
from server.services.reports import RecordFilter, Window

PER_PAGE = 50


@dataclass(frozen=True)
class ReportRequest:
    actor: Actor
    period: Period
    window: Window
    unit: Unit | None  # the unit whose subtree is shown (None: everything, admins only)
    query: dict[str, str]  # the normalised selector, for links

    @property
    def parent_path(self) -> str:
        return self.unit.path if self.unit else "/"

    @property
    def scope_name(self) -> str:
        return self.unit.name if self.unit else "全部单位"


def _date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise Invalid("日期格式应为 YYYY-MM-DD", fields={"date": "日期格式不正确"}) from None


def _int(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    parsed = parse_id(raw)
    if parsed is None:
        raise Invalid("链接中的编号无效", fields={name: "应为数字"})
    return parsed


async def report_request(request: Request) -> ReportRequest:
    actor = await actor_of(request)
    qp = request.query_params
    kind = qp.get("period") or "month"
    try:
        period = resolve_period(kind, datetime.now(REPORT_TZ).date(), _date(qp.get("from")), _date(qp.get("to")))
    except ValueError as exc:
        raise Invalid(str(exc), fields={"period": str(exc)}) from None
    unit_id = _int(qp.get("unit"), "unit")
    unit: Unit | None = None
    async with request.app.state.runtime.sessions() as db:
        if unit_id is not None:
            unit = await db.get(Unit, unit_id)
            if unit is None:
                raise NotFound("单位不存在")
        elif not actor.is_admin and actor.unit_path:
            unit = (await db.exec(select(Unit).where(Unit.path == actor.unit_path))).first()
    prefix = scope_prefix(actor)
    if unit is not None and not manages_unit(actor, unit.path):
        raise Forbidden("只能查看本单位及下级单位的数据")
    if unit is None and prefix is not None:
        raise Forbidden("只能查看本单位及下级单位的数据")
    query = {"period": period.kind.value, "from": period.first_day.isoformat(), "to": period.last_day.isoformat()}
    if unit is not None:
        query["unit"] = str(unit.id)
    return ReportRequest(actor, period, Window.of(period, unit.path if unit else None), unit, query)


def record_filter(request: Request) -> RecordFilter:
    qp = request.query_params
    mode = qp.get("mode") if qp.get("mode") in ("online", "offline") else None
    return RecordFilter(lecture_id=_int(qp.get("lecture"), "lecture"), own_unit_id=_int(qp.get("own"), "own"),
                        user_id=_int(qp.get("user"), "user"), mode=mode)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "phone"}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(REPORT_TZ).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _meta(rr: ReportRequest) -> dict[str, Any]:
    return {"period": {"kind": rr.period.kind.value, "from": rr.period.first_day.isoformat(),
                       "to": rr.period.last_day.isoformat(), "label": rr.period.label},
            "scope": {"unit_id": rr.unit.id if rr.unit else None, "name": rr.scope_name}}


async def summary(request: Request) -> Response:
    rr = await report_request(request)
    async with request.app.state.runtime.sessions() as db:
        t = await reports.totals(db, rr.window)
    body = {**_meta(rr), "totals": {**t.__dict__, "participation_rate": t.participation_rate},
            "definitions": dict(DEFINITIONS)}
    return JSONResponse(body)


async def units(request: Request) -> Response:
    rr = await report_request(request)
    async with request.app.state.runtime.sessions() as db:
        rows = await reports.by_unit(db, rr.window, parent_id=rr.unit.id if rr.unit else None,
                                     parent_path=rr.parent_path)
    return JSONResponse({**_meta(rr), "units": jsonable(rows)})


async def lectures(request: Request) -> Response:
    rr = await report_request(request)
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        rows, total = await reports.by_lecture(db, rr.window, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return JSONResponse({**_meta(rr), "lectures": jsonable(rows), "total": total, "page": page})


async def lecturers(request: Request) -> Response:
    rr = await report_request(request)
    async with request.app.state.runtime.sessions() as db:
        rows = await reports.by_lecturer(db, rr.window)
    return JSONResponse({**_meta(rr), "lecturers": jsonable(rows)})


async def series(request: Request) -> Response:
    rr = await report_request(request)
    async with request.app.state.runtime.sessions() as db:
        rows = await reports.by_series(db, rr.window)
    return JSONResponse({**_meta(rr), "series": jsonable(rows)})


async def trend(request: Request) -> Response:
    rr = await report_request(request)
    async with request.app.state.runtime.sessions() as db:
        rows = await reports.trend(db, rr.window, rr.period.bucket)
    return JSONResponse({**_meta(rr), "bucket": rr.period.bucket.value, "trend": jsonable(rows)})


async def records(request: Request) -> Response:
    rr = await report_request(request)
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        rows, total = await reports.records(db, rr.window, record_filter(request), limit=PER_PAGE,
                                            offset=(page - 1) * PER_PAGE)
    return JSONResponse({**_meta(rr), "records": jsonable(rows), "total": total, "page": page})


class ReportQuery(BaseModel):
    period: str = Field("month", description="week | month | year | custom")
    from_: date | None = Field(None, alias="from", description="自定义周期开始日期")
    to: date | None = Field(None, description="自定义周期结束日期（含）")
    unit: int | None = Field(None, description="只看该单位及其下级单位")


class RecordQuery(ReportQuery):
    lecture: int | None = None
    own: int | None = Field(None, description="只看直属该单位（不含下级）的记录")
    user: int | None = None
    mode: str | None = None
    page: int = 1


_OPS = [
    ("summary", summary, "参与情况总览：人次（线上/现场）、人数、场次、参与率与口径", ReportQuery),
    ("units", units, "按单位统计（含下级单位汇总，可逐级下钻）", ReportQuery),
    ("lectures", lectures, "按讲座统计：人次与完成率", ReportQuery),
    ("lecturers", lecturers, "按讲师统计", ReportQuery),
    ("series", series, "按系列统计", ReportQuery),
    ("trend", trend, "按日/周/月的趋势", ReportQuery),
    ("records", records, "达标记录明细（可追溯到人）", RecordQuery),
]
for _name, _, _summary, _query in _OPS:
    api_operation(f"/api/v1/reports/{_name}", "GET", _summary, query=_query, tags=["统计"])

routes = [route(f"/api/v1/reports/{name}", endpoint, access=Access.unit_admin, name=f"api_reports_{name}")
          for name, endpoint, _, _ in _OPS]
