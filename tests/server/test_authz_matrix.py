"""Every route × every role gets the expected status (acceptance test of the accounts issue).

HOW TO ADD A ROUTE: add one row to TABLE keyed by (method, path template exactly as declared).
The value is a tuple of six expectations, in ROLES order:
    (anonymous, worker, lecturer, unit_admin of another subtree, unit_admin of the subtree, admin)
Each expectation is an HTTP status, or OK = "the gate let it through" (any status except 401, 403
and a redirect to /login; use it for requests whose outcome depends on a body this test does not send).
Presets below cover the plain access levels. Path parameters are filled from PARAMS (objects
created in the fixture, all inside "the subtree"); give a row its own params with Row(expect, {"id": "unit"}),
and a query string with Row(expect, query="unit={unit}") (formatted with the same objects).
Requests carry no body: forms are empty, /api/ requests send JSON {}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from server.db import transaction
from server.models.attendance import CheckIn, CheckInMethod
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.people import Role
from server.routes.base import AccessRoute
from server.runtime import Runtime
from tests.factories import make_unit, make_user, sign_in

ROLES = ("anonymous", "worker", "lecturer", "unit_admin_other", "unit_admin_same", "admin")
OK = "ok"
Expect = tuple[int | str, int | str, int | str, int | str, int | str, int | str]


@dataclass(frozen=True)
class Row:
    expect: Expect
    params: dict[str, str] = field(default_factory=dict)  # path param → PARAMS key
    query: str = ""  # e.g. "unit={unit}", formatted with the fixture's objects


def _gate(anon: int, worker: int | str, lecturer: int | str, unit_admin: int | str) -> Expect:
    return (anon, worker, lecturer, unit_admin, unit_admin, OK)


PUBLIC: Expect = (OK,) * 6
BROWSE_PAGE = _gate(303, OK, OK, OK)      # anonymous browsing is off by default
BROWSE_API = _gate(401, OK, OK, OK)
SIGNED_PAGE, SIGNED_API = BROWSE_PAGE, BROWSE_API
LECTURER_PAGE, LECTURER_API = _gate(303, 403, OK, 403), _gate(401, 403, OK, 403)
UNIT_ADMIN_PAGE, UNIT_ADMIN_API = _gate(303, 403, 403, OK), _gate(401, 403, 403, OK)
ADMIN_PAGE, ADMIN_API = _gate(303, 403, 403, 403), _gate(401, 403, 403, 403)
UNSAFE = 401  # anonymous POST/PUT/PATCH/DELETE to a guarded route
UA_SCOPED_GET: Expect = (303, 403, 403, 404, 200, 200)  # object in the subtree; other unit admins must not see it
# A lecture aimed at the subtree, or the figures of a unit in it: other unit admins are refused.
UA_SCOPED_PAGE: Expect = (303, 403, 403, 403, 200, 200)
UA_SCOPED_API: Expect = (401, 403, 403, 403, 200, 200)
LECTURE = {"lecture_id": "offline_lecture"}
IN_SUBTREE = "unit={unit}"

TABLE: dict[tuple[str, str], Row | Expect] = {
    # --- accounts: sign-in, profile ---
    ("GET", "/login"): (200, 303, 303, 303, 303, 303),
    ("POST", "/login"): (401,) * 6,
    ("POST", "/logout"): (303,) * 6,
    ("POST", "/api/v1/session"): (422,) * 6,
    ("DELETE", "/api/v1/session"): (200,) * 6,
    ("GET", "/me/profile"): (303, 200, 200, 200, 200, 200),
    ("POST", "/me/profile"): (UNSAFE, 422, 422, 422, 422, 422),
    ("GET", "/me/password"): (303, 200, 200, 200, 200, 200),
    ("POST", "/me/password"): (UNSAFE, 422, 422, 422, 422, 422),
    ("GET", "/api/v1/me"): (401, 200, 200, 200, 200, 200),
    ("PATCH", "/api/v1/me"): (401, 422, 422, 422, 422, 422),
    ("POST", "/api/v1/me/password"): (401, 422, 422, 422, 422, 422),
    ("GET", "/api/v1/openapi.json"): (200,) * 6,
    # --- accounts: admin pages ---
    ("GET", "/admin"): (303, 403, 200, 200, 200, 200),
    ("GET", "/admin/people"): (303, 403, 403, 200, 200, 200),
    ("GET", "/admin/people/new"): (303, 403, 403, 200, 200, 200),
    ("POST", "/admin/people/new"): (UNSAFE, 403, 403, 422, 422, 422),
    ("GET", "/admin/people/export.xlsx"): (303, 403, 403, 200, 200, 200),
    ("POST", "/admin/people/issue-passwords"): (UNSAFE, 403, 403, 303, 303, 303),
    ("GET", "/admin/people/{id:int}"): Row(UA_SCOPED_GET, {"id": "person"}),
    ("POST", "/admin/people/{id:int}"): Row((UNSAFE, 403, 403, 404, 422, 422), {"id": "person"}),
    ("POST", "/admin/people/{id:int}/reset-password"): Row((UNSAFE, 403, 403, 404, 200, 200), {"id": "person"}),
    ("POST", "/admin/people/{id:int}/active"): Row((UNSAFE, 403, 403, 404, 303, 303), {"id": "person"}),
    ("GET", "/admin/units"): (303, 403, 403, 200, 200, 200),
    ("POST", "/admin/units"): (UNSAFE, 403, 403, 422, 422, 422),
    ("POST", "/admin/units/{id:int}/rename"): Row((UNSAFE, 403, 403, 403, 422, 422), {"id": "unit"}),
    ("POST", "/admin/units/{id:int}/move"): Row((UNSAFE, 403, 403, 422, 422, 422), {"id": "unit"}),
    ("POST", "/admin/units/{id:int}/delete"): Row((UNSAFE, 403, 403, 403, 409, 409), {"id": "unit"}),
    ("GET", "/admin/import"): (303, 403, 403, 200, 200, 200),
    ("POST", "/admin/import"): (UNSAFE, 403, 403, 422, 422, 422),
    ("POST", "/admin/import/commit"): (UNSAFE, 403, 403, 422, 422, 422),
    ("GET", "/admin/audit"): (303, 403, 403, 403, 403, 200),
    # --- accounts: JSON API ---
    ("GET", "/api/v1/people"): (401, 403, 403, 200, 200, 200),
    ("POST", "/api/v1/people"): (401, 403, 403, 422, 422, 422),
    ("GET", "/api/v1/people/{id:int}"): Row((401, 403, 403, 404, 200, 200), {"id": "person"}),
    ("PUT", "/api/v1/people/{id:int}"): Row((401, 403, 403, 422, 422, 422), {"id": "person"}),
    ("PUT", "/api/v1/people/{id:int}/active"): Row((401, 403, 403, 422, 422, 422), {"id": "person"}),
    ("POST", "/api/v1/people/{id:int}/password-reset"): Row((401, 403, 403, 404, 200, 200), {"id": "person"}),
    ("GET", "/api/v1/units"): (401, 403, 403, 200, 200, 200),
    ("POST", "/api/v1/units"): (401, 403, 403, 422, 422, 422),
    ("PATCH", "/api/v1/units/{id:int}"): Row((401, 403, 403, 403, 200, 200), {"id": "unit"}),
    ("DELETE", "/api/v1/units/{id:int}"): Row((401, 403, 403, 403, 409, 409), {"id": "unit"}),
    # --- foundation ---
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/"): BROWSE_PAGE,
    # --- other features: gate-level rows; owners, replace OK with exact statuses ---
    ("POST", "/api/v1/lectures/{lecture_id:int}/uploads"): LECTURER_API,
    ("POST", "/api/v1/uploads/{upload_id}/part-urls"): LECTURER_API,
    ("POST", "/api/v1/uploads/{upload_id}/complete"): LECTURER_API,
    ("DELETE", "/api/v1/uploads/{upload_id}"): LECTURER_API,
    ("GET", "/api/v1/lectures/{lecture_id:int}/media-status"): LECTURER_API,
    ("GET", "/media/{media_id}/master.m3u8"): BROWSE_PAGE,
    ("GET", "/media/{media_id}/thumbs.vtt"): BROWSE_PAGE,
    ("GET", "/media/{media_id}/{rendition}/index.m3u8"): BROWSE_PAGE,
    ("GET", "/admin/lectures/{id:int}/upload"): LECTURER_PAGE,
    ("GET", "/lecturers"): BROWSE_PAGE,
    ("GET", "/lecturers/{id}"): BROWSE_PAGE,
    ("GET", "/me/lecturer"): LECTURER_PAGE,
    ("POST", "/me/lecturer"): LECTURER_API,
    ("POST", "/me/lecturer/photo"): LECTURER_API,
    ("GET", "/series/{id}"): BROWSE_PAGE,
    ("GET", "/lectures/{id}"): BROWSE_PAGE,
    ("GET", "/lectures/{id}/qr.svg"): BROWSE_PAGE,
    ("GET", "/search"): BROWSE_PAGE,
    ("GET", "/images/{name}"): PUBLIC,
    ("GET", "/admin/lecturers"): ADMIN_PAGE,
    ("GET", "/admin/lecturers/new"): ADMIN_PAGE,
    ("POST", "/admin/lecturers/new"): ADMIN_API,
    ("GET", "/admin/lecturers/{id}"): ADMIN_PAGE,
    ("POST", "/admin/lecturers/{id}"): ADMIN_API,
    ("POST", "/admin/lecturers/{id}/photo"): ADMIN_API,
    ("POST", "/admin/lecturers/{id}/delete"): ADMIN_API,
    ("GET", "/admin/series"): ADMIN_PAGE,
    ("POST", "/admin/series"): ADMIN_API,
    ("GET", "/admin/series/{id}"): ADMIN_PAGE,
    ("POST", "/admin/series/{id}"): ADMIN_API,
    ("POST", "/admin/series/{id}/cover"): ADMIN_API,
    ("POST", "/admin/series/{id}/delete"): ADMIN_API,
    ("GET", "/admin/lectures"): LECTURER_PAGE,
    ("GET", "/admin/lectures/new"): LECTURER_PAGE,
    ("POST", "/admin/lectures/new"): LECTURER_API,
    ("GET", "/admin/lectures/{id}"): LECTURER_PAGE,
    ("POST", "/admin/lectures/{id}"): LECTURER_API,
    ("POST", "/admin/lectures/{id}/cover"): LECTURER_API,
    ("POST", "/admin/lectures/{id}/transition"): LECTURER_API,
    # The lecture has a check-in: lecturers who are not its authors may not delete it, admins are refused (409).
    ("POST", "/admin/lectures/{id}/delete"): Row((UNSAFE, 403, 403, 403, 403, 409), {"id": "offline_lecture"}),
    ("GET", "/admin/review"): ADMIN_PAGE,
    ("GET", "/api/v1/lecturers"): BROWSE_API,
    ("POST", "/api/v1/lecturers"): ADMIN_API,
    ("GET", "/api/v1/lecturers/{id:int}"): BROWSE_API,
    ("PUT", "/api/v1/lecturers/{id:int}"): LECTURER_API,
    ("DELETE", "/api/v1/lecturers/{id:int}"): ADMIN_API,
    ("GET", "/api/v1/series"): BROWSE_API,
    ("POST", "/api/v1/series"): ADMIN_API,
    ("GET", "/api/v1/series/{id:int}"): BROWSE_API,
    ("PUT", "/api/v1/series/{id:int}"): ADMIN_API,
    ("DELETE", "/api/v1/series/{id:int}"): ADMIN_API,
    ("GET", "/api/v1/lectures"): BROWSE_API,
    ("POST", "/api/v1/lectures"): LECTURER_API,
    ("GET", "/api/v1/lectures/{id:int}"): BROWSE_API,
    ("PUT", "/api/v1/lectures/{id:int}"): LECTURER_API,
    ("DELETE", "/api/v1/lectures/{id:int}"): Row((401, 403, 403, 403, 403, 409), {"id": "offline_lecture"}),
    ("POST", "/api/v1/lectures/{id:int}/transitions"): LECTURER_API,
    ("GET", "/api/v1/search"): BROWSE_API,
    ("POST", "/api/v1/lectures/{lecture_id:int}/viewing-sessions"): SIGNED_API,
    ("GET", "/api/v1/lectures/{lecture_id:int}/attendance/{user_id:int}"): SIGNED_API,
    ("GET", "/api/v1/lectures/{lecture_id:int}/attendance/{user_id:int}/xapi"): SIGNED_API,
    ("GET", "/me/learning"): SIGNED_PAGE,
    # --- check-in: the offline lecture is aimed at "the subtree"; the check-in is of a person in it ---
    ("GET", "/checkin/{lecture_id}"): Row((303, 200, 200, 200, 200, 200), LECTURE),  # no scan: sign in, then scan
    ("POST", "/checkin/{lecture_id}"): Row((UNSAFE, 403, 403, 403, 403, 403), LECTURE),  # no scan pass
    ("GET", "/admin/lectures/{lecture_id}/projector"): Row(UA_SCOPED_PAGE, LECTURE),
    ("GET", "/api/v1/lectures/{lecture_id:int}/checkin-qr"): Row(UA_SCOPED_API, LECTURE),
    ("GET", "/admin/lectures/{lecture_id}/checkins"): Row(UA_SCOPED_PAGE, LECTURE),
    ("POST", "/admin/lectures/{lecture_id}/checkins"): Row((UNSAFE, 403, 403, 403, 404, 404), LECTURE),  # no user_id
    # The unit admin of the subtree undoes it (303); the admin then finds it gone.
    ("POST", "/admin/lectures/{lecture_id}/checkins/{checkin_id}/undo"): Row(
        (UNSAFE, 403, 403, 403, 303, 404), {**LECTURE, "checkin_id": "checkin"}),
    ("POST", "/admin/lectures/{lecture_id}/walk-ins"): Row((UNSAFE, 403, 403, 403, 422, 422), LECTURE),
    # --- participation dashboard and reports, asked for a unit inside "the subtree" ---
    ("GET", "/admin/dashboard"): Row(UA_SCOPED_PAGE, query=IN_SUBTREE),
    ("GET", "/admin/dashboard/records"): Row(UA_SCOPED_PAGE, query=IN_SUBTREE),
    ("GET", "/admin/dashboard/export.xlsx"): Row(UA_SCOPED_PAGE, query=IN_SUBTREE),
    ("GET", "/admin/dashboard/export.csv"): Row(UA_SCOPED_PAGE, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/summary"): Row(UA_SCOPED_API, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/units"): Row(UA_SCOPED_API, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/lectures"): Row(UA_SCOPED_API, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/lecturers"): Row(UA_SCOPED_API, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/series"): Row(UA_SCOPED_API, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/trend"): Row(UA_SCOPED_API, query=IN_SUBTREE),
    ("GET", "/api/v1/reports/records"): Row(UA_SCOPED_API, query=IN_SUBTREE),
}

MISSING = "999999"  # ids the fixture does not create: allowed roles then get a 404 (counted as OK)
LAST = {("POST", "/logout"), ("DELETE", "/api/v1/session")}  # they end the caller's session


def _row(key: tuple[str, str]) -> Row:
    value = TABLE[key]
    return value if isinstance(value, Row) else Row(value)


def _fill(path: str, row: Row, objects: dict[str, str]) -> str:
    from starlette.routing import compile_path

    _, _, convertors = compile_path(path)
    for name in convertors:
        value = objects[row.params[name]] if name in row.params else MISSING
        path = path.replace("{" + name + ":int}", value).replace("{" + name + "}", value)
    return f"{path}?{row.query.format(**objects)}" if row.query else path


def _matches(expected: int | str, response: httpx.Response) -> bool:
    if expected == OK:
        to_login = response.status_code == 303 and response.headers.get("location", "").startswith("/login")
        return response.status_code not in (401, 403) and not to_login
    return response.status_code == expected


def access_routes(app: Starlette) -> list[tuple[str, str]]:
    return [(m, r.path) for r in app.routes if isinstance(r, AccessRoute) for m in sorted(r.methods - {"HEAD"})]


def test_every_route_has_a_row(app: Starlette) -> None:
    missing = [f'    ("{m}", "{p}"): …,' for m, p in access_routes(app) if (m, p) not in TABLE]
    assert not missing, ("routes without an authorisation-matrix row — add them to TABLE in "
                         "tests/server/test_authz_matrix.py:\n" + "\n".join(missing))
    stale = [k for k in TABLE if k not in set(access_routes(app))]
    assert not stale, f"TABLE rows for routes that no longer exist, remove them: {stale}"


@pytest.fixture
async def clients(runtime: Runtime, make_client) -> tuple[dict[str, httpx.AsyncClient], dict[str, str]]:  # type: ignore[no-untyped-def]
    root = await make_unit(runtime, "区总工会")
    same = await make_unit(runtime, "机械厂工会", root)
    other = await make_unit(runtime, "纺织厂工会", root)
    shop = await make_unit(runtime, "一车间", same)
    target = await make_user(runtime, Role.worker, unit=shop, name="被管理者")
    people = {
        "worker": await make_user(runtime, Role.worker, unit=same),
        "lecturer": await make_user(runtime, Role.lecturer, unit=same),
        "unit_admin_other": await make_user(runtime, Role.unit_admin, unit=other),
        "unit_admin_same": await make_user(runtime, Role.unit_admin, unit=same),
        "admin": await make_user(runtime, Role.admin, unit=root),
    }
    result: dict[str, httpx.AsyncClient] = {}
    for role in ROLES:
        client = make_client()
        if role == "anonymous":
            await client.get("/healthz")
            client.headers["X-CSRF-Token"] = client.cookies.get("jt_csrf") or ""
        else:
            await sign_in(client, runtime, people[role])
        result[role] = client
    now = utcnow()
    async with transaction(runtime.sessions) as db:
        lecture = Lecture(title="劳模进车间", kind=LectureKind.offline, status=LectureStatus.published,
                          starts_at=now, ends_at=now + timedelta(hours=1), target_unit_ids=[same.id or 0])
        db.add(lecture)
        await db.flush()
        checkin = CheckIn(lecture_id=lecture.id or 0, user_id=target.id or 0, unit_id=shop.id,
                          method=CheckInMethod.roster)
        db.add(checkin)
        await db.flush()
    return result, {"person": str(target.id), "unit": str(shop.id), "offline_lecture": str(lecture.id),
                    "checkin": str(checkin.id)}


async def test_matrix(app: Starlette, clients: tuple[dict[str, httpx.AsyncClient], dict[str, str]]) -> None:
    by_role, objects = clients
    routes = sorted((k for k in access_routes(app) if k in TABLE), key=lambda k: k in LAST)
    failures: list[str] = []
    for method, path in routes:
        row = _row((method, path))
        url = _fill(path, row, objects)
        for role, expected in zip(ROLES, row.expect, strict=True):
            kwargs: dict[str, object] = {}
            if method != "GET":
                kwargs = {"json": {}} if url.startswith("/api/") else {"data": {}}
            response = await by_role[role].request(method, url, **kwargs)  # type: ignore[arg-type]
            if not _matches(expected, response):
                failures.append(f"{method} {path} as {role}: expected {expected}, got {response.status_code}")
    assert not failures, "\n".join(failures)
